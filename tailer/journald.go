package tailer

// The journald input: "journald:UNIT" follows one systemd unit's entries,
// "journald:FIELD=VALUE" the entries with that field (a container's,
// CONTAINER_NAME=…, as Docker's journald log driver writes them),
// "journald:" the whole journal, by running the real journalctl with
// --output=json (as Vector's journald source does): no cgo, and no copy of
// the journal file format, whose readers systemd keeps compatible only
// through sd-journal and journalctl.
//
// Each output line is one entry in the journal JSON format
// (https://systemd.io/JOURNAL_EXPORT_FORMATS/#journal-json-format): an
// object of fields whose values are strings, or arrays of byte values for
// fields that are not valid UTF-8 text, and null for fields longer than
// 4096 bytes unless --all, which the reader gives. The line is passed on as it is:
// the pipeline reads it with internal/envelope's Journal decoder, the one
// reader of MESSAGE (string or bytes), __REALTIME_TIMESTAMP (the line's
// time), _SYSTEMD_UNIT, SYSLOG_IDENTIFIER and _PID (the envelope's facts).
// The tailer reads only the entry's __CURSOR: where to resume, and the
// entry's identity.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/envelope"
)

// JournalPrefix starts an input that names the systemd journal:
// "journald:UNIT" for one unit's entries, "journald:" for all of them.
const JournalPrefix = "journald:"

// IsJournal reports whether the input path names the journal.
func IsJournal(path string) bool { return strings.HasPrefix(path, JournalPrefix) }

// JournalDir reads the journal files in dir (journalctl --directory)
// instead of the system journal: a journal directory mounted into a
// container, or written by systemd-journal-remote.
func JournalDir(dir string) Option { return func(o *options) { o.journalDir = dir } }

// Journalctl is the journalctl program run for journald inputs (default
// "journalctl", found in PATH).
func Journalctl(path string) Option { return func(o *options) { o.journalctl = path } }

// journalCommand replaces how journalctl is started (tests: another user).
func journalCommand(f func(ctx context.Context, name string, args ...string) *exec.Cmd) Option {
	return func(o *options) { o.journalCmd = f }
}

// Bounds of the journal reader.
const (
	// journalLineBytes bounds one JSON entry. journalctl runs with --all:
	// without it a field over 4096 bytes is null, and a long broker line
	// would be lost. journald cuts a stream's line at LineMax (48 KiB by
	// default; journald.conf(5)), which JSON escaping can grow six-fold:
	// an entry longer than 1 MiB is cut like any line, and its cursor
	// lost (the next one's supersedes it).
	journalLineBytes = 1 << 20
	// maxCursorBytes bounds a cursor read from the state file; journalctl
	// writes about 130 bytes ("s=…;i=…;b=…;m=…;t=…;x=…").
	maxCursorBytes  = 512
	journalRetryMin = time.Second
	journalRetryMax = 30 * time.Second
	// journalHealthy is how long a restarted journalctl must run before
	// its problem is cleared.
	journalHealthy = 2 * time.Second
)

// journalInput is one journald input.
type journalInput struct {
	spec  string // the argument, "journald:UNIT" or "journald:FIELD=VALUE"
	unit  string // empty: the whole journal, or match
	match string // FIELD=VALUE, a journalctl match
	// allFields: journalctl prints every field (it knows no
	// --output-fields).
	allFields bool
}

// parseJournalInput reads a journald input argument.
func parseJournalInput(spec string) (journalInput, error) {
	arg := strings.TrimPrefix(spec, JournalPrefix)
	if strings.HasPrefix(arg, "-") || strings.ContainsFunc(arg, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return journalInput{}, fmt.Errorf("input %q: %q is not a systemd unit name nor a FIELD=VALUE match (journald:UNIT, e.g. journald:mosquitto.service; journald:CONTAINER_NAME=mosquitto; or journald: for the whole journal)", spec, arg)
	}
	if field, value, ok := strings.Cut(arg, "="); ok {
		if !journalFieldName(field) || value == "" {
			return journalInput{}, fmt.Errorf("input %q: %q is not a journal field match: FIELD=VALUE with a field name of capital letters, digits and underscores (journald:CONTAINER_NAME=mosquitto, journald:SYSLOG_IDENTIFIER=mosquitto)", spec, arg)
		}
		return journalInput{spec: spec, match: arg}, nil
	}
	return journalInput{spec: spec, unit: arg}, nil
}

// journalFieldName reports whether s is a journal field name as journald
// accepts them: capital letters, digits and underscores, not starting
// with a digit (journal_field_valid in src/libsystemd/sd-journal/
// journal-file.c; a leading underscore marks a trusted field).
func journalFieldName(s string) bool {
	if s == "" || len(s) > 64 || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// journalEntry is what the tailer reads of a journal JSON entry.
type journalEntry struct {
	Cursor string `json:"__CURSOR"`
}

// parseJournalEntry reads the cursor of one journalctl --output=json line,
// with the envelope decoder's JSON reader (envelope.JournalCursor): the
// line is then read the same way here and in the pipeline, and at a tenth
// of encoding/json's cost.
func parseJournalEntry(line []byte) (journalEntry, cursor, error) {
	var e journalEntry
	cur, err := envelope.JournalCursor(string(line))
	if err != nil {
		return e, cursor{}, fmt.Errorf("not a journal JSON entry: %w", err)
	}
	e.Cursor = cur
	c, err := parseCursor(e.Cursor)
	if err != nil {
		return e, c, err
	}
	return e, c, nil
}

// cursor is what a journal cursor says of its entry's place: the id of
// the sequence-number series (s=) and the entry's number in it (i=). They
// are part of sd-journal's cursor format ("s=SEQNUM_ID;i=SEQNUM;b=BOOT_ID;
// m=MONOTONIC;t=REALTIME;x=XOR_HASH", sd_journal_get_cursor in
// src/libsystemd/sd-journal/sd-journal.c). journald numbers every entry it
// writes in one series, across its journal files, so (s, i) names an
// entry for good: it is the entry's stream and offset, from which
// diagnosis ids are derived, the same after a restart.
type cursor struct {
	seqnumID string
	seqnum   uint64
}

// parseCursor reads s= and i= of a cursor.
func parseCursor(c string) (cursor, error) {
	if c == "" {
		return cursor{}, errors.New("the entry has no __CURSOR")
	}
	if err := validCursor(c); err != nil {
		return cursor{}, err
	}
	var out cursor
	var haveI bool
	for _, kv := range strings.Split(c, ";") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch k {
		case "s":
			out.seqnumID = v
		case "i":
			n, err := strconv.ParseUint(v, 16, 64)
			if err != nil {
				return cursor{}, fmt.Errorf("cursor %q: i= is not a hexadecimal sequence number", c)
			}
			out.seqnum, haveI = n, true
		}
	}
	if out.seqnumID == "" || !haveI {
		return cursor{}, fmt.Errorf("cursor %q has no s= or i= field", c)
	}
	return out, nil
}

// validCursor checks a cursor before it becomes journalctl's argument.
func validCursor(c string) error {
	if len(c) > maxCursorBytes {
		return fmt.Errorf("cursor of %d bytes, more than %d", len(c), maxCursorBytes)
	}
	for i := 0; i < len(c); i++ {
		if c[i] <= ' ' || c[i] >= 0x7f {
			return fmt.Errorf("cursor %q holds a byte that is not printable ASCII", c)
		}
	}
	return nil
}

// journalState is where a journald input resumes: the cursor of the last
// acknowledged entry, and the lines before it.
type journalState struct {
	cursor string
	line   int64
	// known: the state file had the input; without a cursor, every
	// entry is new since.
	known bool
}

// readJournal reads one journald input: once to its end without Follow,
// else until ctx ends, starting journalctl again (after a pause) whenever
// it fails, its problem then reported by Problems.
func (t *Tailer) readJournal(ctx context.Context, in journalInput, from journalState, tr *track, out chan<- Batch) error {
	r := &journalReader{t: t, in: in, after: from.cursor, num: from.line, tr: tr, out: out,
		ctr: t.counters(in.spec), all: t.o.fromBeginning || from.known || !t.o.follow}
	if !t.o.follow {
		err := r.run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	wait := journalRetryMin
	for {
		start := time.Now()
		err := r.run(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("input %s: journalctl ended while following the journal", in.spec)
		}
		t.journalProblem(in.spec, err)
		t.o.log.Error().Err(err).Str("input", in.spec).Stringer("retry_in", wait).Msg("cannot read the journal; its faults are not diagnosed until journalctl runs")
		if time.Since(start) > journalRetryMax {
			wait = journalRetryMin
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.o.clock.After(wait):
		}
		wait = min(2*wait, journalRetryMax)
	}
}

// journalReader runs journalctl for one input and emits its entries.
type journalReader struct {
	t     *Tailer
	in    journalInput
	after string // cursor of the last entry emitted
	// all: without a cursor, read every entry; else start at the end.
	all    bool
	num    int64
	seq    uint64
	tr     *track
	out    chan<- Batch
	ctr    *sourceCounters
	stream string
}

// tail returns the cursor of the input's last entry ("" when it has
// none), so that following starts after it.
func (r *journalReader) tail(ctx context.Context) (string, error) {
	o := &r.t.o
	args := r.in.matchArgs(o.journalWhich(r.in, "--output=json", "--no-pager", "--lines=1"))
	cmd := o.command(ctx, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &limitedBuffer{b: &stderr, max: 4096}
	b, err := cmd.Output()
	if err != nil || deniedJournal(stderr.String()) {
		if err == nil {
			err = errors.New("journalctl reads only part of the journal")
		}
		return "", o.journalError(r.in, err, stderr.String())
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "", nil
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	e, _, err := parseJournalEntry(b)
	if err != nil {
		return "", fmt.Errorf("input %s: journalctl's last entry: %w", r.in.spec, err)
	}
	return e.Cursor, nil
}

// run runs journalctl once, emitting its entries, until it exits or ctx
// ends. A nil error means journalctl exited with status 0.
func (r *journalReader) run(ctx context.Context) error {
	o := &r.t.o
	if r.after == "" && !r.all {
		// Start at the end, as files do, but at a cursor, saved: what
		// is written from now on is read even if mqttdiag stops before
		// it acknowledged an entry. An input without entries yet is
		// read from its beginning: all of it is new.
		c, err := r.tail(ctx)
		if err != nil {
			return err
		}
		r.after, r.all = c, true
		if r.tr != nil {
			r.tr.setCursor(c)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := o.command(ctx, o.journalArgs(r.in, o.follow, r.after)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("input %s: %w", r.in.spec, err)
	}
	sw := &stderrWatch{denied: func(s string) {
		err := o.journalError(r.in, errors.New("journalctl reads only part of the journal"), s)
		r.t.journalProblem(r.in.spec, err)
		o.log.Error().Err(err).Str("input", r.in.spec).Msg("the journal is read in part only")
	}}
	cmd.Stderr = sw
	partial := o.unreadableJournal(r.in)
	if partial != nil {
		r.t.journalProblem(r.in.spec, partial)
		o.log.Error().Err(partial).Str("input", r.in.spec).Msg("the journal is read in part only")
	}
	if err := cmd.Start(); err != nil {
		return o.journalError(r.in, err, "")
	}
	healthy := time.AfterFunc(journalHealthy, func() {
		if !sw.wasDenied() && partial == nil {
			r.t.journalProblem(r.in.spec, nil)
		}
	})
	defer healthy.Stop()
	readErr := r.read(ctx, stdout)
	if readErr != nil {
		cancel() // journalctl may be blocked writing what nobody reads
	}
	waitErr := cmd.Wait()
	if ctx.Err() != nil {
		return nil
	}
	if readErr != nil {
		return readErr
	}
	if waitErr != nil {
		if !r.in.allFields && noOutputFields(sw.String()) {
			r.in.allFields = true // an old journalctl: every field, as it can
			return r.run(ctx)
		}
		return o.journalError(r.in, waitErr, sw.String())
	}
	if !o.follow && sw.wasDenied() {
		return o.journalError(r.in, errors.New("journalctl read only part of the journal"), sw.String())
	}
	if !o.follow && partial != nil {
		return partial
	}
	return nil
}

// read emits the entries journalctl writes, a batch whenever no more are
// buffered, until its output ends.
func (r *journalReader) read(ctx context.Context, stdout io.Reader) error {
	e := r.t.newEmitter(r.out, r.in.spec, r.stream, &r.seq, r.num)
	e.ctr = nil // offsets are sequence numbers, not bytes: counted here
	e.tr = r.tr
	lr := newLineReader(stdout, 0, max(r.t.o.maxLineBytes, journalLineBytes))
	flush := func() bool {
		n := len(e.batch)
		if n == 0 {
			return true
		}
		size := int64(len(e.text))
		if !e.flush(ctx) {
			return false
		}
		r.ctr.lines.Add(int64(n))
		r.ctr.bytes.Add(size)
		return true
	}
	add := func(l rawLine) { r.entry(e, l, flush) }
	if err := pump(ctx, lr, e, add, flush); err != nil {
		return fmt.Errorf("input %s: read journalctl's output: %w", r.in.spec, err)
	}
	return nil
}

// entry adds one output line to the batch, as the entry at its cursor.
func (r *journalReader) entry(e *emitter, l rawLine, flush func() bool) {
	ent, c, err := parseJournalEntry(l.text)
	stream := r.stream
	var off int64
	if err == nil {
		stream = JournalPrefix + c.seqnumID
		off = int64(c.seqnum & (1<<63 - 1))
	} else {
		// Cut (over journalLineBytes) or not an entry: it is passed on,
		// for the envelope decoder to count as unreadable, after the
		// previous entry; its cursor cannot be resumed after.
		r.t.o.log.Warn().Err(err).Str("input", r.in.spec).Msg("a journal entry without a readable cursor")
		if stream == "" {
			stream = JournalPrefix + "nocursor:" + processNonce()
		}
		off = e.lastOff
	}
	if stream != e.stream {
		// A batch's lines share a stream; a new series starts another.
		flush()
		e.stream, r.stream = stream, stream
	}
	if err == nil {
		e.cursor, r.after = ent.Cursor, ent.Cursor
	}
	e.lastOff = off
	e.add(rawLine{text: l.text, offset: off, end: off + 1, truncated: l.truncated})
	r.num = e.num
}
