package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
)

func TestSignaturesCostListsAlwaysRunFirst(t *testing.T) {
	dir := t.TempDir()
	pack := dir + "/p.json"
	if err := os.WriteFile(pack, []byte(`[{"id": "x/digits", "regex": "^\\d+$"}, {"id": "x/lit", "regex": "boom"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	// signatures cost reports the loaded packs (built-in included);
	// signatures lint --cost the files it checks.
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"signatures", "cost", "--signatures", pack}, []string{"communication/mqtt-publish-identifier-already-in-use", "x/lit", `literal-set: "boom"`}},
		{[]string{"signatures", "lint", "--cost", pack}, []string{"2 signatures checked, no errors", "x/lit", `literal-set: "boom"`}},
	} {
		var out, stderr bytes.Buffer
		if code := execute(context.Background(), tt.args, strings.NewReader(""), &out, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", tt.args, code, stderr.String())
		}
		s := out.String()
		always := strings.Index(s, "always-run (no literal")
		if always < 0 || !strings.Contains(s[always:], "x/digits") {
			t.Errorf("%v: x/digits not listed as always-run:\n%s", tt.args, s)
		}
		for _, want := range tt.want {
			if !strings.Contains(s+stderr.String(), want) {
				t.Errorf("%v: report lacks %q:\n%s", tt.args, want, s)
			}
		}
	}
}

// --broker scopes the pack from the first line: an EMQX scope finds none
// of the Mosquitto signatures in a Mosquitto log. (The line is not the
// client-id takeover: that seed signature is for every system.)
func TestScanBrokerAndCacheFlags(t *testing.T) {
	in := "1795320306: Client dup disconnected, not authorised.\n"
	for _, tt := range []struct {
		args  []string
		diags int
	}{
		{[]string{"scan", "-"}, 1},
		{[]string{"scan", "--broker", "mosquitto", "--cache-size", "0", "-"}, 1},
		// Out of scope, the line is only a fault-looking line no signature
		// explains; --no-unknown leaves nothing.
		{[]string{"scan", "--broker", "emqx", "--no-unknown", "-"}, 0},
	} {
		var out, stderr bytes.Buffer
		if code := execute(context.Background(), tt.args, strings.NewReader(in), &out, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", tt.args, code, stderr.String())
		}
		if n := strings.Count(out.String(), "\n"); n != tt.diags {
			t.Errorf("%v: %d diagnoses, want %d", tt.args, n, tt.diags)
		}
	}
	var stderr bytes.Buffer
	if code := execute(context.Background(), []string{"scan", "--broker", "rabbitmq", "-"}, strings.NewReader(in), io.Discard, &stderr); code == 0 || !strings.Contains(stderr.String(), "want mosquitto, emqx") {
		t.Errorf("--broker hivemq: exit %d, %q", code, stderr.String())
	}
}

// --cache-size and --cache-bytes bound the matcher's result cache; the
// debug self-log at the end says what it held.
func TestScanCacheBounds(t *testing.T) {
	var in strings.Builder
	for i := range 400 {
		// Each takeover needs a regex run for its client id; each message
		// comes twice so that the doorkeeper admits it.
		fmt.Fprintf(&in, "Client device-%03d already connected, closing old connection.\n", i)
		fmt.Fprintf(&in, "Client device-%03d already connected, closing old connection.\n", i)
	}
	stats := func(args ...string) (entries, bytes float64) {
		t.Helper()
		var out, stderr strings.Builder
		args = append(append([]string{"scan", "--broker", "mosquitto", "--log-level", "debug", "--format", "json"}, args...), "-")
		if code := execute(context.Background(), args, strings.NewReader(in.String()), &out, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
		for _, l := range strings.Split(stderr.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(l), &rec) == nil && rec["message"] == "matcher" {
				return rec["cache_entries"].(float64), rec["cache_bytes"].(float64)
			}
		}
		t.Fatalf("no matcher stats in %s", stderr.String())
		return 0, 0
	}
	if e, b := stats(); e < 300 || b <= 0 {
		t.Errorf("default bounds: %v entries, %v bytes; want the 400 messages (300 or more) cached", e, b)
	}
	if e, b := stats("--cache-bytes", "2000"); b > 2000 || e == 0 {
		t.Errorf("--cache-bytes 2000: %v entries, %v bytes", e, b)
	}
	if e, _ := stats("--cache-size", "10"); e > 10 || e == 0 {
		t.Errorf("--cache-size 10: %v entries", e)
	}
	if e, b := stats("--cache-bytes", "0"); e != 0 || b != 0 {
		t.Errorf("--cache-bytes 0: %v entries, %v bytes; want no cache", e, b)
	}
}
