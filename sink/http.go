package sink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds one HTTP request of a sink: connecting, sending
// and reading the answer.
const DefaultTimeout = 10 * time.Second

// HTTPOptions are what every HTTP sink shares.
type HTTPOptions struct {
	// Timeout bounds each request (DefaultTimeout when 0).
	Timeout time.Duration
	// RootCAs, when not nil, replaces the system's certificate pool:
	// only servers with a certificate from these CAs are trusted.
	// Verification is never turned off.
	RootCAs *x509.CertPool
	// UserAgent is sent with each request.
	UserAgent string
	// Clock stamps requests and alerts (the system clock when nil).
	Clock Clock
}

// Clock is a sink's source of time. It names only standard types, so
// mqttdiag's internal clock and a test's fake fit it.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// LoadCAFile reads a PEM file of CA certificates into a pool.
func LoadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}

// httpClient is the client of one sink: its own connection pool, TLS
// verification on (with the given roots), no redirects (a POST that is
// redirected loses its body; a URL that redirects is a configuration to
// fix), and a timeout per request.
func (o HTTPOptions) client() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.RootCAs}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (o HTTPOptions) now() time.Time {
	if o.Clock != nil {
		return o.Clock.Now()
	}
	return time.Now()
}

// parseTarget checks a sink's URL and returns it with a name that is safe
// to log and to use as a metric label (see SafeURL).
func parseTarget(kind, raw string) (*url.URL, string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the whole URL, credentials and all.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, "", fmt.Errorf("%s URL: %w", kind, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, "", fmt.Errorf("%s URL %q: want an http:// or https:// URL", kind, SafeURL(u))
	}
	if u.Host == "" {
		return nil, "", fmt.Errorf("%s URL %q: no host", kind, SafeURL(u))
	}
	return u, kind + " " + SafeURL(u), nil
}

// urlCredentials returns what in u may be a credential, to scrub from
// logged answers: the user info (and its Basic encoding, as the client
// sends it), the query values and the words of the path (chat webhooks
// carry their secret there).
func urlCredentials(u *url.URL) []string {
	var out []string
	if u.User != nil {
		out = append(out, credentialWords([]string{u.User.Username()})...)
		pw, _ := u.User.Password()
		out = append(out, pw)
		out = append(out, base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw)))
	}
	for _, vs := range u.Query() {
		out = append(out, credentialWords(vs)...)
	}
	if p := strings.Trim(u.Path, "/"); p != "" {
		out = append(out, credentialWords(append([]string{p}, strings.Split(p, "/")...))...)
	}
	return out
}

// credentialWords returns header or query values, and their words
// ("Bearer x" gives x too), that are long enough to be a credential:
// scrubbing every short word would blank the answers it is meant to keep.
func credentialWords(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, w := range append([]string{v}, strings.Fields(v)...) {
			if len(w) >= 6 {
				out = append(out, w)
			}
		}
	}
	return out
}

// SafeURL is how mqttdiag names a URL that may carry a secret, in self-logs,
// metric labels and /readyz: scheme and host, and in place of a path a short
// hash of it. User info and query are left out; a path is hashed because some
// receivers carry their secret there (Slack-style incoming webhooks,
// https://hooks.slack.com/services/T…/B…/<secret>), yet two sinks on one host
// must stay apart. The hash is 32 bits of SHA-256: enough to tell one's own
// sinks apart, far too little to recover a secret from.
func SafeURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String() + HiddenPath(u)
}

// HiddenPath is what SafeURL writes in place of u's path: nothing for an
// empty path or "/", else " (path #" and 8 hex digits of its SHA-256 ")".
func HiddenPath(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" || p == "/" {
		return ""
	}
	sum := sha256.Sum256([]byte(p))
	return " (path #" + hex.EncodeToString(sum[:4]) + ")"
}

// post sends body and classifies the outcome the way the retry loop
// needs: network errors, 408, 429 and 5xx are worth retrying (with the
// server's Retry-After when it gave one); any other status that is not
// 2xx will not change by retrying. secrets are scrubbed from the error,
// which quotes the start of the server's answer.
func post(ctx context.Context, c *http.Client, name, target string, header http.Header, body []byte, now time.Time, secrets ...string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("%s: build request: %w", name, err)
	}
	req.Header = header
	resp, err := c.Do(req)
	if err != nil {
		// The client's error names the URL, query included; name it
		// ourselves and keep the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return true, fmt.Errorf("POST to %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // to reuse the connection
		return false, nil
	}
	snippet := readSnippet(resp.Body, secrets)
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	err = fmt.Errorf("%s answered %s: %s", name, resp.Status, snippet)
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500, resp.StatusCode == http.StatusRequestTimeout:
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), now); ok {
			return true, &RetryAfterError{Err: err, After: d}
		}
		return true, err
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return false, fmt.Errorf("%w (redirect to %q: point mqttdiag at the final URL)", err, resp.Header.Get("Location"))
	default:
		return false, err
	}
}

// retryAfter parses a Retry-After value: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}

// snippetBytes is how much of a server's answer an error quotes.
const snippetBytes = 512

// readSnippet reads the start of a server's answer for an error message:
// at most snippetBytes of it, without any of the secrets (a debugging
// receiver may echo the request's headers). It reads as far past the cut
// as the longest secret reaches, and redacts before it cuts: a secret that
// straddles the cut is redacted whole, not left with its prefix showing.
func readSnippet(r io.Reader, secrets []string) string {
	longest := 0
	for _, s := range secrets {
		longest = max(longest, len(s))
	}
	want := snippetBytes + longest
	b, _ := io.ReadAll(io.LimitReader(r, int64(want)))
	return scrub(b, len(b) < want, secrets, snippetBytes)
}

// minPartial is the shortest start of a secret that scrub redacts where
// an answer stops inside a secret.
const minPartial = 4

// scrub makes the first limit bytes of a server's answer b fit for a log
// line: every secret replaced by [redacted], matched in b whole wherever
// it ends (b reaches past limit by the longest secret), and, when the
// answer ended with b, the start of a secret it stops inside; then valid
// UTF-8 and one line.
func scrub(b []byte, ended bool, secrets []string, limit int) string {
	secs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		if s != "" {
			secs = append(secs, s)
		}
	}
	// The longest first, so that "Bearer x" wins over x.
	slices.SortFunc(secs, func(a, b string) int { return len(b) - len(a) })
	end := len(b)
	if ended {
		for _, s := range secs {
			for k := min(len(s)-1, len(b)); k >= minPartial; k-- {
				if bytes.HasSuffix(b, []byte(s[:k])) {
					end = min(end, len(b)-k)
					break
				}
			}
		}
	}
	var out []byte
	i := 0
	for ; i < end && i < limit; i++ {
		n := 0
		for _, s := range secs {
			if bytes.HasPrefix(b[i:], []byte(s)) {
				n = len(s)
				break
			}
		}
		if n > 0 {
			out = append(out, "[redacted]"...)
			i += n - 1
			continue
		}
		out = append(out, b[i])
	}
	if end < len(b) && i >= end {
		out = append(out, "[redacted]"...)
	}
	s := strings.ToValidUTF8(string(out), "\uFFFD")
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "(empty body)"
	}
	return s
}
