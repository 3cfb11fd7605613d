package pipeline

import (
	"time"

	"github.com/rs/zerolog"

	"github.com/mqttdiag/mqttdiag/internal/clock"
	"github.com/mqttdiag/mqttdiag/internal/envelope"
)

type options struct {
	log             zerolog.Logger
	unknown         bool
	unknownInterval time.Duration
	broker          string
	contextLines    int           // lines before a diagnosis to carry with it
	relatedWindow   time.Duration // how far back a related diagnosis may be
	lang            string        // "zh": Chinese text where the signature has it
	packVersion     string
	packHash        string
	envelope        envelope.Format
	loc             *time.Location // of zone-less times
	maxLine         int            // bound of a line joined from pieces
	maxOpen         int            // open incidents, and pending expectations, at most
	delivery
}

// Option configures a Pipeline.
type Option func(*options)

// Logger sets the logger for the pipeline's own messages.
func Logger(l zerolog.Logger) Option { return func(o *options) { o.log = l } }

// Clock sets the clock that stamps observed_at and that backoffs, batch
// waits, storm windows, re-sends and the shutdown timeout wait on; tests
// pass a clock.Fake.
func Clock(c clock.Clock) Option { return func(o *options) { o.clock = c } }

// Unknown turns on diagnoses for fault-looking lines no signature
// explains (signature_id "unknown"), at most one per wording per interval.
func Unknown(on bool, interval time.Duration) Option {
	return func(o *options) { o.unknown, o.unknownInterval = on, interval }
}

// Broker fixes every source's broker ("mosquitto", "emqx") instead of
// waiting for its startup banner, which a log followed from its end never
// shows. The matcher then applies only that broker's signatures.
func Broker(name string) Option { return func(o *options) { o.broker = name } }

// ContextLines sets how many lines before a diagnosed line it carries,
// from the same source: brokers often print the key fact on the line before.
func ContextLines(n int) Option { return func(o *options) { o.contextLines = max(0, n) } }

// Related links a diagnosis to earlier diagnoses of the same source whose
// signatures precede its own (transition_graph), seen within window.
func Related(window time.Duration) Option { return func(o *options) { o.relatedWindow = window } }

// Lang sets the language of diagnoses: "zh" uses the signatures' Chinese
// text where they have it.
func Lang(lang string) Option { return func(o *options) { o.lang = lang } }

// Envelope chooses what is wrapped around the broker's lines (syslog,
// journal, Docker, CRI...); envelope.Auto, the default, recognises each
// line's. Lines of other programs are skipped and lines that cannot be
// read are counted (EnvelopeStats), never matched.
func Envelope(f envelope.Format) Option { return func(o *options) { o.envelope = f } }

// Location is the zone of times that carry none: the broker's
// log_timestamp_format times and syslog's. The default is time.Local, the
// zone of a broker on the same host.
func Location(loc *time.Location) Option { return func(o *options) { o.loc = loc } }

// MaxLineBytes bounds a line an envelope joins from pieces (Docker's 16
// KiB records, CRI partial lines), as the tailer bounds a physical one.
func MaxLineBytes(n int) Option { return func(o *options) { o.maxLine = n } }

// MaxOpen bounds the open incidents (ends_when) and, separately, the
// pending expectations (expects) the pipeline tracks; below 1 it is
// DefaultMaxOpen.
func MaxOpen(n int) Option { return func(o *options) { o.maxOpen = n } }

// PackInfo names the pack that New's matcher was built from.
func PackInfo(version, hash string) Option {
	return func(o *options) { o.packVersion, o.packHash = version, hash }
}
