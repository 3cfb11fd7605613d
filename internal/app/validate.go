package app

import (
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mqttdiag/mqttdiag/internal/envelope"
	"github.com/mqttdiag/mqttdiag/internal/pipeline"

	"github.com/mqttdiag/mqttdiag/signatures"
)

// Bounds of the settings whose extremes break a run: a queue that cannot
// be allocated, a poll or re-send that spins, a line buffer of a gigabyte.
// README's flag table states them.
const (
	MaxQueueSize       = 100_000 // diagnoses per sink queue: about 3 MiB of items each
	MaxBatchMax        = 10_000
	MinMaxLineBytes    = 256
	MaxMaxLineBytes    = 4 << 20
	MaxContextLines    = 100
	MinPoll            = 100 * time.Millisecond
	MinResendInterval  = time.Second
	MinResolveTimeout  = time.Second
	MaxWindow          = 24 * time.Hour // dedup and related windows
	MaxShutdownTimeout = time.Hour
	MaxBatchWait       = time.Minute
	MaxRequestTimeout  = 10 * time.Minute
	// MaxBound is the largest --dedup-max-keys and --alert-max-active: a
	// million active alerts is about 2.9 GB, past what a sidecar should hold.
	MaxBound = 1_000_000
)

// Validate checks every value of s that command ("run" or "scan") uses,
// without touching a file: the one place run, scan and config check
// share. Files (signatures, CAs, tokens) are checked when they are read.
func (s Settings) Validate(command string) error {
	checks := []error{
		s.Global.validate(),
		s.Input.validate(),
		s.Diag.validate(),
		s.Sinks.validate(),
	}
	switch command {
	case "run":
		checks = append(checks, s.Follow.validate())
	case "scan":
		checks = append(checks, s.Report.validate())
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	return nil
}

func (g Global) validate() error {
	if _, err := zerolog.ParseLevel(strings.ToLower(g.LogLevel)); err != nil || g.LogLevel == "" {
		return settingErr("log-level", "%q: want debug, info, warn or error", g.LogLevel)
	}
	if g.LogFormat != "json" && g.LogFormat != "console" {
		return settingErr("log-format", "%q: want json or console", g.LogFormat)
	}
	return nil
}

func (in Input) validate() error {
	switch in.Broker {
	case "", signatures.BrokerMosquitto, signatures.BrokerEMQX, signatures.BrokerHiveMQ, signatures.BrokerVerneMQ, signatures.BrokerAWSIoT, signatures.BrokerPaho:
	default:
		return settingErr("broker", "%q: want mosquitto, emqx, hivemq, vernemq, awsiot or paho", in.Broker)
	}
	if in.MaxLineBytes < MinMaxLineBytes || in.MaxLineBytes > MaxMaxLineBytes {
		return settingErr("max-line-bytes", "%d: want %d to %d bytes", in.MaxLineBytes, MinMaxLineBytes, MaxMaxLineBytes)
	}
	if _, err := in.EnvelopeFormat(); err != nil {
		return err
	}
	if _, err := in.Location(); err != nil {
		return err
	}
	if in.CacheSize < 0 {
		return settingErr("cache-size", "%d: want 0 (off) or more", in.CacheSize)
	}
	if in.CacheBytes < 0 {
		return settingErr("cache-bytes", "%d: want 0 (no cache) or more", in.CacheBytes)
	}
	return nil
}

// EnvelopeFormat reads --envelope; "" is auto.
func (in Input) EnvelopeFormat() (envelope.Format, error) {
	if in.Envelope == "" {
		return envelope.Auto, nil
	}
	f, err := envelope.ParseFormat(in.Envelope)
	if err != nil {
		return f, settingErr("envelope", "%q: want %s", in.Envelope, strings.Join(envelope.Formats(), ", "))
	}
	return f, nil
}

// Location reads --timezone: an IANA zone name, or "Local" (and "") for
// the host's zone.
func (in Input) Location() (*time.Location, error) {
	if in.Timezone == "" || in.Timezone == "Local" {
		return time.Local, nil
	}
	loc, err := time.LoadLocation(in.Timezone)
	if err != nil {
		return nil, settingErr("timezone", "%q: want an IANA zone name such as Europe/Berlin or UTC, or Local for this host's zone", in.Timezone)
	}
	return loc, nil
}

// PipelineOptions are the pipeline options of the input settings: the
// envelope, the zone of zone-less times and the bound of joined lines.
func (in Input) PipelineOptions() ([]pipeline.Option, error) {
	f, err := in.EnvelopeFormat()
	if err != nil {
		return nil, err
	}
	loc, err := in.Location()
	if err != nil {
		return nil, err
	}
	return []pipeline.Option{pipeline.Envelope(f), pipeline.Location(loc), pipeline.MaxLineBytes(in.MaxLineBytes)}, nil
}

func (d Diag) validate() error {
	if err := ValidateLang(d.Lang); err != nil {
		return err
	}
	if d.ContextLines < 0 || d.ContextLines > MaxContextLines {
		return settingErr("context", "%d: want 0 to %d lines", d.ContextLines, MaxContextLines)
	}
	return durationIn("related-window", d.RelatedWindow, 0, MaxWindow, "0 (off) or up to")
}

// ValidateLang checks a --lang value; explain and the diagnosis commands
// share it.
func ValidateLang(lang string) error {
	if lang != "en" && lang != "zh" {
		return settingErr("lang", "%q: want en or zh", lang)
	}
	return nil
}

func (s Sinks) validate() error {
	switch {
	case s.QueueSize < 1 || s.QueueSize > MaxQueueSize:
		return settingErr("queue-size", "%d: want 1 to %d", s.QueueSize, MaxQueueSize)
	case s.BatchMax < 1 || s.BatchMax > MaxBatchMax:
		return settingErr("batch-max", "%d: want 1 to %d", s.BatchMax, MaxBatchMax)
	// Each bounds memory that log content fills: a dedup key costs about
	// 280 bytes, an active alert about 2.9 KB (BENCHMARKS.md).
	case s.MaxDedupKeys < 1 || s.MaxDedupKeys > MaxBound:
		return settingErr("dedup-max-keys", "%d: want 1 to %d", s.MaxDedupKeys, MaxBound)
	case s.MaxActive < 1 || s.MaxActive > MaxBound:
		return settingErr("alert-max-active", "%d: want 1 to %d", s.MaxActive, MaxBound)
	}
	for _, c := range []struct {
		flag    string
		v       time.Duration
		min     time.Duration
		max     time.Duration
		wording string
	}{
		{"batch-wait", s.BatchWait, 0, MaxBatchWait, "0 or up to"},
		{"request-timeout", s.RequestTimeout, time.Millisecond, MaxRequestTimeout, "a duration from 1ms to"},
		{"alert-resolve-timeout", s.ResolveTimeout, MinResolveTimeout, MaxWindow, "a duration from 1s to"},
		{"alert-resend-interval", s.ResendInterval, MinResendInterval, MaxWindow, "a duration from 1s to"},
		{"dedup-window", s.DedupWindow, 0, MaxWindow, "0 (off) or up to"},
		{"shutdown-timeout", s.ShutdownTimeout, time.Millisecond, MaxShutdownTimeout, "a duration from 1ms to"},
	} {
		if err := durationIn(c.flag, c.v, c.min, c.max, c.wording); err != nil {
			return err
		}
	}
	return nil
}

func (f Follow) validate() error {
	if f.Format != "" { // "": text on a terminal, else json
		if err := checkFormat(f.Format); err != nil {
			return err
		}
	}
	if f.Poll != 0 {
		if err := durationIn("poll", f.Poll, MinPoll, time.Hour, "0 (inotify) or a duration from 100ms to"); err != nil {
			return err
		}
	}
	return durationIn("ready-failing-after", f.ReadyFailingAfter, time.Second, MaxWindow, "a duration from 1s to")
}

func (r Report) validate() error {
	if r.Format != "" {
		if err := checkReportFormat(r.Format); err != nil {
			return err
		}
	}
	_, err := useColor(r.Color, false)
	return err
}

// durationIn checks min <= v <= max; wording names the range before max.
func durationIn(flag string, v, min, max time.Duration, wording string) error {
	if v < min || v > max {
		return settingErr(flag, "%v: want %s %v", v, wording, fmtDuration(max))
	}
	return nil
}

// fmtDuration writes whole hours and minutes as people do: 1h, not 1h0m0s.
func fmtDuration(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	s = strings.TrimSuffix(s, "0m")
	if s == "" {
		return "0s"
	}
	return s
}
