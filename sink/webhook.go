package sink

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// WebhookVersion is the version of the webhook payload. It changes only
// when a change would break a receiver (a field removed or its meaning
// changed); new fields may appear within a version.
const WebhookVersion = 1

// SignatureHeader carries the HMAC-SHA256 of the raw request body under
// the shared secret, as "sha256=" and the lowercase hex digest.
const SignatureHeader = "X-Mqttdiag-Signature"

// WebhookPayload is the JSON body of each webhook request.
type WebhookPayload struct {
	Version int `json:"version"`
	// SentAt is when this request was made (each retry is a new one). It
	// is inside the signed body: a receiver that checks the signature and
	// rejects old sent_at values is safe from replays.
	SentAt    time.Time    `json:"sent_at"`
	Diagnoses []*Diagnosis `json:"diagnoses"`
}

// Webhook POSTs batches of diagnoses as JSON to a URL. A receiver may get
// a batch more than once (a retry after a lost answer); each diagnosis
// keeps its id, so it can drop what it has seen.
type Webhook struct {
	target string
	name   string
	client *http.Client
	header http.Header
	secret []byte
	token  string
	// scrub are the credentials a receiver's answer must not carry into
	// a log: the token, the HMAC secret, custom header values, the URL's
	// password (and its Basic encoding) and query values.
	scrub []string
	o     HTTPOptions

	mu  sync.Mutex   // serialises Notify, which reuses buf
	buf bytes.Buffer // the last body, kept to encode the next one without regrowing
}

// WebhookConfig is what a webhook needs beyond its URL.
type WebhookConfig struct {
	HTTPOptions
	// Header is sent with every request (custom headers).
	Header http.Header
	// Token, when set, is sent as "Authorization: Bearer <token>".
	Token string
	// Secret, when set, signs every body (SignatureHeader).
	Secret []byte
}

// NewWebhook returns a webhook sink for url.
func NewWebhook(rawURL string, cfg WebhookConfig) (*Webhook, error) {
	u, name, err := parseTarget("webhook", rawURL)
	if err != nil {
		return nil, err
	}
	h := make(http.Header)
	for k, vs := range cfg.Header {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	h.Set("Content-Type", "application/json")
	if cfg.UserAgent != "" {
		h.Set("User-Agent", cfg.UserAgent)
	}
	if cfg.Token != "" {
		h.Set("Authorization", "Bearer "+cfg.Token)
	}
	scrub := []string{cfg.Token, string(cfg.Secret)}
	for _, vs := range cfg.Header {
		scrub = append(scrub, credentialWords(vs)...)
	}
	scrub = append(scrub, urlCredentials(u)...)
	return &Webhook{target: u.String(), name: name, client: cfg.client(), header: h, secret: cfg.Secret, token: cfg.Token, scrub: scrub, o: cfg.HTTPOptions}, nil
}

// String names the webhook in logs, without credentials.
func (w *Webhook) String() string { return w.name }

// Notify POSTs ds as one WebhookPayload. Network errors, 408, 429 and 5xx
// are recoverable (with the receiver's Retry-After); other 4xx are not.
func (w *Webhook) Notify(ctx context.Context, ds []*Diagnosis) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.o.now()
	w.buf.Reset()
	enc := json.NewEncoder(&w.buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(WebhookPayload{Version: WebhookVersion, SentAt: now.UTC(), Diagnoses: ds}); err != nil {
		return false, fmt.Errorf("%s: encode payload: %w", w.name, err)
	}
	body := w.buf.Bytes()
	h := w.header.Clone()
	if len(w.secret) > 0 {
		h.Set(SignatureHeader, Sign(w.secret, body))
	}
	return post(ctx, w.client, w.name, w.target, h, body, now, w.scrub...)
}

// Sign returns the SignatureHeader value for body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether header is the signature of body under secret,
// in constant time: what a receiver written in Go calls before it trusts
// a request.
func Verify(secret, body []byte, header string) bool {
	got, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	sum, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(sum, m.Sum(nil))
}
