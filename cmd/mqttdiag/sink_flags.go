package main

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/mqttdiag/mqttdiag/internal/pipeline"
	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/sink"
)

// Environment variables that carry the webhook's credentials. They are
// read from the environment or from files, never from the command line,
// where any user of the machine can read them in the process list.
const (
	envWebhookToken  = "MQTTDIAG_WEBHOOK_TOKEN"
	envWebhookSecret = "MQTTDIAG_WEBHOOK_SECRET"
)

// maxBound is the largest --dedup-max-keys and --alert-max-active: a
// million alerts is about 2.9 GB, past what a sidecar should hold.
const maxBound = 1_000_000

// sinkFlags configure delivery: the alerting sinks, storm control,
// queues and shutdown.
type sinkFlags struct {
	webhooks        []string
	webhookHeaders  []string
	tokenFile       string
	secretFile      string
	webhookCA       string
	requestTimeout  time.Duration
	batchMax        int
	batchWait       time.Duration
	alertmanagers   []string
	alertmanagerCA  string
	instance        string
	resolveTimeout  time.Duration
	resendInterval  time.Duration
	generatorURL    string
	labelFields     []string
	maxActive       int
	dedupWindow     time.Duration
	maxDedupKeys    int
	dedupStdout     bool
	thresholds      []string
	queueSize       int
	shutdownTimeout time.Duration
}

func (s *sinkFlags) register(c *cobra.Command) {
	f := c.Flags()
	f.StringArrayVar(&s.webhooks, "webhook", nil, "POST diagnoses as JSON to this URL (repeatable: each gets every alert)")
	f.StringArrayVar(&s.webhookHeaders, "webhook-header", nil, "add this header to webhook requests, as 'Name: value' (repeatable; in $MQTTDIAG_WEBHOOK_HEADER one per line, or comma-separated with \\, for a comma)")
	f.StringVar(&s.tokenFile, "webhook-token-file", "", "send the bearer token in this file (else $"+envWebhookToken+")")
	f.StringVar(&s.secretFile, "webhook-secret-file", "", "sign webhook bodies with the HMAC secret in this file (else $"+envWebhookSecret+")")
	f.StringVar(&s.webhookCA, "webhook-ca", "", "trust only the CA certificates in this PEM file for https webhooks")
	f.DurationVar(&s.requestTimeout, "request-timeout", sink.DefaultTimeout, "time limit of one request to a webhook or Alertmanager")
	f.IntVar(&s.batchMax, "batch-max", 100, "at most this many diagnoses per webhook or Alertmanager request")
	f.DurationVar(&s.batchWait, "batch-wait", time.Second, "wait up to this long for a batch to fill before sending it")
	f.StringArrayVar(&s.alertmanagers, "alertmanager", nil, "send alerts to the Alertmanager at this URL (repeatable: give every replica)")
	f.StringVar(&s.alertmanagerCA, "alertmanager-ca", "", "trust only the CA certificates in this PEM file for https Alertmanagers")
	f.StringVar(&s.instance, "instance", "", "the instance label of alerts (default: the host name)")
	f.DurationVar(&s.resolveTimeout, "alert-resolve-timeout", sink.DefaultResolveTimeout, "an alert resolves when its fault was not seen for this long")
	f.DurationVar(&s.resendInterval, "alert-resend-interval", sink.DefaultResendInterval, "send active alerts to Alertmanager again at this interval")
	f.StringArrayVar(&s.labelFields, "alert-label-field", sink.DefaultLabelFields, "a diagnosis field that becomes an alert label when the line names it (repeatable; replaces the default list; \"\" for none)")
	f.StringVar(&s.generatorURL, "alert-generator-url", "", "base URL of alerts' generatorURL (default: a file:// URL of the log line)")
	f.IntVar(&s.maxActive, "alert-max-active", sink.DefaultMaxActive, "keep at most this many alerts with a client label active per Alertmanager; fold the rest into one alert per signature")
	f.DurationVar(&s.dedupWindow, "dedup-window", time.Minute, "send identical diagnoses once per window, then a summary with their count (0: off)")
	f.IntVar(&s.maxDedupKeys, "dedup-max-keys", pipeline.DefaultMaxDedupKeys, "keep at most this many dedup windows open; fold occurrences of further keys into one summary per signature")
	f.BoolVar(&s.dedupStdout, "dedup-stdout", false, "apply storm control and thresholds to stdout too")
	f.StringArrayVar(&s.thresholds, "threshold", nil, "alert on signature ID only when COUNT occurrences fall within WINDOW, as ID=COUNT/WINDOW (e.g. x/keepalive=50/5m), or ID=off (repeatable)")
	f.IntVar(&s.queueSize, "queue-size", pipeline.DefaultQueue, "each sink's queue, in diagnoses; when one is full, reading waits")
	f.DurationVar(&s.shutdownTimeout, "shutdown-timeout", 10*time.Second, "on SIGTERM, deliver what was read for at most this long; the rest is read again at restart")
}

// options builds the alerting sinks and the delivery options.
func (s *sinkFlags) options(log zerolog.Logger, pack *signatures.Pack) ([]pipeline.Option, error) {
	opts := []pipeline.Option{pipeline.Queue(s.queueSize), pipeline.Batch(s.batchMax, s.batchWait),
		pipeline.ShutdownTimeout(s.shutdownTimeout), pipeline.DedupRecords(s.dedupStdout), pipeline.MaxDedupKeys(s.maxDedupKeys)}
	if s.queueSize < 1 {
		return nil, fmt.Errorf("--queue-size %d: want 1 or more", s.queueSize)
	}
	if s.batchMax < 1 {
		return nil, fmt.Errorf("--batch-max %d: want 1 or more", s.batchMax)
	}
	// Each bounds memory that log content fills: a dedup key costs about
	// 280 bytes, an active alert about 2.9 KB (BENCHMARKS.md).
	if s.maxDedupKeys < 1 || s.maxDedupKeys > maxBound {
		return nil, fmt.Errorf("--dedup-max-keys %d: want 1 to %d", s.maxDedupKeys, maxBound)
	}
	if s.maxActive < 1 || s.maxActive > maxBound {
		return nil, fmt.Errorf("--alert-max-active %d: want 1 to %d", s.maxActive, maxBound)
	}
	thresholds, err := parseThresholds(s.thresholds, pack)
	if err != nil {
		return nil, err
	}
	opts = append(opts, pipeline.StormControl(s.dedupWindow, thresholds))
	var sinks []sink.Notifier
	var names []string
	if len(s.webhooks) > 0 {
		cfg, err := s.webhookConfig()
		if err != nil {
			return nil, err
		}
		for _, u := range s.webhooks {
			w, err := sink.NewWebhook(u, cfg)
			if err != nil {
				return nil, fmt.Errorf("--webhook: %w", err)
			}
			sinks, names = append(sinks, w), append(names, w.String())
		}
	}
	if len(s.alertmanagers) > 0 {
		cfg, err := s.alertmanagerConfig()
		if err != nil {
			return nil, err
		}
		for _, u := range s.alertmanagers {
			a, err := sink.NewAlertmanager(u, cfg)
			if err != nil {
				return nil, fmt.Errorf("--alertmanager: %w", err)
			}
			sinks, names = append(sinks, a), append(names, a.String())
		}
	}
	if len(sinks) > 0 {
		log.Info().Strs("sinks", names).Dur("dedup_window", s.dedupWindow).Int("thresholds", len(thresholds)).Msg("alerting")
		opts = append(opts, pipeline.Alerting(sinks...))
	}
	return opts, nil
}

func (s *sinkFlags) http(caFile, flag string) (sink.HTTPOptions, error) {
	o := sink.HTTPOptions{Timeout: s.requestTimeout, UserAgent: "mqttdiag/" + buildVersion()}
	if caFile != "" {
		pool, err := sink.LoadCAFile(caFile)
		if err != nil {
			return o, fmt.Errorf("%s: %w", flag, err)
		}
		o.RootCAs = pool
	}
	return o, nil
}

func (s *sinkFlags) webhookConfig() (sink.WebhookConfig, error) {
	h, err := s.http(s.webhookCA, "--webhook-ca")
	if err != nil {
		return sink.WebhookConfig{}, err
	}
	cfg := sink.WebhookConfig{HTTPOptions: h, Header: make(http.Header)}
	for _, kv := range s.webhookHeaders {
		k, v, ok := strings.Cut(kv, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || strings.ContainsAny(k, " \t\r\n") || strings.ContainsAny(v, "\r\n") {
			// The value may be a credential: name the header, not its value.
			return cfg, fmt.Errorf("--webhook-header %q: want 'Name: value'", maskHeader(kv))
		}
		cfg.Header.Add(k, v)
	}
	if cfg.Token, err = credential(s.tokenFile, "--webhook-token-file", envWebhookToken); err != nil {
		return cfg, err
	}
	secret, err := credential(s.secretFile, "--webhook-secret-file", envWebhookSecret)
	if err != nil {
		return cfg, err
	}
	cfg.Secret = []byte(secret)
	return cfg, nil
}

func (s *sinkFlags) alertmanagerConfig() (sink.AlertmanagerConfig, error) {
	h, err := s.http(s.alertmanagerCA, "--alertmanager-ca")
	if err != nil {
		return sink.AlertmanagerConfig{}, err
	}
	instance := s.instance
	if instance == "" {
		if instance, err = os.Hostname(); err != nil {
			return sink.AlertmanagerConfig{}, fmt.Errorf("no --instance, and the host name is unknown: %w", err)
		}
	}
	if s.generatorURL != "" {
		// Checked here: the sink's own error would quote the URL whole.
		if _, err := url.Parse(s.generatorURL); err != nil {
			return sink.AlertmanagerConfig{}, fmt.Errorf("--alert-generator-url %q: does not parse as a URL", maskURL(s.generatorURL))
		}
	}
	if s.resolveTimeout <= 0 {
		return sink.AlertmanagerConfig{}, fmt.Errorf("--alert-resolve-timeout %v: want a positive duration", s.resolveTimeout)
	}
	if s.resendInterval <= 0 {
		return sink.AlertmanagerConfig{}, fmt.Errorf("--alert-resend-interval %v: want a positive duration", s.resendInterval)
	}
	fields := []string{} // not nil: none given means none, not the default
	for _, f := range s.labelFields {
		if f != "" {
			fields = append(fields, f)
		}
	}
	return sink.AlertmanagerConfig{HTTPOptions: h, Instance: instance, ResolveTimeout: s.resolveTimeout,
		ResendInterval: s.resendInterval, GeneratorURL: s.generatorURL, LabelFields: fields,
		MaxActive: s.maxActive, BatchMax: s.batchMax}, nil
}

// credential reads a secret from file, else from the environment
// variable env. A file's trailing newline is not part of the secret.
func credential(file, flag, env string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s: %w", flag, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("%s: %s is empty", flag, file)
		}
		return v, nil
	}
	return os.Getenv(env), nil
}

// parseThresholds parses --threshold ID=COUNT/WINDOW (or ID=off) values.
func parseThresholds(vals []string, pack *signatures.Pack) (map[string]pipeline.Threshold, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	known := map[string]bool{pipeline.UnknownID: true}
	for _, s := range pack.Signatures() {
		known[s.ID] = true
	}
	out := make(map[string]pipeline.Threshold)
	for _, v := range vals {
		id, spec, ok := strings.Cut(v, "=")
		if !ok || id == "" {
			return nil, fmt.Errorf("--threshold %q: want ID=COUNT/WINDOW, e.g. mosquitto/keepalive-timeout=50/5m, or ID=off", v)
		}
		if !known[id] {
			ids := make([]string, 0, len(known))
			for k := range known {
				ids = append(ids, k)
			}
			sort.Strings(ids)
			return nil, fmt.Errorf("--threshold %q: no loaded signature has id %q (have %s)", v, id, strings.Join(ids, ", "))
		}
		if spec == "off" {
			out[id] = pipeline.Threshold{}
			continue
		}
		count, window, ok := strings.Cut(spec, "/")
		n, err := strconv.Atoi(count)
		if !ok || err != nil || n < 2 {
			return nil, fmt.Errorf("--threshold %q: COUNT must be a number of 2 or more", v)
		}
		w, err := time.ParseDuration(window)
		if err != nil || w <= 0 {
			return nil, fmt.Errorf("--threshold %q: WINDOW must be a positive Go duration such as 5m", v)
		}
		out[id] = pipeline.Threshold{Count: n, Window: w}
	}
	return out, nil
}
