// Package signatures owns the knowledge base: the signature schema, loading
// and validating packs from JSON, and the built-in pack embedded in the
// binary. It is data and its checks; it imports nothing else of mqttdiag.
//
// The schema is the one of the seed documents the project started from
// (every field, so that seeds load unchanged and round-trip), plus a few
// fields of our own that make a signature testable and routable: Examples,
// Counterexamples, Severity and Broker.
package signatures

import (
	"regexp/syntax"
	"slices"
	"time"
)

// Signature is one known fault: how to recognise its log line and what an
// operator should know and do about it.
type Signature struct {
	ID          string  `json:"id"`
	Title       string  `json:"signature"` // one line; the JSON key is the seeds'
	SignatureZh string  `json:"signature_zh"`
	Regex       string  `json:"regex"` // RE2 syntax, matched against the message without its timestamp prefix
	Domain      string  `json:"domain"`
	Category    string  `json:"category"`
	Subcategory *string `json:"subcategory"`

	RootCause     string `json:"root_cause"`
	RootCauseType string `json:"root_cause_type"`
	RootCauseZh   string `json:"root_cause_zh"`

	Versions      []Version       `json:"versions"`
	OSSpecific    map[string]any  `json:"os_specific"`
	DeadEnds      []DeadEnd       `json:"dead_ends"`
	Workarounds   []Workaround    `json:"workarounds"`
	WorkaroundsZh []string        `json:"workarounds_zh"`
	Transitions   TransitionGraph `json:"transition_graph"`

	OfficialDocURL     string  `json:"official_doc_url"`
	OfficialDocSection *string `json:"official_doc_section"`
	ErrorCode          *string `json:"error_code"`

	VerificationTier string `json:"verification_tier"`
	// Confidence and FixSuccessRate are 0..1, or null when nothing
	// backs a figure: Basis names what does.
	Confidence     *float64 `json:"confidence"`
	FixSuccessRate *float64 `json:"fix_success_rate"`
	Resolvable     string   `json:"resolvable"`
	FirstSeen      string   `json:"first_seen"`
	LastConfirmed  string   `json:"last_confirmed"`
	LastUpdated    string   `json:"last_updated"`
	EvidenceCount  int      `json:"evidence_count"`
	Tags           []string `json:"tags"`
	Locale         string   `json:"locale"`
	Aliases        []string `json:"aliases"`

	// Fields below are mqttdiag's additions to the seed schema. They are
	// omitted when empty so that seed documents round-trip unchanged.

	// Basis names what backs Confidence and FixSuccessRate (a thread, a
	// document, a test that measured it, the seed they came from).
	Basis []string `json:"basis,omitempty"`

	// Examples are log lines (whole, as the broker prints them, timestamp
	// included) that the regex must match.
	Examples []string `json:"examples,omitempty"`
	// SourceExamples are lines the regex must match that were derived from
	// a broker's source code or documentation rather than captured from a
	// running broker (a version we cannot run here, or a fault that cannot
	// be provoked on one machine). They are checked like Examples but are
	// not expected to appear in a real capture.
	SourceExamples []string `json:"source_examples,omitempty"`
	// Counterexamples are log lines the regex must not match.
	Counterexamples []string `json:"counterexamples,omitempty"`
	// Severity is one of critical, error, warning, info.
	Severity string `json:"severity,omitempty"`
	// Broker limits the signature to one broker's logs ("mosquitto",
	// "emqx"); empty means any broker.
	Broker string `json:"broker,omitempty"`
	// LogLevel is what the broker must log for the line to appear at all:
	// a Mosquitto log_type (error, warning, notice, information, debug,
	// subscribe, unsubscribe, websockets) or an EMQX level (debug, info,
	// notice, warning, error, critical, alert, emergency). Empty means the
	// broker's default configuration prints it.
	LogLevel string `json:"log_level,omitempty"`
	// VerificationNote says how the examples were obtained, and why a
	// fault could not be provoked on a real broker when it could not.
	VerificationNote string `json:"verification_note,omitempty"`
	// DedupFields are the named captures that, with the id, say whether
	// two diagnoses are the same fault for storm control: the same
	// signature and the same values of these fields within the dedup
	// window are sent once and then summarised. Empty means every named
	// capture except the volatile ones (see VolatileField).
	DedupFields []string `json:"dedup_fields,omitempty"`
	// Threshold, when set, makes a single occurrence noise and many an
	// incident: the alerting sinks hear of the fault only when Count
	// occurrences (of any key) fall within Window.
	Threshold *Threshold `json:"threshold,omitempty"`
	// EndsWhen, when set, says which later line of the same source ends
	// the fault: while it has not come, the fault is open and its alert
	// keeps firing, however long the broker stays silent (a broker that
	// failed to start logs nothing more). Without it an alert resolves
	// --alert-resolve-timeout after the fault was last seen.
	EndsWhen *Follow `json:"ends_when,omitempty"`
	// Expects, when set, makes the signature a fault of absence: its
	// regex matches a line that must be followed within Expects.Within by
	// a line matching Expects.Regex, and the diagnosis is made only when
	// that deadline passes without one ("Connecting bridge (step 1)" with
	// no step 2). A match of the regex itself is no diagnosis.
	Expects *Follow `json:"expects,omitempty"`
	// PartOf, when set, makes the signature's line a detail of a fault
	// whose cause was logged just before it on the same source (an
	// OpenSSL error stack after "Unable to load server certificate", the
	// "not authorised" line after a refused CONNACK): the line is
	// diagnosed at info severity, marked with the cause's diagnosis id,
	// and raises no alert of its own.
	PartOf *Near `json:"part_of,omitempty"`
	// Context classifies the line by the line before it: the first rule
	// that holds makes the diagnosis the one of the rule's Becomes
	// signature (the 1.x "Socket error on client X, disconnecting." after
	// an OpenSSL error is a TLS failure). The line keeps its own fields.
	Context []ContextRule `json:"context,omitempty"`
	// FactsBefore, when set, takes facts from the line just before on the
	// same source when it matches: Mosquitto prints the port before
	// "Address already in use", the client's address and port before its
	// TLS failure or refused CONNACK. The regex's named captures fill the
	// diagnosis' fields its own line left empty; they are not dedup keys.
	FactsBefore *FactsBefore `json:"facts_before,omitempty"`

	// origin is where the signature was loaded from, for error messages.
	origin Origin
}

// Origin names the place a signature was loaded from.
type Origin struct {
	File string // path, or "builtin:<name>" for the embedded pack
	Line int    // 1-based line of the signature's opening brace
}

// Origin reports where the signature was loaded from.
func (s *Signature) Origin() Origin { return s.origin }

// Threshold is how many occurrences within how long make an incident.
type Threshold struct {
	Count int `json:"count"`
	// Window is a Go duration such as "5m".
	Window string `json:"window"`
}

// WindowDuration is Window parsed; 0 when it does not parse (loading
// rejects such a signature).
func (t *Threshold) WindowDuration() time.Duration {
	d, err := time.ParseDuration(t.Window)
	if err != nil {
		return 0
	}
	return d
}

// VolatileField reports whether a named capture is left out of the
// default dedup key because it differs between occurrences of one fault:
// a client's address carries an ephemeral source port that changes with
// every reconnect, and message and packet ids cycle with every message.
// Keyed on them, a reconnect storm would never fold.
func VolatileField(name string) bool {
	switch name {
	case "address", "port", "mid", "packet_id":
		return true
	}
	return false
}

// KeyFields returns the fields that form the signature's dedup key:
// DedupFields, or by default its named captures less the volatile ones, in
// the order the regex names them.
func (s *Signature) KeyFields() []string {
	if len(s.DedupFields) > 0 {
		return s.DedupFields
	}
	var fields []string
	for _, n := range captureNames(s.Regex) {
		if !VolatileField(n) && !slices.Contains(fields, n) {
			fields = append(fields, n)
		}
	}
	return fields
}

// captureNames lists the named groups of an RE2 regex, empty when it
// does not parse.
func captureNames(re string) []string {
	r, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return nil
	}
	return namedCaptures(r)
}

// namedCaptures lists the named groups of a parsed regex.
func namedCaptures(r *syntax.Regexp) []string {
	var names []string
	for _, n := range r.CapNames() {
		if n != "" {
			names = append(names, n)
		}
	}
	return names
}

// Follow is a line that must (Expects) or will (EndsWhen) follow a
// signature's line in the same source. Named captures of Regex that the
// signature's regex also names must capture the same text, so that one
// bridge's connection does not end another bridge's fault; captures the
// signature does not name are free.
type Follow struct {
	// Regex is RE2, matched against the message without its timestamp
	// prefix, as the signature's regex.
	Regex string `json:"regex"`
	// Within is a Go duration such as "30s" (Expects only): how long the
	// following line may take.
	Within string `json:"within,omitempty"`
	// Examples are whole log lines Regex must match.
	Examples []string `json:"examples,omitempty"`
}

// WithinDuration is Within parsed; 0 when it does not parse (loading
// rejects such a signature).
func (f *Follow) WithinDuration() time.Duration {
	d, err := time.ParseDuration(f.Within)
	if err != nil {
		return 0
	}
	return d
}

// SharedFields are the named captures of f's regex that the signature's
// regex names too: the fields whose values must agree.
func (s *Signature) SharedFields(f *Follow) []string {
	mine := captureNames(s.Regex)
	var out []string
	for _, n := range captureNames(f.Regex) {
		if slices.Contains(mine, n) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// Version is one entry of a signature's version table.
type Version struct {
	Version        string  `json:"version"`
	Introduced     *string `json:"introduced"`
	Deprecated     *string `json:"deprecated"`
	Removed        *string `json:"removed"`
	BehaviorChange *string `json:"behavior_change"`
	Status         string  `json:"status"`
}

// DeadEnd is something operators try that does not fix the fault.
type DeadEnd struct {
	Action   string   `json:"action"`
	WhyFails string   `json:"why_fails"`
	FailRate *float64 `json:"fail_rate"` // 0..1, null without Sources
	Cond     string   `json:"condition"`
	Sources  []string `json:"sources"`
}

// Workaround is a fix, with how often it works.
type Workaround struct {
	Action      string   `json:"action"`
	SuccessRate *float64 `json:"success_rate"` // 0..1, null without Sources
	How         string   `json:"how"`
	Cond        string   `json:"condition"`
	Sources     []string `json:"sources"`
}

// TransitionGraph links a signature to the faults around it.
type TransitionGraph struct {
	LeadsTo                []string `json:"leads_to"`
	PrecededBy             []string `json:"preceded_by"`
	FrequentlyConfusedWith []string `json:"frequently_confused_with"`
}

// Severities, most severe first.
const (
	SeverityCritical = "critical"
	SeverityError    = "error"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// Brokers a signature can be scoped to.
const (
	BrokerMosquitto = "mosquitto"
	BrokerEMQX      = "emqx"
	// BrokerHiveMQ is HiveMQ CE and Enterprise 4.x (hivemq.log, event.log).
	BrokerHiveMQ = "hivemq"
	// BrokerVerneMQ is VerneMQ 1.x (lager console.log, error.log).
	BrokerVerneMQ = "vernemq"
	// BrokerAWSIoT is AWS IoT Core's CloudWatch log group AWSIotLogsV2.
	BrokerAWSIoT = "awsiot"
	// BrokerPaho is an application's log of the Eclipse Paho clients
	// (paho-mqtt's Python logging, the Paho C trace), not a broker's.
	BrokerPaho = "paho"
)

// EffectiveSeverity is the signature's severity, defaulting to error for
// documents (such as the seeds) that predate the field.
func (s *Signature) EffectiveSeverity() string {
	if s.Severity == "" {
		return SeverityError
	}
	return s.Severity
}

// Near says how closely a line must follow another on the same source to
// belong with it (PartOf: its cause; ContextRule: the line that
// classifies it).
type Near struct {
	// Signatures are the ids of the signatures the earlier line may match.
	Signatures []string `json:"signatures"`
	// Within is a Go duration: how long after the earlier line this one
	// may come. Mosquitto's default timestamps are whole seconds, so "1s"
	// also holds lines printed across a second's turn.
	Within string `json:"within"`
	// Lines, when above 0, is how many lines of the source after the
	// earlier one (for PartOf: after the fault's latest line, cause or
	// detail) this one may be: 1 means the very next line. It is what ties
	// lines of one connection when they name no client (Mosquitto handles
	// a connection's packet in one go, so its lines are adjacent).
	Lines int `json:"lines,omitempty"`
	// Same are named captures that must hold equal text in both lines when
	// both captured them (a client id, a file): one client's disconnect
	// never becomes a detail of another client's refusal.
	Same []string `json:"same,omitempty"`
}

// WithinDuration is Within parsed; 0 when it does not parse (loading
// rejects such a signature).
func (n *Near) WithinDuration() time.Duration {
	d, err := time.ParseDuration(n.Within)
	if err != nil {
		return 0
	}
	return d
}

// ContextRule reclassifies a line by what came before it, or by its own
// captures: when the line follows a line of PrecededBy as Near says (or,
// without PrecededBy, always) and every capture named in Fields matches
// its RE2 pattern, the line is diagnosed as the signature Becomes, or as
// the line before it (AsPreceding).
type ContextRule struct {
	PrecededBy []string `json:"preceded_by,omitempty"`
	Within     string   `json:"within,omitempty"`
	Lines      int      `json:"lines,omitempty"`
	Same       []string `json:"same,omitempty"`
	// Fields maps a named capture of the signature to an RE2 pattern its
	// text must match ("client_id": "^local\\." for a bridge's own
	// connection).
	Fields map[string]string `json:"fields,omitempty"`
	// Becomes is the id of the signature whose knowledge the diagnosis
	// takes.
	Becomes string `json:"becomes,omitempty"`
	// AsPreceding, instead of Becomes, makes the line the fault of the
	// line before it (a generic disconnect after a specific TLS error is
	// that TLS error). It needs PrecededBy.
	AsPreceding bool `json:"as_preceding,omitempty"`
}

// Near returns the rule's closeness condition; nil without PrecededBy.
func (r *ContextRule) Near() *Near {
	if len(r.PrecededBy) == 0 {
		return nil
	}
	return &Near{Signatures: r.PrecededBy, Within: r.Within, Lines: r.Lines, Same: r.Same}
}

// FactsBefore is a line whose captures a signature takes from just before
// its own line.
type FactsBefore struct {
	// Regex is RE2, matched against the message without its timestamp
	// prefix, with at least one named capture.
	Regex string `json:"regex"`
	// Examples are whole log lines Regex must match.
	Examples []string `json:"examples,omitempty"`
}
