package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/mqttdiag/mqttdiag/internal/app"
	"github.com/mqttdiag/mqttdiag/internal/pipeline"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/sink"
	"github.com/mqttdiag/mqttdiag/tailer"
)

// The flags are the one schema of every setting: a file key is a flag's
// long name, an environment variable MQTTDIAG_ and the name in capitals.
// They are bound to an app.Settings, which the commands hand to the app
// as a value once the environment and the file are layered in.

func registerGlobal(c *cobra.Command, g *app.Global) {
	f := c.PersistentFlags()
	f.StringArrayVar(&g.SignatureDirs, "signatures", nil, "load signatures from this JSON file or directory, in addition to the built-in pack (repeatable)")
	f.BoolVar(&g.NoBuiltin, "no-builtin", false, "do not load the built-in signature pack")
	f.StringVar(&g.LogFormat, "log-format", "json", "format of mqttdiag's own logs on stderr: json or console")
	f.StringVar(&g.LogLevel, "log-level", "info", "level of mqttdiag's own logs: debug, info, warn, error")
}

func registerInput(c *cobra.Command, in *app.Input) {
	f := c.Flags()
	f.IntVar(&in.MaxLineBytes, "max-line-bytes", tailer.DefaultMaxLineBytes, "cut lines longer than this many bytes (the kept part is still matched)")
	f.IntVar(&in.CacheSize, "cache-size", matcher.DefaultCacheEntries, "entries of the matcher's result cache for lines that need regex work (0: off)")
	f.Int64Var(&in.CacheBytes, "cache-bytes", matcher.DefaultCacheBytes, "bytes of messages and captures the matcher's result cache may hold")
	f.StringVar(&in.Envelope, "envelope", "auto", "what wraps the broker's lines: auto (recognise each line's), none, syslog, rfc5424, journal, docker, cri, compose or kubectl; other programs' lines are skipped, unreadable ones counted")
	f.StringVar(&in.Timezone, "timezone", "Local", "zone of times that carry none (the broker's log_timestamp_format, syslog's): an IANA name such as Europe/Berlin, or Local for this host's zone ($TZ), the broker's when it runs here")
	f.StringVar(&in.JournalDir, "journal-dir", "", "journald: inputs read the journal files in this directory (journalctl --directory), e.g. a mounted /var/log/journal (default: the system journal)")
	f.StringVar(&in.Broker, "broker", "", "the logs' system, mosquitto, emqx, hivemq, vernemq, awsiot or paho: apply only its signatures from the first line (default: from the startup banner or the lines' shape)")
}

func registerDiag(c *cobra.Command, d *app.Diag) {
	f := c.Flags()
	f.BoolVar(&d.NoUnknown, "no-unknown", false, "do not report fault-looking lines that no signature explains (signature_id \"unknown\")")
	f.StringVar(&d.BrokerConfig, "broker-config", "", "the broker's mosquitto.conf or emqx.conf: at start, say which signatures cannot fire with its logging settings")
	f.IntVar(&d.ContextLines, "context", 3, "carry this many preceding lines of the same source with each diagnosis (0: none)")
	f.StringVar(&d.Lang, "lang", "en", "language of diagnoses: en, or zh for the signatures' Chinese text where they have it")
	f.DurationVar(&d.RelatedWindow, "related-window", 5*time.Minute, "link a diagnosis to earlier ones its signature follows from (transition_graph) seen within this window (0: off)")
}

func registerSinks(c *cobra.Command, s *app.Sinks) {
	f := c.Flags()
	f.StringArrayVar(&s.Webhooks, "webhook", nil, "POST diagnoses as JSON to this URL (repeatable: each gets every alert)")
	f.StringArrayVar(&s.WebhookHeaders, "webhook-header", nil, "add this header to webhook requests, as 'Name: value' (repeatable; in $MQTTDIAG_WEBHOOK_HEADER one per line, or comma-separated with \\, for a comma)")
	f.StringVar(&s.TokenFile, "webhook-token-file", "", "send the bearer token in this file, one line (else $"+app.EnvWebhookToken+")")
	f.StringVar(&s.SecretFile, "webhook-secret-file", "", "sign webhook bodies with the HMAC secret in this file (else $"+app.EnvWebhookSecret+")")
	f.StringVar(&s.WebhookCA, "webhook-ca", "", "trust only the CA certificates in this PEM file for https webhooks")
	f.DurationVar(&s.RequestTimeout, "request-timeout", sink.DefaultTimeout, "time limit of one request to a webhook or Alertmanager (up to 10m)")
	f.IntVar(&s.BatchMax, "batch-max", 100, "at most this many diagnoses per webhook or Alertmanager request (1 to 10000)")
	f.DurationVar(&s.BatchWait, "batch-wait", time.Second, "wait up to this long for a batch to fill before sending it (up to 1m)")
	f.StringArrayVar(&s.Alertmanagers, "alertmanager", nil, "send alerts to the Alertmanager at this URL (repeatable: give every replica)")
	f.StringVar(&s.AlertmanagerCA, "alertmanager-ca", "", "trust only the CA certificates in this PEM file for https Alertmanagers")
	f.StringVar(&s.Instance, "instance", "", "the instance label of alerts (default: the host name)")
	f.DurationVar(&s.ResolveTimeout, "alert-resolve-timeout", sink.DefaultResolveTimeout, "an alert resolves when its fault was not seen for this long, unless its signature names the line that ends it (ends_when) (1s to 24h)")
	f.DurationVar(&s.ResendInterval, "alert-resend-interval", sink.DefaultResendInterval, "send active alerts to Alertmanager again at this interval (1s to 24h)")
	f.StringArrayVar(&s.LabelFields, "alert-label-field", sink.DefaultLabelFields(), "a diagnosis field that becomes an alert label when the line names it (repeatable; replaces the default list; \"\" for none)")
	f.StringVar(&s.GeneratorURL, "alert-generator-url", "", "base URL of alerts' generatorURL (default: a file:// URL of the log line)")
	f.IntVar(&s.MaxActive, "alert-max-active", sink.DefaultMaxActive, "keep at most this many alerts with a client label active per Alertmanager (1 to 1000000); fold the rest into one alert per signature")
	f.IntVar(&s.MaxDedupKeys, "dedup-max-keys", pipeline.DefaultMaxDedupKeys, "keep at most this many dedup windows open (1 to 1000000); fold occurrences of further keys into one summary per signature")
	f.DurationVar(&s.DedupWindow, "dedup-window", time.Minute, "send identical diagnoses once per window, then a summary with their count (0: off; up to 24h)")
	f.BoolVar(&s.DedupStdout, "dedup-stdout", false, "apply storm control and thresholds to stdout too")
	f.StringArrayVar(&s.Thresholds, "threshold", nil, "alert on signature ID only when COUNT occurrences fall within WINDOW, as ID=COUNT/WINDOW (e.g. x/keepalive=50/5m), or ID=off (repeatable)")
	f.IntVar(&s.QueueSize, "queue-size", pipeline.DefaultQueue, "each sink's queue, in diagnoses (1 to 100000); when one is full, reading waits")
	f.DurationVar(&s.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "once the input ends or on SIGTERM, deliver what was read for at most this long (1ms to 1h); a second SIGTERM or SIGINT stops at once")
}

func registerFollow(c *cobra.Command, fl *app.Follow) {
	f := c.Flags()
	f.BoolVar(&fl.FromBeginning, "from-beginning", false, "read files from their first line instead of their end")
	f.DurationVar(&fl.Poll, "poll", 0, "check files for changes at this interval instead of using inotify (NFS, overlay filesystems; 100ms to 1h)")
	f.StringVar(&fl.State, "state", "", "keep checkpoints in this file and resume from them after a restart (at least once; exactly once after a clean stop)")
	f.StringVar(&fl.MetricsAddr, "metrics-addr", "", "serve Prometheus /metrics, /healthz and /readyz on this address, e.g. :9464 (default off)")
	f.DurationVar(&fl.ReadyFailingAfter, "ready-failing-after", 2*time.Minute, "/readyz fails once a sink has been failing this long")
	f.StringVar(&fl.Format, "format", "", "output: text (one short line per diagnosis for people: time, severity, title, facts, best fix; the default on a terminal, with a summary when it stops) or json (one diagnosis per line; the default when piped)")
	f.StringArrayVar(&fl.Exclude, "exclude", nil, "skip files of globs and directories that match this glob (base name, or whole path when it has a /); repeatable")
}

func registerReport(c *cobra.Command, r *app.Report) {
	f := c.Flags()
	f.StringVar(&r.Format, "format", "", "output: text (a report for people; the default on a terminal), markdown or html (the same report), or json (one diagnosis per line; the default when piped)")
	f.StringVar(&r.HTMLPath, "html", "", "also write a self-contained HTML incident report to this file")
	f.StringVar(&r.Color, "color", "auto", "colour the text report: auto (on a terminal, unless NO_COLOR is set), always, never")
	f.BoolVar(&r.NoProgress, "no-progress", false, "never show the progress bar")
	f.Int64Var(&r.ProgressMin, "progress-min-bytes", app.DefaultProgressMin, "show the progress bar for inputs of at least this many bytes")
	_ = f.MarkHidden("progress-min-bytes") // for tests
}
