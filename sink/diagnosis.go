// Package sink owns diagnoses and their delivery: the Diagnosis record that
// leaves mqttdiag, and the sinks that carry it to stdout, webhooks and
// Alertmanager.
//
// Every sink is a Notifier: it reports whether a failed delivery is worth
// retrying, so that one retry loop serves all of them.
package sink

import (
	"context"
	"fmt"
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
	// banner, else the one the signature is for; "" when neither says.
	// The keys a receiver relies on are always present, empty when
	// unknown, so that a missing key never has to be told from an empty one.
	Broker string `json:"broker"`
	// BrokerVersion is the version from the startup banner, when seen.
	BrokerVersion string `json:"broker_version,omitempty"`
	// VersionNote is set when the signature's version table does not list
	// BrokerVersion: the knowledge may not apply to this release.
	VersionNote string `json:"version_note,omitempty"`

	RootCause   string       `json:"root_cause"`
	Workarounds []Workaround `json:"workarounds"`
	DeadEnds    []DeadEnd    `json:"dead_ends"`
	DocURL      string       `json:"doc_url"`
	ErrorCode   string       `json:"error_code"`

	Line string `json:"line"`
	// Fields are the signature's named captures: {} when it has none.
	Fields map[string]string `json:"fields"`
	Source Source            `json:"source"`
	// Envelope is what a syslog, journal or container envelope around the
	// line said of it (Line keeps the envelope); absent for a plain line.
	Envelope *Envelope `json:"envelope,omitempty"`
	// LogTime is the time the broker wrote on the line; null when the line
	// has none.
	LogTime *time.Time `json:"log_time"`
	// Context is the lines the same source wrote just before Line, oldest
	// first: brokers often print the key fact on the line before.
	Context []string `json:"context,omitempty"`
	// Related holds the ids of earlier diagnoses from the same source that
	// this one follows from (the signatures' transition_graph), seen within
	// the related window: "bridge auth failed" then "messages dropped".
	Related []string `json:"related,omitempty"`
	// PartOf, when set, is the id of the diagnosis of the fault this line
	// is a detail of (its signature's part_of): such a diagnosis is at
	// info severity and raises no alert of its own; it is recorded
	// (stdout) so that every line stays accounted for.
	PartOf string `json:"part_of,omitempty"`
	// Details are the detail lines read with the cause, in the same read
	// of the log, in order (an OpenSSL error stack, the "not authorised"
	// line after a refused CONNACK); their captures also fill the
	// fields this diagnosis' own line did not have. Details read later
	// reach the sinks only as their own part_of diagnoses: the cause is
	// never held back waiting for them.
	Details []Detail `json:"details,omitempty"`
	// ClassifiedFrom is the signature the line itself matched when the
	// line before it reclassified it (its signature's context rules):
	// SignatureID then names the signature it became.
	ClassifiedFrom string `json:"classified_from,omitempty"`
	// PackVersion and PackHash identify the signature pack that made the
	// diagnosis.
	PackVersion string    `json:"pack_version,omitempty"`
	PackHash    string    `json:"pack_hash,omitempty"`
	ObservedAt  time.Time `json:"observed_at"`

	// Open says the fault lasts until a line its signature names
	// (ends_when) is read: alerting sinks keep it firing until then
	// rather than resolving it when it stops recurring.
	Open bool `json:"open,omitempty"`
	// EndedAt, when set, makes this a notification that an open fault
	// ended: Line is the line that ended it (a broker's "running", a
	// bridge's connection), the rest is the fault's last diagnosis, and
	// EndedAt is the ending line's time (else when mqttdiag read it).
	EndedAt *time.Time `json:"ended_at,omitempty"`

	// The fields below are set on summaries only (storm control and
	// thresholds), so a single diagnosis reads as it always did.

	// Count is how many occurrences this notification stands for. No
	// occurrence is counted in two notifications, so the counts of every
	// notification about a fault add up to its occurrences. Absent means 1.
	Count int `json:"count,omitempty"`
	// FirstSeen and LastSeen bound the occurrences counted (each one's log
	// time when it has one, else when mqttdiag read it).
	FirstSeen *time.Time `json:"first_seen,omitempty"`
	LastSeen  *time.Time `json:"last_seen,omitempty"`
	// Clients are the distinct client ids involved, sorted, at most
	// MaxClients of them; ClientCount says how many there were in all.
	Clients     []string `json:"clients,omitempty"`
	ClientCount int      `json:"client_count,omitempty"`
	// Summary says why the notification stands for several occurrences:
	// "dedup" (identical diagnoses within the window, after the first was
	// sent) or "threshold" (a signature's threshold was crossed).
	Summary string `json:"summary,omitempty"`
}

// Detail is a line that belongs to a diagnosed fault.
type Detail struct {
	Line        string            `json:"line"`
	SignatureID string            `json:"signature_id"`
	Fields      map[string]string `json:"fields"`
}

// MaxClients bounds Diagnosis.Clients, so that a summary of a storm from
// a million clients stays a small message.
const MaxClients = 20

// Occurrences is the number of occurrences d stands for: Count, or 1.
func (d *Diagnosis) Occurrences() int {
	if d.Count > 0 {
		return d.Count
	}
	return 1
}

// SeenAt is when the fault occurred: the line's own time when it has one,
// else when mqttdiag read it.
func (d *Diagnosis) SeenAt() time.Time {
	if d.LogTime != nil {
		return *d.LogTime
	}
	return d.ObservedAt
}

// Workaround is a fix and how often it works, 0..1, with what says so;
// the rate is null when nothing does.
type Workaround struct {
	Action      string   `json:"action"`
	How         string   `json:"how,omitempty"`
	SuccessRate *float64 `json:"success_rate"`
	Sources     []string `json:"sources,omitempty"`
}

// DeadEnd is what not to try, and why; its rate as Workaround's.
type DeadEnd struct {
	Action   string   `json:"action,omitempty"`
	WhyFails string   `json:"why_fails"`
	FailRate *float64 `json:"fail_rate"`
	Sources  []string `json:"sources,omitempty"`
}

// Envelope is what was wrapped around a broker's line: the envelope's name
// (syslog, rfc5424, journal, docker, cri, compose, kubectl) and what it
// said. Fields it did not have are absent.
type Envelope struct {
	Format    string     `json:"format"`
	Time      *time.Time `json:"time,omitempty"`
	Host      string     `json:"host,omitempty"`
	Program   string     `json:"program,omitempty"`
	PID       string     `json:"pid,omitempty"`
	Unit      string     `json:"unit,omitempty"`
	Container string     `json:"container,omitempty"`
	Pod       string     `json:"pod,omitempty"`
	Stream    string     `json:"stream,omitempty"`
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
//
// A recoverable failure may carry how long to wait before the next try
// (an HTTP 429 or 503 with Retry-After) as a *RetryAfterError.
type Notifier interface {
	Notify(ctx context.Context, ds []*Diagnosis) (retry bool, err error)
}

// Refresher is a Notifier that must repeat what it sent while it is
// current: Alertmanager forgets an alert at its endsAt and after a
// restart, so a firing alert is re-sent, as Prometheus does. The delivery
// loop calls Refresh every RefreshInterval, between deliveries; a failed
// refresh is simply tried again at the next interval. Refresh returns how
// many things it sent again (0 when nothing is current: no request).
type Refresher interface {
	Notifier
	RefreshInterval() time.Duration
	Refresh(ctx context.Context) (resent int, err error)
}

// RetryAfterError is a recoverable failure whose receiver said when to
// try again.
type RetryAfterError struct {
	Err   error
	After time.Duration
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (receiver asks to retry in %v)", e.Err, e.After)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }
