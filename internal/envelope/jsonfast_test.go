package envelope

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The fast readers of the JSON envelopes (dockerFlat, flatObject, and
// the scans under them) must read what the general walker reads. The
// walker is compared with encoding/json by FuzzJSON; these compare the
// fast readers with the walker, member by member and, through Decode,
// record by record.

// walkMembers is what jsonObject's general walk makes of s.
func walkMembers(s string) (f [numJSONFields]member, have uint32, err *jsonErr) {
	it := newObjIter(s)
	var m member
	for key, ok := it.next(&m); ok; key, ok = it.next(&m) {
		if k := jsonField(key); k >= 0 {
			f[k] = m
			have |= 1 << k
		}
	}
	return f, have, it.err
}

// sameMember: plain is the fast readers' own fact, and it must be true.
func sameMember(t *testing.T, s string, k int, fast, walk member) {
	t.Helper()
	if fast.val != walk.val || fast.at != walk.at || fast.str != walk.str || fast.isArr != walk.isArr {
		t.Fatalf("%q: member %d read fast as %+v, by the walker as %+v", s, k, fast, walk)
	}
	if fast.plain && strings.IndexByte(fast.val, '\\') >= 0 {
		t.Fatalf("%q: member %d called plain, holds a backslash: %q", s, k, fast.val)
	}
}

// checkFastReaders checks the fast readers on one line against the walker.
func checkFastReaders(t *testing.T, s string) {
	t.Helper()
	wf, whave, werr := walkMembers(s)
	var f [numJSONFields]member
	var have uint32
	if flatObject(s, &f, &have) {
		if werr != nil {
			t.Fatalf("%q: read fast, the walker says %s at %d", s, werr.reason, werr.at)
		}
		if have != whave {
			t.Fatalf("%q: members %b read fast, %b by the walker", s, have, whave)
		}
		for k := range f {
			sameMember(t, s, k, f[k], wf[k])
		}
	}
	var lg, st, tm member
	if strings.HasPrefix(s, `{"log":"`) && dockerFlat(s, &lg, &st, &tm) {
		if werr != nil || whave != 1<<fLog|1<<fStream|1<<fTime {
			t.Fatalf("%q: read fast as a flat Docker record, by the walker as members %b, error %v", s, whave, werr)
		}
		sameMember(t, s, fLog, lg, wf[fLog])
		sameMember(t, s, fStream, st, wf[fStream])
		sameMember(t, s, fTime, tm, wf[fTime])
	}
}

// slowly is line as the fast readers do not read it but the walker does
// the same: white space after the opening brace (every offset after it one
// more).
func slowly(line string) (string, bool) {
	i := strings.IndexByte(line, '{')
	if i < 0 || i > 1 {
		return "", false
	}
	return line[:i+1] + " " + line[i+1:], true
}

// checkDecodeSlowly decodes lines twice, as they are and through the
// walker only, with a decoder of each envelope: the records must be the
// same.
func checkDecodeSlowly(t *testing.T, lines []string) {
	t.Helper()
	for _, env := range []Format{Auto, Docker, Journal} {
		fast := NewDecoder(Envelope(env), MaxLineBytes(fuzzMax), Location(time.UTC))
		slow := NewDecoder(Envelope(env), MaxLineBytes(fuzzMax), Location(time.UTC))
		for _, l := range lines {
			sl, ok := slowly(l)
			if !ok {
				continue
			}
			a, b := fast.Decode(l), slow.Decode(sl)
			if env == Auto && (a.Kind == Unreadable || b.Kind == Unreadable) {
				continue // which envelope a broken line was meant to be is told by its first bytes, which slowly changes
			}
			if a.Envelope == None && b.Envelope == None && a.Kind == b.Kind {
				continue // no envelope: the text is the line
			}
			ea, _ := a.Err.(*Error)
			eb, _ := b.Err.(*Error)
			if ea != nil && eb != nil {
				if eb.At == ea.At+1 && ea.At > strings.IndexByte(l, '{') {
					eb.At-- // after the space
				}
				if *ea != *eb {
					t.Fatalf("%v decoder, %q: fast %v, walker %v", env, l, ea, eb)
				}
				a.Err, b.Err = nil, nil
			}
			if a != b {
				t.Fatalf("%v decoder, %q:\nfast   %+v\nwalker %+v (err %v, %v)", env, l, a, b, a.Err, b.Err)
			}
		}
	}
}

// jsonSamples are the captures' JSON lines and lines made to reach every
// branch of the fast readers.
func jsonSamples(t *testing.T) []string {
	var s []string
	for _, name := range []string{"journal-json.txt", "journal-json-fields.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range splitLines(b) {
			if strings.HasPrefix(l, "{") || strings.HasPrefix(l, "\x1e{") {
				s = append(s, l)
			}
		}
	}
	tm := time.Date(2025, 3, 14, 9, 26, 53, 123456789, time.UTC)
	for _, l := range []string{"1700000000: x", `a "quoted" \ back\slash`, "tab\tnewline\nbell\a", "\xff\xfe not UTF-8", "é ☃ 😀", strings.Repeat("long line ", 40)} {
		s = append(s, dockerRecords(l, "stdout", tm)...)
		s = append(s, dockerRecords(l, "stderr", tm)...)
	}
	long := strings.Repeat("x", 45)
	s = append(s,
		`{"log":"a\n","stream":"stdout","time":"2025-03-14T09:26:53Z"}`,
		`{"log":"a\\","stream":"stdout","time":"2025-03-14T09:26:53Z"}`,
		`{"log":"a\\\n","stream":"stdout","time":"2025-03-14T09:26:53.1Z"}`,
		`{"log":"a\"","stream":"stdout","time":"2025-03-14T09:26:53.12345678Z"}`,
		`{"log":"a\n","stream":"stdin","time":"2025-03-14T09:26:53.123456789Z"}`,
		`{"log":"a\n","stream":"std\"out","time":"2025-03-14T09:26:53Z"}`,
		`{"log":"a\n","stream":"stdout\\","time":"2025-03-14T09:26:53Z"}`,
		`{"log":"a\n","stream":""tderr","time":"2025-03-14T09:26:53Z"}`,
		`{"log":"a\n","stream":"\tdout","time":"2025-03-14T09:26:53Z"}`,
		`{"log":"a\n","stream":"stdout","time":"2025-03-14T09:26:53Z","attrs":{}}`,
		`{"log":"a\n","stream":"stdout","time":"2025-03-14T09:26:53Z"} `,
		`{"log":"a\n","stream":"stdout","time":"2025-03-14T09:26:53Z\"}`,
		`{"log":"a\n","stream":"stdout","time":"2025-03-14T09:26:53.1234567890123Z"}`,
		`{"log":"a\n","stream":"stdout","time":"2025-03-14T09:26:53.12345a789Z"}`,
		`{"log":"a\n","stream":"stdout","time":"2025-03-14T09:26:53.:23456789Z"}`,
		`{"log":"a\n","stream":"stdout","time":"2025-03-14T09:26:53./23456789Z"}`,
		`{"log":"a\n","time":"2025-03-14T09:26:53Z","stream":"stdout"}`,
		`{"log":"a\n","stream":"stdout","time":"2025-03-14T09:26:53Z","log":"b\n"}`,
		`{"log":"a\n","stream":"stdout"`,
		`{"log":"a\n","stream":"stdout","`,
		`{"log":"a\n","stream":"stdout`,
		`{"log":"`,
		`{"MESSAGE":"m","__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto","__REALTIME_TIMESTAMP":"1700000000000000"}`,
		`{"MESSAGE":"m\"q\\","__CURSOR":"c","SYSLOG_IDENTIFIER":"mosq\u0075itto","__REALTIME_TIMESTAMP":"1700000000000000"}`,
		`{"MESS\u0041GE":"m","__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto"}`,
		`{"MESSAGE":"m","__CURSOR":"c","MESSAGE":"n","SYSLOG_IDENTIFIER":"mosquitto"}`,
		`{"MESSAGE":[109,255,10],"__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto"}`,
		`{"MESSAGE":["a","b"],"__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto"}`,
		`{"MESSAGE":null,"__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto"}`,
		`{"MESSAGE":"\ud83d\ude00 \ud800 \udc00x \u00e9","__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto"}`,
		`{"MESSAGE":"`+long+`\"`+long+`","__CURSOR":"`+long+`\\","_PID":"`+long+`","SYSLOG_IDENTIFIER":"mosquitto"}`,
		`{"MESSAGE":"`+long+`\\\"`+long+`","__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto"}`,
		`{"MESSAGE":"m","__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto","`+long+`":"`+long+`"}`,
		`{"MESSAGE":"m","__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto","_PID":"1"`,
		`{"MESSAGE":"m","__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto","_PID":"1}`,
		`{"MESSAGE":"m","__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto","_PID":1}`,
		`{"MESSAGE":"m","__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto","_PID"`,
		`{"MESSAGE":"m","__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto","_P\"ID":"1"}`,
		`{"MESSAGE":"m","__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto"}x`,
		`{"MESSAGE":"m","__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto","__REALTIME_TIMESTAMP":"x"}`,
		"\x1e"+`{"MESSAGE":"m","__CURSOR":"c","SYSLOG_IDENTIFIER":"mosquitto"}`,
		`{"":"","MESSAGE":"","__CURSOR":"","SYSLOG_IDENTIFIER":"mosquitto"}`,
		`{}`, `{"}`, `{"a`, `{"a"`, `{"a":`, `{"a":"`, `{"a":"b`, `{"a":"b"`, `{"a":"b",`,
	)
	return s
}

func TestFastJSONReadersAreTheWalker(t *testing.T) {
	lines := jsonSamples(t)
	for _, l := range lines {
		checkFastReaders(t, strings.TrimPrefix(l, "\x1e"))
	}
	checkDecodeSlowly(t, lines)
}

// FuzzFastJSON: whatever the line, the fast readers read what the walker
// reads, and Decode makes the same record of it either way.
func FuzzFastJSON(f *testing.F) {
	for _, s := range jsonSamples(&testing.T{}) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkFastReaders(t, s)
		checkDecodeSlowly(t, []string{s, s}) // twice: a piece, then joined
	})
}

// The scans, at every length and position around their word boundaries,
// with bytes one bit from '"' and '\\' and the borrows of the word test.
func TestNameEndValueEnd(t *testing.T) {
	fill := []byte{'a', 0xa2, 0x23, 0x02, 0x21, 0x00, 0xff, 0x5d, 0xdc, 0x5b, 0x01}
	nameRef := func(s string, from int) int {
		for i := from; i < len(s); i++ {
			switch s[i] {
			case '"':
				return i
			case '\\':
				return -1
			}
		}
		return -1
	}
	valueRef := func(s string, from int) (int, bool) {
		for i := from; i < len(s); i++ {
			switch s[i] {
			case '"':
				return i, strings.IndexByte(s[from:i], '\\') < 0
			case '\\':
				i++
			}
		}
		return -1, false
	}
	for n := 0; n <= 100; n++ {
		for q := -1; q < n; q++ {
			for bs := -1; bs < n; bs += 1 + n/9 {
				b := make([]byte, n)
				for i := range b {
					b[i] = fill[(i*7+n+q)%len(fill)]
				}
				if bs >= 0 {
					b[bs] = '\\'
				}
				if q >= 0 {
					b[q] = '"'
					if q+3 < n {
						b[q+3] = '"'
					}
				}
				s := string(b)
				for _, from := range []int{0, 1, 3} {
					if from > n {
						continue
					}
					if got, want := nameEnd(s, from), nameRef(s, from); got != want {
						t.Fatalf("nameEnd(%q, %d) = %d, want %d", s, from, got, want)
					}
					end, plain := valueEnd(s, from)
					wantEnd, wantPlain := valueRef(s, from)
					if end != wantEnd || end >= 0 && plain && !wantPlain {
						t.Fatalf("valueEnd(%q, %d) = %d, %v, want %d, %v", s, from, end, plain, wantEnd, wantPlain)
					}
				}
			}
		}
	}
}

// fraction reads eight digits at once what it reads one at a time.
func TestFractionEightAtOnce(t *testing.T) {
	slow := func(s string, from int) (ns, end int) {
		end, scale := from, 100000000
		for end < len(s) && isDigit(s[end]) {
			if scale > 0 {
				ns += int(s[end]-'0') * scale
				scale /= 10
			}
			end++
		}
		return ns, end
	}
	odd := []byte{'0', '9', '5', '/', ':', 0x00, 0xff, 0xf9, 0xfa, 0x30 + 0x80, 0x39 + 0x80, 'Z', '.', 0x2a, 0x3f}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		b := make([]byte, r.IntN(14))
		for i := range b {
			if r.IntN(5) == 0 {
				b[i] = odd[r.IntN(len(odd))]
			} else {
				b[i] = '0' + byte(r.IntN(10))
			}
		}
		s := string(b)
		for from := range min(len(s), 3) + 1 {
			ns, end := fraction(s, from)
			wns, wend := slow(s, from)
			if ns != wns || end != wend {
				t.Fatalf("fraction(%q, %d) = %d, %d, want %d, %d", s, from, ns, end, wns, wend)
			}
		}
	}
}
