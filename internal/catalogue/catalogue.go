// Package catalogue owns the source-derived catalogues of what brokers
// print (signatures/catalogue/<broker>.jsonl): one entry per distinct log
// format string found in a broker's source, with where it is printed, in
// which versions, and what the built-in pack makes of it. It reads,
// checks, merges and writes those files; it knows nothing of any broker's
// source language (the extractors under cmd/ do) nor of the matcher (the
// test in package signatures renders entries and matches them).
package catalogue

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
)

// Dispositions: what the pack makes of an entry.
const (
	// Signature: a signature of the built-in pack explains the line; the
	// line rendered from the format must be matched by it.
	Signature = "signature"
	// Benign: the line is not a fault, or not one an operator acts on;
	// Reason says why. No warning-or-worse signature may match it.
	Benign = "benign"
	// Gap: a fault the pack does not explain yet; Reason says why.
	Gap = "gap"
)

// Entry is one distinct format string of one broker.
type Entry struct {
	// Format is the format string as the source has it, escapes decoded
	// (C adjacent literals joined, printf verbs kept).
	Format string `json:"format"`
	// Level is the level the broker logs it at, in the broker's own words
	// (Mosquitto: error, warning, notice, information, debug, subscribe,
	// unsubscribe, websockets, internal; "stderr" for a plain print to
	// stderr before the log is open; "variable" when the call site passes
	// the level in a variable, with the caller's levels in Reason).
	Level string `json:"level"`
	// Sites are the call sites, "path:line@tag", at the newest tag of each
	// version in which the format occurs.
	Sites []string `json:"sites"`
	// Versions are the release series (e.g. "1.6", "2.0") whose source
	// holds the format.
	Versions []string `json:"versions"`
	// Disposition is Signature, Benign or Gap.
	Disposition string `json:"disposition"`
	// Signature is the id of the signature that explains the line, when
	// Disposition is Signature.
	Signature string `json:"signature,omitempty"`
	// Reason says why the line is benign, why it is still a gap, or
	// anything a reader of a Signature entry should know.
	Reason string `json:"reason,omitempty"`
	// Args, when set, are the values rendered for the format's verbs in
	// order, for formats where a generic value is implausible (an errno
	// text, a file name, an OpenSSL message).
	Args []string `json:"args,omitempty"`
}

// Read parses a catalogue: one JSON object per line; blank lines are
// skipped. An error names the line and what is wrong with it.
func Read(r io.Reader, name string) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	n := 0
	seen := map[string]int{}
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var e Entry
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		if e.Format == "" {
			return nil, fmt.Errorf("%s:%d: field format: empty", name, n)
		}
		if prev, ok := seen[e.Format]; ok {
			return nil, fmt.Errorf("%s:%d: field format: %q already at line %d; merge the two entries", name, n, e.Format, prev)
		}
		seen[e.Format] = n
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: line %d: %w", name, n+1, err)
	}
	return out, nil
}

// ReadFile is Read of a file.
func ReadFile(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f, path)
}

// Check returns what is wrong with e's disposition, or nil.
func (e *Entry) Check() error {
	switch e.Disposition {
	case Signature:
		if e.Signature == "" {
			return errors.New("disposition signature without a signature id")
		}
	case Benign, Gap:
		if e.Signature != "" {
			return fmt.Errorf("disposition %s names signature %s; use disposition signature", e.Disposition, e.Signature)
		}
		if e.Reason == "" {
			return fmt.Errorf("disposition %s without a reason", e.Disposition)
		}
	case "":
		return errors.New("no disposition: give it signature (with the id), benign or gap (with a reason)")
	default:
		return fmt.Errorf("disposition %q: want signature, benign or gap", e.Disposition)
	}
	return nil
}

// Write writes entries one per line, sorted by format, so that a
// regenerated catalogue diffs line by line.
func Write(w io.Writer, entries []Entry) error {
	sorted := slices.Clone(entries)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Format < sorted[j].Format })
	bw := bufio.NewWriter(w)
	for _, e := range sorted {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(e); err != nil {
			return err
		}
		if _, err := bw.Write(b.Bytes()); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteFile is Write to a file, replaced atomically.
func WriteFile(path string, entries []Entry) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := Write(f, entries); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Merge returns the extracted entries with the dispositions, signatures,
// reasons and args of the old entries of the same format: extraction
// refreshes where and when a format is printed, and keeps what a person
// decided about it. Old entries whose format is no longer extracted are
// returned in dropped.
func Merge(old, extracted []Entry) (merged, dropped []Entry) {
	byFormat := make(map[string]Entry, len(old))
	for _, e := range old {
		byFormat[e.Format] = e
	}
	for _, e := range extracted {
		if o, ok := byFormat[e.Format]; ok {
			e.Disposition, e.Signature, e.Reason, e.Args = o.Disposition, o.Signature, o.Reason, o.Args
			if e.Level == "variable" && o.Level != "" {
				e.Level = o.Level // a person resolved the caller's level
			}
			delete(byFormat, e.Format)
		}
		merged = append(merged, e)
	}
	for _, e := range old {
		if _, ok := byFormat[e.Format]; ok {
			dropped = append(dropped, e)
		}
	}
	return merged, dropped
}

// Update merges what an extractor found into the catalogue at path (see
// Merge) and writes it back, telling stderr what it did: the skipped
// calls when verbose, each old entry dropped, and a count. A catalogue
// not there yet is started empty.
func Update(path string, extracted []Entry, skipped []string, verbose bool, stderr io.Writer) error {
	if verbose {
		for _, s := range skipped {
			fmt.Fprintln(stderr, "skipped:", s)
		}
	}
	var old []Entry
	if _, err := os.Stat(path); err == nil {
		if old, err = ReadFile(path); err != nil {
			return err
		}
	}
	merged, dropped := Merge(old, extracted)
	for _, d := range dropped {
		fmt.Fprintf(stderr, "dropped (no longer in the source): %q\n", d.Format)
	}
	if err := WriteFile(path, merged); err != nil {
		return err
	}
	undecided := 0
	for _, e := range merged {
		if e.Disposition == "" {
			undecided++
		}
	}
	fmt.Fprintf(stderr, "%d entries (%d without a disposition), %d calls skipped, written to %s\n", len(merged), undecided, len(skipped), path)
	return nil
}

// Coverage counts entries by disposition.
type Coverage struct {
	Entries, Signature, Benign, Gap int
}

// Explained is the share of entries with a signature or benign
// disposition, in [0, 1].
func (c Coverage) Explained() float64 {
	if c.Entries == 0 {
		return 1
	}
	return float64(c.Signature+c.Benign) / float64(c.Entries)
}

func (c Coverage) String() string {
	return fmt.Sprintf("%d entries: %d signature, %d benign, %d gap; %.1f %% explained",
		c.Entries, c.Signature, c.Benign, c.Gap, 100*c.Explained())
}

// Count tallies entries, all of them under "" and each under every
// version it names.
func Count(entries []Entry) map[string]Coverage {
	out := map[string]Coverage{}
	add := func(k string, e Entry) {
		c := out[k]
		c.Entries++
		switch e.Disposition {
		case Signature:
			c.Signature++
		case Benign:
			c.Benign++
		default:
			c.Gap++
		}
		out[k] = c
	}
	for _, e := range entries {
		add("", e)
		for _, v := range e.Versions {
			add(v, e)
		}
	}
	return out
}

// Versions returns the keys of a Count other than "", sorted as version
// numbers.
func Versions(c map[string]Coverage) []string {
	var vs []string
	for v := range c {
		if v != "" {
			vs = append(vs, v)
		}
	}
	sort.Slice(vs, func(i, j int) bool { return versionLess(vs[i], vs[j]) })
	return vs
}

func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		var x, y int
		_, ex := fmt.Sscan(as[i], &x)
		_, ey := fmt.Sscan(bs[i], &y)
		if ex != nil || ey != nil {
			if as[i] != bs[i] {
				return as[i] < bs[i]
			}
			continue
		}
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

// TagLess orders release tags as versions: v1.4 < v1.4.1 < v1.4.10 <
// v5.0.9 < v5.0.10.
func TagLess(a, b string) bool {
	return versionLess(strings.TrimPrefix(a, "v"), strings.TrimPrefix(b, "v"))
}
