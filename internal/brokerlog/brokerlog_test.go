package brokerlog

import (
	"strings"
	"testing"
	"time"
)

func TestSplit(t *testing.T) {
	utc := func(y, mo, d, h, mi, s, ns int) time.Time {
		return time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC)
	}
	tests := []struct {
		line    string
		msg     string
		time    time.Time
		ok      bool
		offsetS int // expected zone offset in seconds
	}{
		{"1795320306: Client dup already connected, closing old connection.", "Client dup already connected, closing old connection.", time.Unix(1795320306, 0).UTC(), true, 0},
		{"1700000503: Sending CONNACK to x (0, 0)", "Sending CONNACK to x (0, 0)", time.Unix(1700000503, 0).UTC(), true, 0},
		{"2024-03-05T07:08:09: Client x disconnected.", "Client x disconnected.", utc(2024, 3, 5, 7, 8, 9, 0), true, 0},
		{"2024-03-05 07:08:09: Client x disconnected.", "Client x disconnected.", utc(2024, 3, 5, 7, 8, 9, 0), true, 0},
		{"2024-03-05T07:08:09.123456+08:00 [warning] msg: session_takeover", "[warning] msg: session_takeover", time.Date(2024, 3, 5, 7, 8, 9, 123456000, time.FixedZone("", 8*3600)), true, 8 * 3600},
		{"2024-03-05T07:08:09.5Z hello", "hello", utc(2024, 3, 5, 7, 8, 9, 500000000), true, 0},
		{"2024-03-05 07:08:09,250-0130 hello", "hello", time.Date(2024, 3, 5, 7, 8, 9, 250000000, time.FixedZone("", -5400)), true, -5400},
		// kubectl logs --timestamps in front of Mosquitto's own prefix.
		{"2024-03-05T07:08:09.123456789Z 1709622489: Client x disconnected.", "Client x disconnected.", time.Unix(1709622489, 0).UTC(), true, 0},
		// EMQX 5.6+ text with timestamp_format = epoch, and EMQX 5.3+ JSON
		// (research/emqx/FORMATS.md, rendered by EMQX v5.8.9's formatters).
		{"1741944413123456 [warning] tag: AUTHN, clientid: sensor-42, msg: authentication_failure", "[warning] tag: AUTHN, clientid: sensor-42, msg: authentication_failure", time.UnixMicro(1741944413123456).UTC(), true, 0},
		{`{"time":1741944413123456,"level":"warning","msg":"authentication_failure","username":"alice","tag":"AUTHN"}`, `"level":"warning","msg":"authentication_failure","username":"alice","tag":"AUTHN"}`, time.UnixMicro(1741944413123456).UTC(), true, 0},
		{`{"time":"2025-03-14T17:26:53.123456+08:00","level":"warning","msg":"authenticator_error"}`, `"level":"warning","msg":"authenticator_error"}`, time.Date(2025, 3, 14, 17, 26, 53, 123456000, time.FixedZone("", 8*3600)), true, 8 * 3600},
		{`{"time":"bogus","level":"warning"}`, `{"time":"bogus","level":"warning"}`, time.Time{}, false, 0},
		{`{"time":17419444,}`, `}`, time.UnixMicro(17419444).UTC(), true, 0},
		{`{"time":,"level":"x"}`, `{"time":,"level":"x"}`, time.Time{}, false, 0},
		{`{"level":"warning","time":1741944413123456}`, `{"level":"warning","time":1741944413123456}`, time.Time{}, false, 0},
		{`2024-03-05T07:08:09.5Z {"time":1741944413123456,"level":"error"}`, `"level":"error"}`, time.UnixMicro(1741944413123456).UTC(), true, 0},
		// Not prefixes.
		{"Client 1700000503: odd id", "Client 1700000503: odd id", time.Time{}, false, 0},
		{"12345: short number", "12345: short number", time.Time{}, false, 0},
		{"2024-13-05T07:08:09: bad month", "2024-13-05T07:08:09: bad month", time.Time{}, false, 0},
		{"2024-03-05T07:08:09.: no fraction", "2024-03-05T07:08:09.: no fraction", time.Time{}, false, 0},
		{"", "", time.Time{}, false, 0},
		{"\x00\xff\xfe", "\x00\xff\xfe", time.Time{}, false, 0},
	}
	for _, tt := range tests {
		msg, ts, ok := Split(tt.line)
		if msg != tt.msg || ok != tt.ok || !ts.Equal(tt.time) {
			t.Errorf("Split(%q) = %q, %v, %v; want %q, %v, %v", tt.line, msg, ts, ok, tt.msg, tt.time, tt.ok)
			continue
		}
		if ok {
			if _, off := ts.Zone(); off != tt.offsetS {
				t.Errorf("Split(%q) zone offset %d, want %d", tt.line, off, tt.offsetS)
			}
		}
	}
}

func TestSplitDoesNotAllocate(t *testing.T) {
	for _, line := range []string{
		"1795320306: Client dup already connected, closing old connection.",
		`{"time":1741944413123456,"level":"warning","msg":"authentication_failure"}`,
		`{"time":"2025-03-14T17:26:53.123456+08:00","level":"warning","msg":"x"}`,
	} {
		if n := testing.AllocsPerRun(100, func() { Split(line) }); n != 0 {
			t.Errorf("Split(%q) allocates %v times per call", line, n)
		}
	}
}

// FuzzSplit: the message is always a suffix of the line, and Split never
// panics on any bytes.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"1795320306: x", `{"time":1741944413123456,"level":"warning"}`, `{"time":"2024-03-05T07:08:09Z",`, "1741944413123456 [warning] x", "2024-03-05T07:08:09.123456+08:00 [warning] m", "2024-03-05 07:08:09,1 -0130 m", "2024-03-05T07:08:09Z 1709622489: y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		msg, ts, ok := Split(line)
		if !strings.HasSuffix(line, msg) {
			t.Fatalf("message %q is not a suffix of %q", msg, line)
		}
		if !ok && (msg != line || !ts.IsZero()) {
			t.Fatalf("no prefix but msg=%q ts=%v", msg, ts)
		}
	})
}

func TestBanner(t *testing.T) {
	tests := []struct{ msg, broker, version string }{
		{"mosquitto version 2.0.11 starting", "mosquitto", "2.0.11"},
		{"mosquitto version 2.0.11 running", "mosquitto", "2.0.11"},
		{"mosquitto version 2.1.0-rc1 running", "mosquitto", "2.1.0-rc1"},
		{"EMQX 5.8.9 is running now!", "emqx", "5.8.9"},
		{"mosquitto version 2.0.11 terminating", "", ""},
		{"Client mosquitto version 2.0.11 running", "", ""},
		{"mosquitto version x running", "", ""},
	}
	for _, tt := range tests {
		b, v, ok := Banner(tt.msg)
		if b != tt.broker || v != tt.version || ok != (tt.broker != "") {
			t.Errorf("Banner(%q) = %q %q %v", tt.msg, b, v, ok)
		}
	}
}
