package app

import (
	"net/url"
	"strings"

	"github.com/mqttdiag/mqttdiag/sink"
)

// Secrets never reach a log, a diagnosis or `config check` (DEVELOPERS).
// Besides the token and HMAC secret, which come from files or the
// environment, two settings may carry one inside a larger value: a URL
// (user info, query values: https://user:pw@host/?token=x) and a custom
// header ("Authorization: Bearer x"). These show what is safe of them.

const masked = "****"

// maskURL shows a URL with its password, and every query value, as ****.
// A user name alone may be a token (https://TOKEN@host): it is masked too.
// What does not parse as a URL with a scheme is shown whole only when it
// has no "@" and no "?".
func maskURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		if strings.ContainsAny(s, "@?") {
			return masked
		}
		return s
	}
	user := ""
	if u.User != nil {
		user = masked + "@"
		if _, ok := u.User.Password(); ok {
			user = u.User.Username() + ":" + masked + "@"
		}
	}
	query := ""
	if u.RawQuery != "" {
		var parts []string
		for _, kv := range strings.Split(u.RawQuery, "&") {
			k, _, _ := strings.Cut(kv, "=")
			parts = append(parts, k+"="+masked)
		}
		query = "?" + strings.Join(parts, "&")
	}
	rest := *u
	rest.User, rest.RawQuery, rest.ForceQuery, rest.Fragment, rest.RawFragment = nil, "", false, "", ""
	out := rest.String()
	if pre := u.Scheme + "://"; user != "" && strings.HasPrefix(out, pre) {
		out = pre + user + out[len(pre):]
	}
	out += query
	if u.Fragment != "" {
		out += "#" + u.EscapedFragment()
	}
	return out
}

// maskSinkURL is maskURL for a sink's URL, whose path may be its secret
// (Slack-style webhooks): the path is shown as the sink names it in logs
// and metrics, by a hash (sink.HiddenPath).
func maskSinkURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return maskURL(s)
	}
	hidden := sink.HiddenPath(u)
	u.Path, u.RawPath = "", ""
	return maskURL(u.String()) + hidden
}

// maskHeader shows a custom header as its name and ****.
func maskHeader(s string) string {
	name, _, ok := strings.Cut(s, ":")
	if !ok {
		return masked
	}
	return strings.TrimSpace(name) + ": " + masked
}

// maskSetting shows the value of setting name as it may be printed.
func maskSetting(name, v string) string {
	switch {
	case v == "":
		return v
	case secretSetting(name):
		return masked
	case name == "webhook-header":
		return maskHeader(v)
	case name == "webhook" || name == "alertmanager":
		return maskSinkURL(v)
	case strings.Contains(v, "://") || name == "alert-generator-url":
		return maskURL(v)
	}
	return v
}

// secretSetting reports whether a setting holds a secret that must never
// be printed.
func secretSetting(name string) bool {
	for _, w := range []string{"token", "secret", "password", "hmac"} {
		if strings.Contains(name, w) && !strings.HasSuffix(name, "-file") {
			return true
		}
	}
	return false
}
