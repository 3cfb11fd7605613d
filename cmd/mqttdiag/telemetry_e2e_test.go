package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
	"github.com/mqttdiag/mqttdiag/sink"
)

// scrape reads /metrics into series -> value, e.g.
// `mqttdiag_lines_read_total{file="/x/m.log"}` -> 12.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, l := range strings.Split(string(body), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", l, err)
		}
		out[l[:i]] = v
	}
	return out
}

// waitMetric polls /metrics until ok holds (HTTP has no event to wait on).
func waitMetric(t *testing.T, addr, what string, ok func(map[string]float64) bool) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := scrape(t, addr)
		if ok(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getReady(t *testing.T, addr string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, r
}

// The metrics and health endpoints are scraped while a real mosquitto
// produces faults; each metric moves as it should.
func TestMetricsAndHealthWithRealMosquitto(t *testing.T) {
	t.Parallel() // a subprocess and its own temp dir, ports and state: independent of the others
	m := brokertest.StartMosquitto(t)
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", brokertest.FreePort(t))
	deadHook := fmt.Sprintf("http://127.0.0.1:%d/hook", brokertest.FreePort(t)) // nothing listens
	sigDir := filepath.Join(dir, "site")
	if err := os.Mkdir(sigDir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := startMqttdiag(t, nil, "run", "--log-level", "debug", "--metrics-addr", addr, "--state", filepath.Join(dir, "state.json"),
		"--signatures", sigDir, "--webhook", deadHook, "--batch-wait", "10ms", "--ready-failing-after", "1s", "--dedup-window", "0", m.LogPath)
	p.waitLog(t, "following", 60*time.Second)

	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	code, ready := getReady(t, addr)
	if code != 200 || ready["ready"] != true || ready["signatures"].(float64) < 100 || len(ready["pack_hash"].(string)) != 12 {
		t.Fatalf("/readyz before any fault: %d %v", code, ready)
	}

	base := scrape(t, addr)
	lines := fmt.Sprintf(`mqttdiag_lines_read_total{file=%q}`, m.LogPath)
	takeover := `mqttdiag_diagnoses_total{severity="warning",signature_id="communication/mqtt-publish-identifier-already-in-use"}`
	if base[`mqttdiag_build_info{goversion="`+runtime.Version()+`",version="devel"}`] != 1 {
		t.Errorf("build info missing: %v", filterPrefix(base, "mqttdiag_build_info"))
	}

	// Faults from real clients: two takeovers.
	m.Takeover(t, "metrics-dup-1")
	m.Takeover(t, "metrics-dup-2")
	for i := 0; i < 2; i++ {
		p.waitDiag(t, 10*time.Second, func(d *sink.Diagnosis) bool {
			return d.SignatureID == "communication/mqtt-publish-identifier-already-in-use"
		})
	}
	// A fault-looking line no signature explains.
	f, err := os.OpenFile(m.LogPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "%d: Error: Frobnicator overheated on bus /dev/fb7.\n", time.Now().Unix())
	f.Close()
	p.waitDiag(t, 10*time.Second, func(d *sink.Diagnosis) bool { return d.SignatureID == "unknown" })
	// The same takeover message three times: the matcher caches a message
	// on its second miss, so the third is a cache hit.
	for range 3 {
		appendTo(t, m.LogPath, fmt.Sprintf("%d: Client metrics-cache already connected, closing old connection.\n", time.Now().Unix()))
	}
	for range 3 {
		p.waitDiag(t, 10*time.Second, func(d *sink.Diagnosis) bool { return d.Fields["client_id"] == "metrics-cache" })
	}

	hookName := `{sink="` + sinkName(t, deadHook) + `"}`
	after := waitMetric(t, addr, "the takeovers, the unknown line, a failing webhook and everything read", func(mm map[string]float64) bool {
		return mm[takeover] == 5 && mm["mqttdiag_unknown_fault_lines_total"] == 1 &&
			mm["mqttdiag_sink_failures_total"+hookName] >= 2 &&
			mm[fmt.Sprintf(`mqttdiag_tail_lag_bytes{file=%q}`, m.LogPath)] == 0 &&
			mm["mqttdiag_matcher_lines_total"]-base["mqttdiag_matcher_lines_total"] == mm[lines]-base[lines]
	})
	grew := func(k string) float64 { return after[k] - base[k] }
	checks := []struct {
		name string
		ok   bool
	}{
		// The takeovers are a dozen lines of mosquitto's log and more,
		// the unknown and cache lines four.
		{"lines read grew by every line written", grew(lines) >= 8},
		{"bytes read grew", grew(strings.Replace(lines, "lines_read", "bytes_read", 1)) >= 8*40},
		{"the matcher saw every line read", grew("mqttdiag_matcher_lines_total") == grew(lines)},
		{"prefilter candidates counted", grew("mqttdiag_matcher_candidates_total") >= 4},
		{"regex runs counted", grew("mqttdiag_matcher_regex_runs_total") >= 3},
		{"the takeover regex ran", grew(`mqttdiag_matcher_signature_regex_runs_total{signature_id="communication/mqtt-publish-identifier-already-in-use"}`) >= 3},
		{"cache misses counted", grew("mqttdiag_matcher_cache_misses_total") >= 4},
		{"the repeated line was a cache hit", grew("mqttdiag_matcher_cache_hits_total") >= 1},
		{"diagnoses by signature", grew(takeover) == 5 && grew(`mqttdiag_diagnoses_total{severity="error",signature_id="unknown"}`) == 1},
		{"unknown reports", grew("mqttdiag_unknown_fault_reports_total") == 1},
		{"stdout accepted exactly the diagnoses", grew(`mqttdiag_sink_sent_total{sink="stdout"}`) == 6},
		{"stdout is not failing", after[`mqttdiag_sink_failing_seconds{sink="stdout"}`] == 0 && after[`mqttdiag_sink_queue_capacity{sink="stdout"}`] > 0},
		{"the webhook retries", after["mqttdiag_sink_retries_total"+hookName] >= 1},
		{"the dead webhook accepted nothing", hasKey(after, "mqttdiag_sink_sent_total"+hookName) && after["mqttdiag_sink_sent_total"+hookName] == 0},
		{"the dead webhook is failing", after["mqttdiag_sink_failing_seconds"+hookName] > 0},
		{"checkpoint age is reported", hasKey(after, "mqttdiag_checkpoint_age_seconds")},
		{"pack size", len(filterPrefix(after, "mqttdiag_signatures{")) == 1},
		{"no load errors yet", after["mqttdiag_signature_load_errors_total"] == 0},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s", c.name)
		}
	}
	if t.Failed() {
		t.Logf("metrics: %v", filterPrefix(after, "mqttdiag_"))
	}

	// The webhook has been failing for longer than --ready-failing-after.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, ready = getReady(t, addr)
		if code == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz stays %d with a sink failing: %v", code, ready)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if probs := fmt.Sprint(ready["problems"]); !strings.Contains(probs, "failing since") {
		t.Errorf("/readyz problems: %v", probs)
	}
	if fs := scrape(t, addr)["mqttdiag_sink_failing_seconds"+hookName]; fs < 1 {
		t.Errorf("failing seconds %v once /readyz says failing for 1s", fs)
	}

	// A broken pack on SIGHUP is rejected and counted; the pack stays.
	if err := os.WriteFile(filepath.Join(sigDir, "bad.json"), []byte(`[{"id": "site/bad", "regex": "(unclosed"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "reload rejected: the new signatures do not load; still using the previous pack", 60*time.Second)
	waitMetric(t, addr, "the rejected reload", func(mm map[string]float64) bool {
		return mm["mqttdiag_signature_load_errors_total"] == 1
	})
	if _, r := getReady(t, addr); r["pack_hash"] != ready["pack_hash"] {
		t.Errorf("pack changed by a rejected reload: %v -> %v", ready["pack_hash"], r["pack_hash"])
	}

	// A good pack on SIGHUP: /readyz, the metrics and the diagnoses name
	// the new pack, and the matcher counters carry on from the old one.
	oldHash, oldVersion, oldSigs := ready["pack_hash"].(string), ready["pack_version"].(string), ready["signatures"].(float64)
	beforeReload := scrape(t, addr)
	if err := os.Remove(filepath.Join(sigDir, "bad.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sigDir, "good.json"), []byte(`[{"id": "site/frob", "signature": "Frobnicator overheated",
		"severity": "error", "regex": "^Error: Frobnicator overheated on bus (?P<bus>\\S+)\\.$"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	rec := p.waitLog(t, "signatures reloaded", 60*time.Second)
	newHash := rec["pack_hash"].(string)
	if newHash == oldHash || rec["previous_hash"] != oldHash {
		t.Fatalf("reload logged %v", rec)
	}
	code, r := getReady(t, addr)
	if r["pack_hash"] != newHash || r["pack_version"] == oldVersion || r["signatures"].(float64) != oldSigs+1 {
		t.Errorf("/readyz after the reload: %d %v (was %s %s %v)", code, r, oldHash, oldVersion, oldSigs)
	}
	newVersion := r["pack_version"].(string)
	appendTo(t, m.LogPath, fmt.Sprintf("%d: Error: Frobnicator overheated on bus /dev/fb8.\n", time.Now().Unix()))
	d, _ := p.waitDiag(t, 10*time.Second, func(d *sink.Diagnosis) bool { return d.SignatureID == "site/frob" })
	if d.PackHash != newHash || d.PackVersion != newVersion {
		t.Errorf("diagnosis after the reload names pack %s %s, want %s %s", d.PackVersion, d.PackHash, newVersion, newHash)
	}
	reloaded := waitMetric(t, addr, "the new pack's diagnosis", func(mm map[string]float64) bool {
		return mm[`mqttdiag_diagnoses_total{severity="error",signature_id="site/frob"}`] == 1
	})
	if packs := filterPrefix(reloaded, "mqttdiag_signatures{"); len(packs) != 1 ||
		packs[fmt.Sprintf(`mqttdiag_signatures{pack_hash=%q,pack_version=%q}`, newHash, newVersion)] != oldSigs+1 {
		t.Errorf("pack metric after the reload: %v", packs)
	}
	for _, k := range []string{"mqttdiag_matcher_lines_total", "mqttdiag_matcher_candidates_total", "mqttdiag_matcher_regex_runs_total",
		"mqttdiag_matcher_cache_hits_total", "mqttdiag_matcher_cache_misses_total", takeover, `mqttdiag_sink_sent_total{sink="stdout"}`} {
		if reloaded[k] < beforeReload[k] {
			t.Errorf("%s went backwards across the reload: %v -> %v", k, beforeReload[k], reloaded[k])
		}
	}
	if reloaded["mqttdiag_matcher_lines_total"] <= beforeReload["mqttdiag_matcher_lines_total"] {
		t.Errorf("matcher lines did not grow after the reload")
	}
}

func hasKey(m map[string]float64, k string) bool { _, ok := m[k]; return ok }

func filterPrefix(m map[string]float64, prefix string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

// SIGHUP with a good pack, then a broken one, under continuous input: no
// line is lost, the good pack takes effect, the broken one is rejected and
// the pack in use stays.
func TestSIGHUPReloadUnderContinuousInput(t *testing.T) {
	t.Parallel() // a subprocess and its own temp dir, ports and state: independent of the others
	dir := t.TempDir()
	log := filepath.Join(dir, "mosquitto.log")
	sigDir := filepath.Join(dir, "site")
	if err := os.Mkdir(sigDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeLines(t, log, nil)
	p := startMqttdiag(t, nil, "run", "--log-level", "debug", "--signatures", sigDir, "--no-unknown", log)
	p.waitLog(t, "following", 60*time.Second)

	// A writer appends numbered takeover lines and site lines all along,
	// until told to stop; it reports how many pairs it wrote. It keeps at
	// most ahead pairs ahead of the takeovers diagnosed: on a loaded
	// machine the race-instrumented mqttdiag reads slower than the writer
	// writes, and an unbounded backlog only makes the drain longer.
	const ahead = 2000
	var diagnosed atomic.Int64
	progress := make(chan struct{}, 1)
	stop := make(chan struct{})
	written := make(chan int, 1)
	go func() {
		f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			written <- 0
			return
		}
		defer f.Close()
		for i := 0; ; i++ {
			select {
			case <-stop:
				written <- i
				return
			default:
			}
			for int64(i)-diagnosed.Load() > ahead {
				select {
				case <-stop:
					written <- i
					return
				case <-progress:
				}
			}
			fmt.Fprintf(f, "1795320306: Client reload-%d already connected, closing old connection.\n", i)
			fmt.Fprintf(f, "1795320306: Site probe %d\n", i)
			if i%4 == 3 {
				time.Sleep(time.Millisecond) // a steady stream, not one burst
			}
		}
	}()

	site := `[{"id": "site/probe", "signature": "Site probe", "regex": "^Site probe (?P<n>\\d+)$", "severity": "info"}]`
	takeovers, probes := map[string]int{}, map[string]int{}
	firstProbe := -1
	phase := 0 // 0: before the good reload, 1: before the bad one, 2: before stopping, 3: draining
	total := -1
	// No time limit on the whole, which depends on the machine's load: a
	// minute without a diagnosis is a stall.
	stall := time.NewTimer(time.Minute)
	defer stall.Stop()
	for total < 0 || len(takeovers) < total || (firstProbe >= 0 && len(probes) < total-firstProbe) {
		select {
		case d, ok := <-p.diags:
			if !ok {
				t.Fatal("mqttdiag exited")
			}
			stall.Reset(time.Minute)
			switch d.SignatureID {
			case "communication/mqtt-publish-identifier-already-in-use":
				takeovers[d.Fields["client_id"]]++
				diagnosed.Add(1)
				select {
				case progress <- struct{}{}:
				default:
				}
			case "site/probe":
				i, _ := strconv.Atoi(d.Fields["n"])
				if firstProbe < 0 || i < firstProbe {
					firstProbe = i
				}
				probes[d.Fields["n"]]++
			}
			switch {
			case phase == 0 && len(takeovers) >= 200:
				if err := os.WriteFile(filepath.Join(sigDir, "site.json"), []byte(site), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
				phase = 1
			case phase == 1 && len(probes) >= 200:
				if err := os.WriteFile(filepath.Join(sigDir, "site.json"), []byte(`[{"id": "site/probe", "regex": "(broken"}]`), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
				phase = 2
			case phase == 2 && len(probes) >= 600:
				close(stop)
				total = <-written
				phase = 3
			}
		case <-stall.C:
			t.Fatalf("no diagnosis for a minute, phase %d: %d takeovers, %d probes (first %d), %d written", phase, len(takeovers), len(probes), firstProbe, total)
		}
	}
	p.waitLog(t, "reload rejected: the new signatures do not load; still using the previous pack", 60*time.Second)
	for i := 0; i < total; i++ {
		if c := takeovers[fmt.Sprintf("reload-%d", i)]; c != 1 {
			t.Fatalf("takeover line %d of %d diagnosed %d times", i, total, c)
		}
	}
	if firstProbe <= 0 {
		t.Fatalf("the site signature fired from line %d: the reload did not happen mid-stream", firstProbe)
	}
	// From the reload on, every probe line is diagnosed, also after the
	// rejected reload: the good pack stayed in use.
	for i := firstProbe; i < total; i++ {
		if c := probes[strconv.Itoa(i)]; c != 1 {
			t.Fatalf("probe %d diagnosed %d times (site signature active from %d)", i, c, firstProbe)
		}
	}
	t.Logf("%d lines pairs; the good pack took effect at pair %d; the broken one was rejected", total, firstProbe)
	if err := p.stop(t); err != nil {
		t.Errorf("exit: %v", err)
	}
}
