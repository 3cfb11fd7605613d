package sink

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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
// to log: scheme, host and path, without user info or query (either may
// carry a credential).
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
		return nil, "", fmt.Errorf("%s URL %q: want an http:// or https:// URL", kind, safeURL(u))
	}
	if u.Host == "" {
		return nil, "", fmt.Errorf("%s URL %q: no host", kind, safeURL(u))
	}
	return u, kind + " " + safeURL(u), nil
}

// urlCredentials returns what in u may be a credential, to scrub from
// logged answers: the user info (and its Basic encoding, as the client
// sends it) and the query values.
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

func safeURL(u *url.URL) string {
	s := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return s.String()
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
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // to reuse the connection
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	err = fmt.Errorf("%s answered %s: %s", name, resp.Status, scrub(snippet, secrets))
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

// scrub makes a server's answer fit for a log line: valid UTF-8, one
// line, and without any of the secrets (a debugging receiver may echo
// the request's headers).
func scrub(b []byte, secrets []string) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	s = strings.Join(strings.Fields(s), " ")
	if !utf8.ValidString(s) || s == "" {
		return "(empty body)"
	}
	return s
}
