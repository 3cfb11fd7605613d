// Package sink owns diagnoses and their delivery: the Diagnosis record that
// leaves mqttdiag, and the sinks that carry it to stdout, webhooks and
// Alertmanager.
//
// Every sink is a Notifier: it reports whether a failed delivery is worth
// retrying, so that one retry loop serves all of them.
package sink

import (
	"context"
	"time"
)

// Diagnosis is one recognised fault in one log line: the signature's
// knowledge joined with what the line told us.
type Diagnosis struct {
	// ID is stable across runs: derived from the stream identity, the
	// line's offset and the signature id, so a receiver can deduplicate
	// re-deliveries.
	ID          string `json:"id"`
	SignatureID string `json:"signature_id"`
	Title       string `json:"title"`
	Category    string `json:"category"`
	Severity    string `json:"severity"`
	// Broker is the broker that wrote the line: detected from its startup
	// banner, else the one the signature is for.
	Broker string `json:"broker,omitempty"`
	// BrokerVersion is the version from the startup banner, when seen.
	BrokerVersion string `json:"broker_version,omitempty"`
	// VersionNote is set when the signature's version table does not list
	// BrokerVersion: the knowledge may not apply to this release.
	VersionNote string `json:"version_note,omitempty"`

	RootCause   string       `json:"root_cause"`
	Workarounds []Workaround `json:"workarounds"`
	DeadEnds    []DeadEnd    `json:"dead_ends"`
	DocURL      string       `json:"doc_url,omitempty"`
	ErrorCode   string       `json:"error_code,omitempty"`

	Line   string            `json:"line"`
	Fields map[string]string `json:"fields,omitempty"`
	Source Source            `json:"source"`
	// LogTime is the time the broker wrote on the line, when it has one.
	LogTime    *time.Time `json:"log_time,omitempty"`
	ObservedAt time.Time  `json:"observed_at"`
}

// Workaround is a fix and how often it works, 0..1.
type Workaround struct {
	Action      string  `json:"action"`
	How         string  `json:"how,omitempty"`
	SuccessRate float64 `json:"success_rate"`
}

// DeadEnd is what not to try, and why.
type DeadEnd struct {
	Action   string  `json:"action,omitempty"`
	WhyFails string  `json:"why_fails"`
	FailRate float64 `json:"fail_rate"`
}

// Source locates the line a diagnosis came from.
type Source struct {
	File       string `json:"file"`
	Offset     int64  `json:"offset"`
	LineNumber int64  `json:"line_number"`
}

// Notifier delivers diagnoses somewhere. Notify reports whether a failure
// is recoverable, that is whether trying again later may succeed (a
// network error, a 5xx), as opposed to a request the receiver will always
// refuse.
type Notifier interface {
	Notify(ctx context.Context, ds []*Diagnosis) (retry bool, err error)
}
