package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
	"github.com/mqttdiag/mqttdiag/sink"
)

// BenchmarkDistinctClientIDs measures what a log whose every line names a
// new client id costs `mqttdiag run` (the real binary) with a webhook and
// a real Alertmanager, at the default bounds (--dedup-max-keys,
// --alert-max-active): every id is a dedup key and a label set. It reads
// MQTTDIAG_BENCH_IDS takeover lines (default 1,000,000), each with its
// own id, with a 10 s dedup window and re-sends every 5 s so that both
// happen within the run, and scrapes /metrics every 250 ms throughout.
// It reports peak_rss_MB (VmHWM), s_to_deliver (until the webhook's
// counts add up to every line), the slowest scrape (scrape_max_ms;
// failed scrapes fail the benchmark), am_alerts (what Alertmanager holds
// at the end) and webhook_notifications.
//
// MQTTDIAG_BENCH_BIN runs another build of mqttdiag instead (the
// baseline before the bounds existed takes the same command line).
func BenchmarkDistinctClientIDs(b *testing.B) {
	ids := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("MQTTDIAG_BENCH_IDS")); err == nil && v > 0 {
		ids = v
	}
	bin := os.Getenv("MQTTDIAG_BENCH_BIN")
	if bin == "" {
		bin = buildBinary(b)
	}
	log := filepath.Join(b.TempDir(), "mosquitto.log")
	f, err := os.Create(log)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "1795320000: mosquitto version 2.0.11 starting")
	for i := range ids {
		fmt.Fprintf(w, "%d: Client dev-%07d already connected, closing old connection.\n", 1795320000+i/10000, i)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	for b.Loop() {
		r := runDistinct(b, bin, log, ids)
		b.ReportMetric(r.peakMB, "peak_rss_MB")
		b.ReportMetric(r.deliver.Seconds(), "s_to_deliver")
		b.ReportMetric(float64(r.scrapeMax.Milliseconds()), "scrape_max_ms")
		b.ReportMetric(float64(r.amAlerts), "am_alerts")
		b.ReportMetric(float64(r.notifications), "webhook_notifications")
	}
}

type distinctRun struct {
	peakMB                  float64
	deliver, scrapeMax      time.Duration
	amAlerts, notifications int
}

func runDistinct(b *testing.B, bin, log string, ids int) distinctRun {
	am := brokertest.StartAlertmanager(b)
	var occurrences, notifications atomic.Int64
	delivered := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p sink.WebhookPayload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		n := int64(0)
		for _, d := range p.Diagnoses {
			n += int64(d.Occurrences())
		}
		notifications.Add(int64(len(p.Diagnoses)))
		if occurrences.Add(n) >= int64(ids) && occurrences.Load()-n < int64(ids) {
			close(delivered)
		}
	}))
	defer hook.Close()
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", brokertest.FreePort(b))
	cmd := exec.Command(bin, "run", "--from-beginning", "--state", filepath.Join(b.TempDir(), "state.json"), "--log-level", "warn",
		"--alertmanager", am.URL, "--webhook", hook.URL, "--dedup-window", "10s", "--alert-resend-interval", "5s",
		"--metrics-addr", metricsAddr, log)
	cmd.Stdout, cmd.Stderr = nil, os.Stderr // diagnoses to /dev/null, as into a log collector
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	// /metrics must keep answering while the ids pour in.
	var scrapeMax atomic.Int64
	var scrapeFailures atomic.Int64
	var resends atomic.Int64 // of the Alertmanager sink, as last scraped
	stop := make(chan struct{})
	scraped := make(chan struct{})
	go func() {
		defer close(scraped)
		c := &http.Client{Timeout: 10 * time.Second}
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			t0 := time.Now()
			resp, err := c.Get("http://" + metricsAddr + "/metrics")
			if err != nil {
				if time.Since(start) > 5*time.Second { // not yet listening at first
					scrapeFailures.Add(1)
				}
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, l := range strings.Split(string(body), "\n") {
				if v, ok := strings.CutPrefix(l, `mqttdiag_sink_resends_total{sink="alertmanager `); ok {
					n, _ := strconv.ParseFloat(v[strings.LastIndexByte(v, ' ')+1:], 64)
					resends.Store(int64(n))
				}
			}
			if resp.StatusCode != http.StatusOK {
				scrapeFailures.Add(1)
			}
			if d := time.Since(t0); int64(d) > scrapeMax.Load() {
				scrapeMax.Store(int64(d))
			}
		}
	}()
	select {
	case <-delivered:
	case <-time.After(15 * time.Minute):
		b.Fatalf("the webhook's counts reached %d of %d within 15 minutes", occurrences.Load(), ids)
	}
	deliver := time.Since(start)
	// One more re-send of every active alert after the last delivery,
	// seen in the metrics.
	before := resends.Load()
	for deadline := time.Now().Add(time.Minute); resends.Load() <= before; {
		if time.Now().After(deadline) {
			b.Fatalf("no re-send within a minute of delivery (%d before)", before)
		}
		time.Sleep(250 * time.Millisecond) // the scraper's interval
	}
	close(stop)
	<-scraped
	_, peak := procRSS(b, cmd.Process.Pid)
	if n := scrapeFailures.Load(); n > 0 {
		b.Errorf("%d scrapes of /metrics failed", n)
	}
	if got := occurrences.Load(); got != int64(ids) {
		b.Errorf("the webhook's counts add up to %d, want %d", got, ids)
	}
	return distinctRun{peakMB: peak / 1024, deliver: deliver, scrapeMax: time.Duration(scrapeMax.Load()),
		amAlerts: len(am.Alerts(b)), notifications: int(notifications.Load())}
}
