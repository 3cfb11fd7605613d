package envelope

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzMax is the MaxLineBytes of the fuzzed decoders: small, so that
// joining and cutting are reached.
const fuzzMax = 300

// seeds are lines of every envelope, well formed and not: the captures'
// first lines, broken JSON, a P piece never finished, bytes that are not
// UTF-8.
func seeds(f *testing.F) []string {
	s := []string{
		"1700000000: Client c disconnected.",
		"Mar  4 09:26:53 broker-host mosquitto[488]: 1741098413: Client c1 disconnected.",
		"<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
		"<165>1 2003-10-11T22:14:15.003Z host app - ID47 [a@1 x=\"a\\]b\"] \ufeffmsg",
		"Sat 2026-12-05 04:10:10 EST broker-host mosquitto[31496]: hello",
		"1796461810.497192 broker-host mosquitto[31496]: x",
		`{"MESSAGE":[110,255],"__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto"}`,
		`{"MESSAGE":null,"__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto"}`,
		`{"MESSAGE":"x","__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto"`,
		`{"log":"a\u003cb\u003e \ud83d\ude00\n","stream":"stderr","attrs":{"a":[1,{"b":null}]},"time":"2025-03-14T09:26:53.123456789Z"}`,
		`{"log":"piece without newline","stream":"stdout","time":"2025-03-14T09:26:53Z"}`,
		`{"log":"abc`,
		`{"log":"\ud800\n","stream":"stdout","time":"2025-03-14T09:26:53Z"}`,
		"2016-10-06T00:17:09.669794202Z stdout P never finished",
		"2016-10-06T00:17:09.669794202Z stderr F done",
		"2016-10-06T00:17:09.669794202Z stdout X bad tag",
		"\x1b[36mmosquitto-1  | \x1b[0m1643995716: x",
		"[pod/mosquitto-0/mosquitto] x",
		"Mar  4 09:26:53 h mosquitto[1]: #011x #1",
		"\xff\xfe\xfd",
		"Mar  4 09:26:53 \xff mosquitto[1]: \xfe",
		"gen 23 10:45:17 localhost.localdomain mosquitto[4046]: 1453542317: x",
		"déc. 04 09:26:53.123456 h mosquitto[1]: x",
		"maalis 4 09:26:53 h mosquitto[1]: x",
		"owntracks_mosquitto.1.y674af75frvx@dm1.example.com    | 1553915657: x",
		"2021-07-13T03:16:16.828504244Z iot_emqx.1.k5lo43mwwv37@iot-gateway    | 2021-07-13 03:16:16.072 [warning] x",
		"2021-07-13T03:16:16Z a@    | x",
	}
	for _, name := range []string{"rsyslog-rfc5424.log", "journal-json.txt", "journal-short-full.txt"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			lines := splitLines(b)
			s = append(s, lines[:min(3, len(lines))]...)
		}
	}
	return s
}

// FuzzDecode: whatever the line and the envelope chosen, Decode returns a
// record of a known kind, with an error exactly when it is Unreadable, a
// message that is the end of its text, no more text than the line (or the
// bound, for joined lines), and pending pieces within the bound.
func FuzzDecode(f *testing.F) {
	for _, s := range seeds(f) {
		for fm := range numFormats {
			f.Add(s, uint8(fm))
		}
	}
	f.Fuzz(func(t *testing.T, line string, fm uint8) {
		d := NewDecoder(Envelope(Format(fm%uint8(numFormats))), MaxLineBytes(fuzzMax), Location(time.UTC))
		for range 3 { // again, with pieces pending
			r := d.Decode(line)
			checkRecord(t, d, line, r)
		}
		for {
			r, ok := d.Flush()
			if !ok {
				break
			}
			if r.Kind != Broker || !r.Unfinished || len(r.Text) > fuzzMax {
				t.Fatalf("Flush = %+v", r)
			}
		}
		if d.Pending() != 0 {
			t.Fatalf("pending %d after Flush", d.Pending())
		}
	})
}

func checkRecord(t *testing.T, d *Decoder, line string, r Record) {
	t.Helper()
	switch r.Kind {
	case Broker, Other:
		if r.Err != nil {
			t.Fatalf("%v record with error %v", r.Kind, r.Err)
		}
		if !strings.HasSuffix(r.Text, r.Msg) {
			t.Fatalf("msg %q is not the end of text %q", r.Msg, r.Text)
		}
		if len(r.Text) > fuzzMax && r.Envelope != None {
			t.Fatalf("text of %d bytes from a line of %d", len(r.Text), len(line))
		}
		if r.Envelope == None && r.Text != line {
			t.Fatalf("plain line %q became %q", line, r.Text)
		}
	case Partial:
	case Unreadable:
		var e *Error
		if !errors.As(r.Err, &e) || e.Field == "" || e.Reason == "" || e.At < 0 || e.At > len(line) {
			t.Fatalf("unreadable with error %#v", r.Err)
		}
	default:
		t.Fatalf("kind %v", r.Kind)
	}
	for i := range d.pending {
		if n := len(d.pending[i].buf); n > fuzzMax {
			t.Fatalf("pending %d bytes, bound %d", n, fuzzMax)
		}
	}
}

// FuzzJSON compares the JSON walker with encoding/json: every object
// encoding/json reads, the walker reads too, with the same string values
// (the last of a repeated member, as encoding/json keeps).
func FuzzJSON(f *testing.F) {
	for _, s := range seeds(f) {
		if strings.HasPrefix(s, "{") {
			f.Add(s)
		}
	}
	f.Add(`{"a\u006c":"x\/y","b":[],"c":{},"d":-0.5e+3,"e":"\u0000\t"}`)
	f.Fuzz(func(t *testing.T, s string) {
		var want map[string]any
		valid := json.Unmarshal([]byte(s), &want) == nil
		it := newObjIter(s)
		got := map[string]string{}
		var m member
		for key, ok := it.next(&m); ok; key, ok = it.next(&m) {
			if m.str {
				v, err := unescape(m.val, len(m.val)+1)
				if err != "" && valid {
					t.Fatalf("member %q: %s, but encoding/json reads it", key, err)
				}
				got[dockerText(key)] = v // encoding/json's keys have U+FFFD for bytes that are not UTF-8
			} else {
				delete(got, dockerText(key))
			}
		}
		if !valid || want == nil {
			return // the walker may be more lenient (raw control bytes); it must not panic
		}
		if it.err != nil {
			if it.depth >= maxDepth {
				return
			}
			t.Fatalf("encoding/json reads %q, the walker: %s at %d", s, it.err.reason, it.err.at)
		}
		for k, v := range want {
			sv, ok := v.(string)
			if !ok || !utf8.ValidString(got[k]) {
				continue // encoding/json replaces bytes that are not UTF-8
			}
			if got[k] != sv {
				t.Fatalf("member %q: walker %q, encoding/json %q", k, got[k], sv)
			}
		}
	})
}

// FuzzPieces feeds a run of container lines (the input's lines) through
// one Decoder: joined lines and pending pieces stay within the bound, and
// every piece comes out, joined or flushed.
func FuzzPieces(f *testing.F) {
	f.Add("2016-10-06T00:17:09Z stdout P a\n2016-10-06T00:17:09Z stderr P b\n2016-10-06T00:17:09Z stdout F c\n", false)
	f.Add(`{"log":"a","stream":"stdout","time":"2025-03-14T09:26:53Z"}`+"\n"+`{"log":"b\n","stream":"stdout","time":"2025-03-14T09:26:53Z"}`, true)
	f.Fuzz(func(t *testing.T, input string, docker bool) {
		env := CRI
		if docker {
			env = Docker
		}
		d := NewDecoder(Envelope(env), MaxLineBytes(fuzzMax), Location(time.UTC))
		pieces, joined := 0, 0
		for _, line := range strings.Split(input, "\n") {
			r := d.Decode(line)
			checkRecord(t, d, line, r)
			switch r.Kind {
			case Partial:
				pieces++
			case Broker:
				joined += r.Parts - 1
			}
		}
		for {
			r, ok := d.Flush()
			if !ok {
				break
			}
			joined += r.Parts
		}
		if joined != pieces {
			t.Fatalf("%d pieces held, %d came out", pieces, joined)
		}
	})
}

// TestHugeRecord: a 100 MB record, in one line or in pieces never
// finished, costs the decoder at most about MaxLineBytes.
func TestHugeRecord(t *testing.T) {
	const size = 100 << 20
	body := strings.Repeat("a", size)
	for _, c := range []struct {
		name  string
		lines []string
	}{
		{"docker", []string{`{"log":"` + body + `\n","stream":"stdout","time":"2025-03-14T09:26:53Z"}`}},
		{"docker-escaped", []string{`{"log":"` + strings.Repeat(`\u0041`, size/6) + `\n","stream":"stdout","time":"2025-03-14T09:26:53Z"}`}},
		{"journal", []string{`{"MESSAGE":"` + body + `","__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto"}`}},
		{"cri-never-finished", func() []string {
			p := make([]string, size/(16<<10))
			for i := range p {
				p[i] = "2016-10-06T00:17:09Z stdout P " + body[:16<<10]
			}
			return p
		}()},
		{"syslog", []string{"Mar  4 09:26:53 h mosquitto[1]: " + body}},
		{"bad-json", []string{`{"log":"` + body}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecoder(Location(time.UTC))
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			var r Record
			for _, l := range c.lines {
				r = d.Decode(l)
			}
			runtime.ReadMemStats(&after)
			if n := after.TotalAlloc - before.TotalAlloc; n > 4*DefaultMaxLineBytes {
				t.Errorf("decoding allocated %d bytes", n)
			}
			if r.Kind == Broker && (len(r.Text) > DefaultMaxLineBytes || !r.Truncated) {
				t.Errorf("text of %d bytes", len(r.Text))
			}
			if d.Pending() > 0 && len(d.pending[streamStdout].buf) > DefaultMaxLineBytes {
				t.Errorf("pending %d bytes", len(d.pending[streamStdout].buf))
			}
			t.Logf("%s: %v %v truncated=%v text=%d bytes err=%v", c.name, r.Kind, r.Envelope, r.Truncated, len(r.Text), r.Err)
		})
	}
}
