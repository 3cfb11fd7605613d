package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/app"
	"github.com/mqttdiag/mqttdiag/internal/pipeline"
	"github.com/mqttdiag/mqttdiag/sink"
	"github.com/mqttdiag/mqttdiag/tailer"
)

// BenchmarkDeliveryWebhook measures diagnoses per second end to end: a
// log file read by the tailer, matched against the built-in pack, every
// diagnosis written to stdout (discarded) and POSTed to a local webhook
// receiver that decodes each body. Half the lines are faults.
//
//	distinct: every takeover has its own client id, so storm control
//	  folds nothing and every diagnosis is its own webhook entry;
//	storm: one client id, so the webhook gets a handful of summaries;
//	stdout-only: the distinct lines without a webhook, the baseline.
func BenchmarkDeliveryWebhook(b *testing.B) {
	for _, bc := range []struct {
		name    string
		client  func(i int) string
		webhook bool
	}{
		{"distinct", func(i int) string { return fmt.Sprintf("dev-%d", i) }, true},
		{"storm", func(int) string { return "flapper" }, true},
		{"stdout-only", func(i int) string { return fmt.Sprintf("dev-%d", i) }, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const faults = 20000
			var lines []string
			for i, l := range takeovers(0, faults, bc.client) {
				lines = append(lines, fmt.Sprintf("%d: Received PINGREQ from dev-%d", 1795320000+i/1000, i), l)
			}
			path := filepath.Join(b.TempDir(), "mosquitto.log")
			writeLines(b, path, lines)

			var got atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var p struct {
					Diagnoses []struct {
						ID    string `json:"id"`
						Count int    `json:"count"`
					} `json:"diagnoses"`
				}
				body := bytes.NewBuffer(make([]byte, 0, max(512, r.ContentLength)))
				if _, err := body.ReadFrom(r.Body); err != nil {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				if err := json.Unmarshal(body.Bytes(), &p); err != nil {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				for _, d := range p.Diagnoses {
					got.Add(int64(max(1, d.Count)))
				}
			}))
			defer srv.Close()
			g := app.Global{LogLevel: "error", LogFormat: "json"}
			_, _, m, err := g.Setup(io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			wh, err := sink.NewWebhook(srv.URL, sink.WebhookConfig{Secret: []byte("bench-secret")})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				got.Store(0)
				opts := []pipeline.Option{pipeline.StormControl(time.Minute, nil), pipeline.AlertBatch(100, 10*time.Millisecond)}
				if bc.webhook {
					opts = append(opts, pipeline.Alerting(wh))
				}
				p := pipeline.New(m, []sink.Notifier{sink.NewWriter(io.Discard)}, opts...)
				st, err := app.RunPipeline(context.Background(), tailer.New([]string{path}), p)
				if err != nil {
					b.Fatal(err)
				}
				if st.Diagnoses != faults || (bc.webhook && got.Load() != faults) {
					b.Fatalf("diagnosed %d, receiver counted %d, want %d", st.Diagnoses, got.Load(), faults)
				}
			}
			b.ReportMetric(float64(faults*b.N)/time.Since(start).Seconds(), "diagnoses/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
