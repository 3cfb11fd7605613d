package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A webhook whose URL carries user info and a query credential, with a
// custom Authorization header, refused by a receiver that echoes all it
// got: the real process's self-logs (debug level) name the webhook and
// the refusal, and none of the secrets.
func TestWebhookURLAndHeaderSecretsStayOutOfLogs(t *testing.T) {
	secrets := []string{"s3cretpw", "abc123xyz", "hdrsecret"}
	h := newHook(t)
	h.answer = func(n int, w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusUnauthorized)
		user, pw, _ := r.BasicAuth()
		fmt.Fprintf(w, "echo url=%s auth=%q user=%s pw=%s key=%q", r.URL, r.Header.Get("Authorization"), user, pw, r.Header.Get("X-Api-Key"))
		return true
	}
	u := strings.Replace(h.url(), "http://", "http://user:s3cretpw@", 1) + "?token=abc123xyz"
	log := filepath.Join(t.TempDir(), "mosquitto.log")
	writeLines(t, log, takeovers(0, 1, func(int) string { return "c0" }))
	p := startMqttdiag(t, nil, "run", "--log-level", "debug", "--from-beginning", "--batch-wait", "0s",
		"--webhook", u, "--webhook-header", "X-Api-Key: Bearer hdrsecret", log)
	p.waitLog(t, "sink refused diagnoses for good; dropping them from this sink (counted as poisoned): fix the receiver or its configuration", 20*time.Second)
	if err := p.stop(t); err != nil {
		t.Errorf("exit: %v", err)
	}
	p.mu.Lock()
	stderr := p.stderr.String()
	p.mu.Unlock()
	for _, s := range secrets {
		if strings.Contains(stderr, s) {
			t.Errorf("self-log contains the secret %q:\n%s", s, stderr)
		}
	}
	if !strings.Contains(stderr, sinkName(t, "http://"+h.addr+"/hook")) || !strings.Contains(stderr, "401 Unauthorized") {
		t.Errorf("self-log does not name the webhook and its refusal:\n%s", stderr)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.headers) == 0 || h.headers[0].Get("X-Api-Key") != "Bearer hdrsecret" {
		t.Errorf("the receiver did not get the header: %v", h.headers)
	}

	// Errors about these settings name them without their secrets.
	for _, args := range [][]string{
		{"--webhook", "http://user:s3cretpw@[::1/?token=abc123xyz"},
		{"--webhook", "http://127.0.0.1:1/", "--webhook-header", "X-Api-Key Bearer hdrsecret"},
		{"--alertmanager", "http://127.0.0.1:1/", "--alert-generator-url", "http://user:s3cretpw@[::1/?token=abc123xyz"},
	} {
		var stderr strings.Builder
		code := execute(context.Background(), append(append([]string{"scan"}, args...), "-"), strings.NewReader(""), io.Discard, &stderr)
		if code == 0 {
			t.Errorf("%v accepted", args)
		}
		for _, s := range secrets {
			if strings.Contains(stderr.String(), s) {
				t.Errorf("%v: error shows the secret %q: %s", args, s, stderr.String())
			}
		}
	}
}
