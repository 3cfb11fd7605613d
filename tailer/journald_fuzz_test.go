package tailer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/mqttdiag/mqttdiag/internal/envelope"
)

// FuzzJournalEntry: any line journalctl could write, or a cut or garbled
// one, is read without a panic; an entry read has a cursor that is safe
// as journalctl's argument and names its place (s=, i=). Seeds: real
// journalctl -o json lines (internal/envelope/testdata, captured from a
// real journald), and the JSON format's shapes
// (https://systemd.io/JOURNAL_EXPORT_FORMATS/#journal-json-format):
// MESSAGE as a string, an array of bytes, null.
func FuzzJournalEntry(f *testing.F) {
	if fh, err := os.Open("../internal/envelope/testdata/journal-json.txt"); err == nil {
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for n := 0; sc.Scan() && n < 8; n++ {
			f.Add(append([]byte(nil), sc.Bytes()...))
		}
		fh.Close()
	}
	for _, s := range []string{
		`{"MESSAGE":"x","__CURSOR":"s=3a90278ca1024b6f9ead869e84697969;i=1;b=df30e9da1df146b6a0013cad2ee326b0;m=3e8;t=661df5c1136a8;x=edf6ed2cb2d02970"}`,
		`{"MESSAGE":[110,255],"__CURSOR":"s=a;i=ffffffffffffffff"}`,
		`{"MESSAGE":null,"__CURSOR":"s=a;i=1"}`,
		`{"MESSAGE":"x","__CURSOR":"s=a;i=1","__CURSOR":"s=b;i=2"}`,
		`{"__CURSOR":"s=a;i=zz"}`,
		`{"__CURSOR":["s=a;i=1"]}`,
		`{"__CURSOR":"s=a;i=1\n--output=cat"}`,
		`{"MESSAGE":"x"`,
		"\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		e, c, err := parseJournalEntry(line)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if verr := validCursor(e.Cursor); verr != nil || e.Cursor == "" {
			t.Fatalf("cursor %q read, not safe as an argument: %v", e.Cursor, verr)
		}
		if c.seqnumID == "" || !strings.Contains(e.Cursor, "s="+c.seqnumID) {
			t.Fatalf("cursor %q read as %+v", e.Cursor, c)
		}
	})
}

// FuzzJournalCursor: a cursor from anywhere (the state file, journalctl)
// either is refused with a reason or is printable ASCII of bounded length
// whose place reads the same when written again.
func FuzzJournalCursor(f *testing.F) {
	for _, s := range []string{
		"s=3a90278ca1024b6f9ead869e84697969;i=1;b=df30e9da1df146b6a0013cad2ee326b0;m=3e8;t=661df5c1136a8;x=edf6ed2cb2d02970",
		"s=a;i=0", "i=1", "s=;i=1", "s=a;i=-1", "s=a;i=10000000000000000", "s=a b;i=1", "s=a;i=1;i=2", "",
		strings.Repeat("s=a;", 200) + "i=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCursor(s)
		if err != nil {
			return
		}
		if len(s) > maxCursorBytes || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
			t.Fatalf("cursor %q accepted", s)
		}
		again, err := parseCursor(fmt.Sprintf("s=%s;i=%x", c.seqnumID, c.seqnum))
		if err != nil || again != c {
			t.Fatalf("%q read as %+v, written again read as %+v, %v", s, c, again, err)
		}
		// A state file holding it loads, and gives it back unchanged.
		st, err := parseState("/s.json", []byte(fmt.Sprintf(`{"version":1,"files":[],"journals":[{"input":"journald:m.service","cursor":%q,"line":3}]}`, s)))
		if err != nil {
			if strings.ContainsAny(s, `"\`) {
				return // %q escapes differ from JSON's for these; not a cursor journalctl writes
			}
			t.Fatalf("state with cursor %q: %v", s, err)
		}
		if j, ok := st.journal("journald:m.service"); !ok || j.Cursor != s || j.Line != 3 {
			t.Fatalf("state gave back %+v, %v for cursor %q", j, ok, s)
		}
	})
}

// jsonCursor is how the tailer read an entry's cursor before it used the
// envelope decoder's reader: encoding/json into a struct.
func jsonCursor(line []byte) (string, error) {
	var e struct {
		Cursor string `json:"__CURSOR"`
	}
	err := json.Unmarshal(line, &e)
	return e.Cursor, err
}

// journalShapes are lines of the journal JSON format's shapes
// (https://systemd.io/JOURNAL_EXPORT_FORMATS/#journal-json-format) and
// broken ones.
var journalShapes = []string{
	`{"MESSAGE":"x","__CURSOR":"s=3a90278ca1024b6f9ead869e84697969;i=1;b=df30e9da1df146b6a0013cad2ee326b0;m=3e8;t=661df5c1136a8;x=edf6ed2cb2d02970"}`,
	`{"MESSAGE":[110,255],"__CURSOR":"s=a;i=ffffffffffffffff"}`,
	`{"MESSAGE":null,"__CURSOR":"s=a;i=1"}`,
	`{"MESSAGE":"x","__CURSOR":"s=a;i=1","__CURSOR":"s=b;i=2"}`,
	`{ "__CURSOR" : "s=a;i=1" , "MESSAGE" : "a \"quoted\" \u00e9 word" }`,
	`{"__CURSOR":"s\u003da;i=1"}`,
	`{"__CURSOR":"s=a;i=zz"}`,
	`{"__CURSOR":["s=a;i=1"]}`,
	`{"__CURSOR":null}`,
	`{"MESSAGE":"x"}`,
	`{"MESSAGE":"x"`,
	`{"MESSAGE":"x"} trailing`,
	`[{"__CURSOR":"s=a;i=1"}]`,
	"\xff\xfe",
	"",
}

// The tailer reads an entry's cursor with the envelope decoder's JSON
// reader (envelope.JournalCursor): on real journalctl output and on the
// format's shapes it reads what encoding/json read, and refuses what it
// refused.
func TestJournalCursorAsEncodingJSON(t *testing.T) {
	lines := journalShapes
	for _, name := range []string{"journal-json.txt", "journal-json-fields.txt"} {
		b, err := os.ReadFile("../internal/envelope/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Split(strings.TrimSpace(string(b)), "\n")...)
	}
	for _, l := range lines {
		want, werr := jsonCursor([]byte(l))
		e, _, err := parseJournalEntry([]byte(l))
		if werr == nil { // the old path then read the cursor itself
			if _, perr := parseCursor(want); perr != nil {
				werr = perr
			}
		}
		if (err == nil) != (werr == nil) || (err == nil && e.Cursor != want) {
			t.Errorf("%q: cursor %q, %v; encoding/json: %q, %v", l, e.Cursor, err, want, werr)
		}
	}
}

// FuzzJournalCursorAsEncodingJSON: where encoding/json reads a cursor the
// tailer can use (validCursor: printable ASCII), the tailer reads the same
// one; it refuses only what nests deeper than the decoder reads (64
// levels), and accepts more only where an escape it never reads is bad
// (the decoder reads the line as the tailer does). Cursors neither can
// use may differ: encoding/json turns invalid UTF-8 into U+FFFD.
func FuzzJournalCursorAsEncodingJSON(f *testing.F) {
	for _, s := range journalShapes {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		want, werr := jsonCursor(line)
		got, err := envelope.JournalCursor(string(line))
		usable := werr == nil && validCursor(want) == nil && want != ""
		switch {
		case werr == nil && err == nil && got != want && (usable || validCursor(got) == nil):
			t.Fatalf("%q: cursor %q, encoding/json %q", line, got, want)
		case usable && err != nil && !strings.Contains(err.Error(), "nested too deep"):
			t.Fatalf("%q: refused (%v), encoding/json read %q", line, err, want)
		}
	})
}

// BenchmarkJournalEntryCursor reads the cursors of real journalctl lines
// (--output-fields, as the journald input asks; and every field) the way
// the tailer does, and the way it did (encoding/json), side by side.
func BenchmarkJournalEntryCursor(b *testing.B) {
	for _, name := range []string{"journal-json-fields.txt", "journal-json.txt"} {
		data, err := os.ReadFile("../internal/envelope/testdata/" + name)
		if err != nil {
			b.Fatal(err)
		}
		var lines [][]byte
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			lines = append(lines, []byte(l))
		}
		for _, way := range []struct {
			name string
			read func([]byte) (string, error)
		}{
			{"tailer", func(l []byte) (string, error) { e, _, err := parseJournalEntry(l); return e.Cursor, err }},
			{"encoding-json", func(l []byte) (string, error) {
				c, err := jsonCursor(l)
				if err == nil {
					_, err = parseCursor(c)
				}
				return c, err
			}},
		} {
			b.Run(strings.TrimSuffix(name, ".txt")+"/"+way.name, func(b *testing.B) {
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					if _, err := way.read(lines[n%len(lines)]); err != nil {
						b.Fatal(err)
					}
					n++
				}
			})
		}
	}
}
