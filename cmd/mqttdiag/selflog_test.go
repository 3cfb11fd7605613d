package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// selfLog parses the self-log written to stderr, one JSON object a line.
func selfLog(t *testing.T, stderr string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(l), &rec) == nil {
			out = append(out, rec)
		}
	}
	return out
}

// Sinks are named in the self-log by what they are, never by a Go type:
// the text report's collector is "report", stdout is "stdout".
func TestSelfLogNamesSinksByWhatTheyAre(t *testing.T) {
	for _, tc := range []struct{ format, want string }{{"text", "report"}, {"json", "stdout"}} {
		code, _, errOut := runCLI(t, "", "scan", "--format", tc.format, "--log-format", "json", "--log-level", "info", sampleLog)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var names []string
		for _, rec := range selfLog(t, errOut) {
			if rec["message"] == "delivery ended" {
				names = append(names, rec["sink"].(string))
			}
		}
		if len(names) != 1 || names[0] != tc.want {
			t.Errorf("--format %s: sinks named %q in the self-log, want [%q]:\n%s", tc.format, names, tc.want, errOut)
		}
	}
}

// Durations in the self-log are strings with their unit, as flags take
// them ("1m30s"), not bare numbers of an unstated unit: the dedup window
// (logged at start with a sink), the wait before a retry, and the shutdown
// timeout that abandons what a dead receiver did not take.
func TestSelfLogDurationsHaveUnits(t *testing.T) {
	// The delivery lane logs its retries from its own goroutine: stderr
	// is a file in production, a locked buffer here.
	var stderr lockedBuffer
	code := execute(context.Background(), []string{"scan", "--format", "json", "--log-format", "json", "--log-level", "info",
		"--dedup-window", "90s", "--webhook", "http://127.0.0.1:1/", "--shutdown-timeout", "300ms", sampleLog},
		strings.NewReader(""), io.Discard, &stderr)
	errOut := stderr.String()
	if code == 0 {
		t.Fatalf("exit 0 with a webhook that cannot be reached:\n%s", errOut)
	}
	want := map[string]time.Duration{"dedup_window": 90 * time.Second, "shutdown_timeout": 300 * time.Millisecond, "retry_in": -1}
	seen := map[string]bool{}
	for _, rec := range selfLog(t, errOut) {
		for k, wd := range want {
			v, ok := rec[k]
			if !ok {
				continue
			}
			seen[k] = true
			s, isStr := v.(string)
			d, err := time.ParseDuration(s)
			if !isStr || err != nil || wd >= 0 && d != wd || d <= 0 {
				t.Errorf("%s logged as %#v, want a duration string with its unit", k, v)
			}
		}
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("no self-log record carries %s:\n%s", k, errOut)
		}
	}
}

// zerolog's Dur writes a bare number of milliseconds; durations go to the
// self-log with Stringer instead, everywhere (see TestSelfLogDurationsHaveUnits).
func TestNoBareDurationsInSelfLog(t *testing.T) {
	err := filepath.WalkDir("../..", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, ".Dur(") || strings.Contains(l, ".Durs(") {
				t.Errorf("%s:%d logs a duration without its unit (use Stringer): %s", p, i+1, strings.TrimSpace(l))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// lockedBuffer is a stderr several goroutines may write at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
