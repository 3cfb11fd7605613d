// Package app runs mqttdiag's commands: it turns resolved settings into a
// tailer, a pipeline, sinks, telemetry and a reloader, runs them and stops
// them in order. It owns configuration layering (flag > environment > file
// > default), the checks of every setting's value, and the wording of
// setting errors. It does not know cobra or the command tree: cmd/mqttdiag
// declares the flags (the one schema) and hands over a Settings value.
package app

import (
	"maps"
	"slices"
	"time"
)

// Settings is everything run and scan are told, resolved from flags, the
// environment, the configuration file and defaults. It is a value: the
// app copies what it keeps and never writes it back.
type Settings struct {
	Global Global
	Input  Input
	Diag   Diag
	Sinks  Sinks
	Follow Follow // run only
	Report Report // scan only

	// ConfigPath is the configuration file the settings were read from
	// ("" for none); a reload reads it again.
	ConfigPath string
	sources    Sources
}

// WithSources returns s with where each setting came from.
func (s Settings) WithSources(src Sources) Settings {
	s.sources = src.clone()
	return s
}

// Source says where setting name came from.
func (s Settings) Source(name string) Source { return s.sources[name] }

// Global settings apply to every command.
type Global struct {
	SignatureDirs []string
	NoBuiltin     bool
	LogFormat     string
	LogLevel      string
}

// Input settings shape reading and matching.
type Input struct {
	MaxLineBytes int
	CacheSize    int
	CacheBytes   int64
	Broker       string
	// Envelope is what wraps the broker's lines: "auto" (recognise each
	// line's), "none", or one of envelope.Formats.
	Envelope string
	// Timezone is the IANA zone of zone-less times (the broker's
	// log_timestamp_format, syslog's), or "Local": the host's zone, which
	// is the broker's when it runs on the same host.
	Timezone string
	// JournalDir is the journal directory journald: inputs read
	// (journalctl --directory); empty: the system journal.
	JournalDir string
}

// Diag settings shape diagnoses.
type Diag struct {
	NoUnknown     bool
	BrokerConfig  string
	ContextLines  int
	Lang          string
	RelatedWindow time.Duration
}

// Sinks settings configure delivery: the alerting sinks, storm control,
// queues and shutdown.
type Sinks struct {
	Webhooks        []string
	WebhookHeaders  []string
	TokenFile       string
	SecretFile      string
	WebhookCA       string
	RequestTimeout  time.Duration
	BatchMax        int
	BatchWait       time.Duration
	Alertmanagers   []string
	AlertmanagerCA  string
	Instance        string
	ResolveTimeout  time.Duration
	ResendInterval  time.Duration
	GeneratorURL    string
	LabelFields     []string
	MaxActive       int
	DedupWindow     time.Duration
	MaxDedupKeys    int
	DedupStdout     bool
	Thresholds      []string
	QueueSize       int
	ShutdownTimeout time.Duration
}

// Follow settings are run's.
type Follow struct {
	FromBeginning     bool
	Poll              time.Duration
	State             string
	Exclude           []string
	MetricsAddr       string
	ReadyFailingAfter time.Duration
	Format            string // run's output: json (one object a line) or text (one line for people); "" chooses by whether stdout is a terminal
}

// Report settings are scan's.
type Report struct {
	Format      string // "" chooses by whether stdout is a terminal
	HTMLPath    string
	Color       string
	NoProgress  bool
	ProgressMin int64
}

// clone copies the lists, so that a Settings shares nothing mutable with
// the flags it was read from.
func (s Settings) clone() Settings {
	s.Global.SignatureDirs = slices.Clone(s.Global.SignatureDirs)
	s.Sinks.Webhooks = slices.Clone(s.Sinks.Webhooks)
	s.Sinks.WebhookHeaders = slices.Clone(s.Sinks.WebhookHeaders)
	s.Sinks.Alertmanagers = slices.Clone(s.Sinks.Alertmanagers)
	s.Sinks.LabelFields = slices.Clone(s.Sinks.LabelFields)
	s.Sinks.Thresholds = slices.Clone(s.Sinks.Thresholds)
	s.Follow.Exclude = slices.Clone(s.Follow.Exclude)
	s.sources = s.sources.clone()
	return s
}

// Snapshot returns a copy of s that shares no list with it: what the
// flags were bound to may change afterwards without changing the copy.
func (s *Settings) Snapshot() Settings { return s.clone() }

// SourceKind is where a setting's value came from.
type SourceKind int

// The places a setting comes from, weakest first.
const (
	FromDefault SourceKind = iota
	FromFile
	FromEnv
	FromFlag
)

func (k SourceKind) String() string {
	return [...]string{"default", "file", "env", "flag"}[k]
}

// Source is where a setting's value came from: At is the environment
// variable or file:line.
type Source struct {
	Kind SourceKind
	At   string
}

// Sources maps setting names to where their values came from.
type Sources map[string]Source

func (s Sources) clone() Sources { return maps.Clone(s) }
