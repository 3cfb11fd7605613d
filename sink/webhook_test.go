package sink

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/clock"
)

// received is one request a test receiver got.
type received struct {
	header http.Header
	body   []byte
}

func receiver(t testing.TB, status func(n int, w http.ResponseWriter)) (*httptest.Server, chan received) {
	got := make(chan received, 100)
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- received{r.Header.Clone(), body}
		n++
		status(n, w)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// The receiver verifies the signature the way the README tells it to:
// HMAC-SHA256 of the raw body under the shared secret, hex, after
// "sha256=". It sees the token, the custom headers, and a versioned
// payload whose diagnoses keep their ids.
func TestWebhookSignsAndAuthenticates(t *testing.T) {
	secret := []byte("s3cr3t-hmac-key")
	srv, got := receiver(t, func(int, http.ResponseWriter) {})
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	w, err := NewWebhook(srv.URL+"/hook?key=query-credential", WebhookConfig{
		HTTPOptions: HTTPOptions{UserAgent: "mqttdiag/test", Clock: clock.NewFake(now)},
		Header:      http.Header{"X-Team": {"mqtt-oncall"}},
		Token:       "bearer-token-value",
		Secret:      secret,
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(w.String(), "query-credential") {
		t.Errorf("name %q shows the query", w.String())
	}
	if retry, err := w.Notify(context.Background(), []*Diagnosis{{ID: "a1", SignatureID: "s"}, {ID: "b2", SignatureID: "s", Count: 7}}); err != nil {
		t.Fatalf("retry=%v err=%v", retry, err)
	}
	r := <-got
	mac := hmac.New(sha256.New, secret)
	mac.Write(r.body)
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); r.header.Get("X-Mqttdiag-Signature") != want {
		t.Errorf("signature %q, want %q", r.header.Get("X-Mqttdiag-Signature"), want)
	}
	if !Verify(secret, r.body, r.header.Get(SignatureHeader)) || Verify([]byte("other"), r.body, r.header.Get(SignatureHeader)) ||
		Verify(secret, append(r.body, ' '), r.header.Get(SignatureHeader)) {
		t.Error("Verify disagrees with the signature")
	}
	for k, want := range map[string]string{"Authorization": "Bearer bearer-token-value", "X-Team": "mqtt-oncall", "Content-Type": "application/json", "User-Agent": "mqttdiag/test"} {
		if r.header.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, r.header.Get(k), want)
		}
	}
	var p WebhookPayload
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != 1 || !p.SentAt.Equal(now) || len(p.Diagnoses) != 2 || p.Diagnoses[0].ID != "a1" || p.Diagnoses[1].Count != 7 {
		t.Errorf("payload %+v", p)
	}
}

func TestWebhookClassifiesAnswers(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		retry     bool
		after     time.Duration // a *RetryAfterError with this delay
		errSubstr string
	}{
		{"accepted", 202, nil, false, 0, ""},
		{"server error", 500, nil, true, 0, "500 Internal Server Error"},
		{"unavailable with seconds", 503, map[string]string{"Retry-After": "3"}, true, 3 * time.Second, "503"},
		{"rate limited with a date", 429, map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, true, 90 * time.Second, "429"},
		{"rate limited, bad Retry-After", 429, map[string]string{"Retry-After": "soon"}, true, 0, "429"},
		{"request timeout", 408, nil, true, 0, "408"},
		{"bad request", 400, nil, false, 0, "400 Bad Request"},
		{"unauthorized", 401, nil, false, 0, "401"},
		{"redirect", 302, map[string]string{"Location": "/elsewhere"}, false, 0, "point mqttdiag at the final URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := receiver(t, func(_ int, w http.ResponseWriter) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				// A debugging receiver that echoes the request's credentials.
				io.WriteString(w, "echo: Bearer tok-123 and hmac-key-456")
			})
			w, err := NewWebhook(srv.URL, WebhookConfig{HTTPOptions: HTTPOptions{Clock: clock.NewFake(now)}, Token: "tok-123", Secret: []byte("hmac-key-456")})
			if err != nil {
				t.Fatal(err)
			}
			retry, err := w.Notify(context.Background(), []*Diagnosis{{ID: "x"}})
			if retry != tt.retry || (err == nil) != (tt.errSubstr == "") {
				t.Fatalf("retry=%v err=%v", retry, err)
			}
			if err == nil {
				return
			}
			if !strings.Contains(err.Error(), tt.errSubstr) {
				t.Errorf("error %q lacks %q", err, tt.errSubstr)
			}
			if strings.Contains(err.Error(), "tok-123") || strings.Contains(err.Error(), "hmac-key-456") {
				t.Errorf("error reveals a secret: %q", err)
			}
			var ra *RetryAfterError
			if got := errors.As(err, &ra); got != (tt.after > 0) || (got && ra.After != tt.after) {
				t.Errorf("retry-after: %v %+v, want %v", got, ra, tt.after)
			}
		})
	}
}

// A receiver that is down is worth retrying; the error does not quote
// the URL's query, where a credential may be.
func TestWebhookNetworkErrorIsRecoverable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/x?token=query-secret"
	srv.Close()
	w, err := NewWebhook(url, WebhookConfig{})
	if err != nil {
		t.Fatal(err)
	}
	retry, err := w.Notify(context.Background(), []*Diagnosis{{ID: "x"}})
	if !retry || err == nil {
		t.Fatalf("retry=%v err=%v", retry, err)
	}
	if strings.Contains(err.Error(), "query-secret") {
		t.Errorf("error reveals the query: %v", err)
	}
}

// TLS is verified: a server whose CA is not trusted fails; with its CA
// given, it works.
func TestWebhookTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	w, err := NewWebhook(srv.URL, WebhookConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Notify(context.Background(), []*Diagnosis{{ID: "x"}}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted certificate accepted: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	w, err = NewWebhook(srv.URL, WebhookConfig{HTTPOptions: HTTPOptions{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Notify(context.Background(), []*Diagnosis{{ID: "x"}}); err != nil {
		t.Errorf("with the CA: %v", err)
	}
}

func TestWebhookRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"ftp://example.org/x", "http:///nohost", "://bad"} {
		if _, err := NewWebhook(u, WebhookConfig{}); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}

// mqttdiag's clocks fit the sink's.
var (
	_ Clock = clock.Real{}
	_ Clock = (*clock.Fake)(nil)
)

// A receiver that echoes the request's headers in its error answer, with
// the token where the 512-byte quote ends, or its answer ending inside
// the token: no part of the token reaches the error.
func TestWebhookAnswerQuoteRedactsBeforeCutting(t *testing.T) {
	const token = "TOKEN-s3cr3t-abcdef0123456789"
	for _, tc := range []struct {
		name string
		body func(auth string) string
	}{
		{"straddles the cut", func(auth string) string { return strings.Repeat("x", 480) + " Authorization: " + auth + " and more" }},
		{"every offset near the cut", nil},
		{"answer ends inside it", func(auth string) string { return "echo: " + auth[:len(auth)-9] }},
	} {
		pads := []int{0}
		if tc.body == nil {
			pads = nil
			for p := 440; p <= 520; p++ {
				pads = append(pads, p)
			}
		}
		for _, pad := range pads {
			srv, _ := receiver(t, func(_ int, w http.ResponseWriter) {})
			srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusBadRequest)
				if tc.body != nil {
					io.WriteString(w, tc.body(r.Header.Get("Authorization")))
				} else {
					io.WriteString(w, strings.Repeat("x", pad)+r.Header.Get("Authorization"))
				}
			})
			w, err := NewWebhook(srv.URL, WebhookConfig{Token: token})
			if err != nil {
				t.Fatal(err)
			}
			_, err = w.Notify(context.Background(), []*Diagnosis{{ID: "x"}})
			if err == nil {
				t.Fatal("400 accepted")
			}
			for k := minPartial; k <= len(token); k++ {
				if strings.Contains(err.Error(), token[:k]) {
					t.Fatalf("%s (pad %d): the error shows %q of the token: %v", tc.name, pad, token[:k], err)
				}
			}
			if shown := tc.body != nil || pad+len("Bearer ") < snippetBytes; shown && !strings.Contains(err.Error(), "[redacted]") {
				t.Errorf("%s (pad %d): nothing redacted in %v", tc.name, pad, err)
			}
		}
	}
}

// A secret in the URL's path (a Slack-style incoming webhook) is in no
// name the sink gives itself, nor in an error about the URL, nor in a
// quoted answer that echoes the request line; two such webhooks on one
// host still have different names.
func TestSecretInURLPath(t *testing.T) {
	const secret = "xoxbSecretPart0123456789"
	srv, _ := receiver(t, func(_ int, w http.ResponseWriter) {})
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "no such hook: "+r.URL.Path)
	})
	path := "/services/T0123ABCD/B0456EFGH/" + secret
	w, err := NewWebhook(srv.URL+path, WebhookConfig{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewWebhook(srv.URL+"/services/T0123ABCD/B0456EFGH/another0123456789", WebhookConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "webhook " + srv.URL + " (path #"; !strings.HasPrefix(w.String(), want) || strings.Contains(w.String(), "T0123") {
		t.Errorf("name %q, want %q and a hash, no path", w.String(), want)
	}
	if w.String() == other.String() {
		t.Errorf("two webhooks on one host share the name %q", w.String())
	}
	_, err = w.Notify(context.Background(), []*Diagnosis{{ID: "x"}})
	if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("error about an answer that echoes the path: %v", err)
	}
	if _, err := NewWebhook("ftp://hooks.example.com"+path, WebhookConfig{}); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("error about a bad URL: %v", err)
	}
}
