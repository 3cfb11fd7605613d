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
		{"1741944413123456 [warning] msg: alarm_is_activated", "[warning] msg: alarm_is_activated", time.UnixMicro(1741944413123456).UTC(), true, 0},
		// EMQX JSON: the time member goes, the rest is the message.
		{`{"time":1741944413123456,"level":"warning","msg":"authentication_failure","clientid":"sensor-42"}`, `"level":"warning","msg":"authentication_failure","clientid":"sensor-42"}`, time.UnixMicro(1741944413123456).UTC(), true, 0},
		{`{"time":"2025-03-14T17:26:53.123456+08:00","level":"warning","msg":"x"}`, `"level":"warning","msg":"x"}`, time.Date(2025, 3, 14, 17, 26, 53, 123456000, time.FixedZone("", 8*3600)), true, 8 * 3600},
		// EMQX 5.0.4-5.2: a text prefix in front of the JSON.
		{`2025-03-14T09:26:53.123456+00:00 warning: {"msg":"cannot_publish_to_topic"}`, `warning: {"msg":"cannot_publish_to_topic"}`, time.Date(2025, 3, 14, 9, 26, 53, 123456000, time.UTC), true, 0},
		{`{"time":abc,"level":"warning"}`, `{"time":abc,"level":"warning"}`, time.Time{}, false, 0},
		// The Erlang shell's prompt of `emqx console` before the line (shell.erl default_prompt/1).
		{"(emqx@10.0.0.1)1> 2024-03-05T07:08:09.123456+08:00 [warning] msg: x", "[warning] msg: x", time.Date(2024, 3, 5, 7, 8, 9, 123456000, time.FixedZone("", 8*3600)), true, 8 * 3600},
		{"(emqx@emqx-0.emqx-headless.default.svc.cluster.local)12> 2020-09-28 16:04:01.021 [error] x", "[error] x", utc(2020, 9, 28, 16, 4, 1, 21000000), true, 0},
		// Mosquitto's prefix when its clock read 0 (eclipse/mosquitto
		// issue 2323): the prefix goes, no time comes from it.
		{"0: Error: Address in use", "Error: Address in use", time.Time{}, true, 0},
		{"0: mosquitto version 2.0.12 starting", "mosquitto version 2.0.12 starting", time.Time{}, true, 0},
		{"0: ", "", time.Time{}, true, 0},
		// Not prefixes.
		{"00: two zeros", "00: two zeros", time.Time{}, false, 0},
		{"7: one digit", "7: one digit", time.Time{}, false, 0},
		{"0:no space", "0:no space", time.Time{}, false, 0},
		{"(emqx)1> 2024-03-05T07:08:09Z x", "(emqx)1> 2024-03-05T07:08:09Z x", time.Time{}, false, 0}, // no node: no prompt of a broker's node
		{"(emqx@h)1> hello", "(emqx@h)1> hello", time.Time{}, false, 0},
		{"(a b@h)1> 2024-03-05T07:08:09Z x", "(a b@h)1> 2024-03-05T07:08:09Z x", time.Time{}, false, 0},
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
	line := "1795320306: Client dup already connected, closing old connection."
	if n := testing.AllocsPerRun(100, func() { Split(line) }); n != 0 {
		t.Errorf("Split allocates %v times per call", n)
	}
}

// FuzzSplit: the message is always a suffix of the line, and Split never
// panics on any bytes.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"1795320306: x", "2024-03-05T07:08:09.123456+08:00 [warning] m", "2024-03-05 07:08:09,1 -0130 m", "2024-03-05T07:08:09Z 1709622489: y", `{"time":1741944413123456,"level":"warning","msg":"x"}`, `{"time":"2025-03-14T17:26:53.1+08:00","level":"x"}`} {
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
		{"EMQX Enterprise 5.8.9 is running now!", "emqx", "5.8.9"},
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

func TestFault(t *testing.T) {
	tests := []struct {
		msg, severity string
	}{
		{"Error: Unable to open log file /var/log/mosquitto/mosquitto.log for writing.", "error"},
		{"OpenSSL Error[0]: error:0A000126:SSL routines::unexpected eof while reading", "error"},
		{"Client <unknown> disconnected due to protocol error.", "warning"},
		{"Client sensor-1 has exceeded timeout, disconnecting.", "warning"},
		{"Client sensor-1 disconnected, not authorised.", "warning"},
		{"Outgoing messages are being dropped for client sensor-1.", "warning"},
		{"Warning: Mosquitto should not be run as root/administrator.", "warning"},
		{"[error] msg: failed_to_start_listener, reason: eaddrinuse", "error"},
		{"[warning] msg: session_stepdown_request_timeout", "warning"},
		{`{"time":1700000000000000,"level":"warning","msg":"dropped_msg_due_to_mqueue_is_full"}`, "warning"},
		{`"level":"error","msg":"health_check_exception"}`, "error"},
		// Normal traffic.
		{"Client sensor-1 disconnected.", ""},
		{"Client sensor-1 closed its connection.", ""},
		{"New client connected from 127.0.0.1:1234 as c (p2, c1, k60).", ""},
		{"Sending CONNACK to c (0, 0)", ""},
		{"[info] msg: client_connected", ""},
		{`{"time":1,"level":"info","msg":"x"}`, ""},
		{"", ""},
	}
	for _, tt := range tests {
		sev, ok := Fault(tt.msg)
		if sev != tt.severity || ok != (tt.severity != "") {
			t.Errorf("Fault(%q) = %q %v, want %q", tt.msg, sev, ok, tt.severity)
		}
	}
}

func TestShape(t *testing.T) {
	a := Shape("Client sensor-17 disconnected due to protocol error.")
	b := Shape("Client pump 3/ä disconnected due to protocol error.")
	if a != "Client * disconnected due to protocol error." {
		t.Errorf("shape %q", a)
	}
	// A client id with a space leaves one word behind; that is accepted.
	if b != "Client * * disconnected due to protocol error." {
		t.Errorf("shape %q", b)
	}
	if s := Shape("Error: Unable to open log file /var/log/x2.log for writing."); s != "Error: Unable to open log file * for writing." {
		t.Errorf("shape %q", s)
	}
}

// Mosquitto's log_timestamp_format takes any strftime layout: the prefix
// is removed whatever it is, and its time kept where it can be read.
func TestSplitStrftime(t *testing.T) {
	year := time.Now().UTC().Year()
	const msg = "Client dup already connected, closing old connection."
	tests := []struct {
		line string
		want time.Time // zero: stripped, no time
	}{
		{"Mar 14 09:26:53: " + msg, time.Date(year, 3, 14, 9, 26, 53, 0, time.UTC)},
		{"Mar  4 09:26:53: " + msg, time.Date(year, 3, 4, 9, 26, 53, 0, time.UTC)},
		{"Fri Mar 14 09:26:53 2025: " + msg, time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)},
		{"2025/03/14 09:26:53: " + msg, time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)},
		{"14/03/2025 09:26:53: " + msg, time.Time{}}, // day and month cannot be told apart
		{"09:26:53: " + msg, time.Time{}},
		{"9:26:53 PM: " + msg, time.Time{}},
	}
	for _, tt := range tests {
		got, ts, _ := Split(tt.line)
		if got != msg || !ts.Equal(tt.want) {
			t.Errorf("Split(%q) = %q, %v; want %q, %v", tt.line, got, ts, msg, tt.want)
		}
	}
	// Messages that merely contain a colon and a clock keep their text.
	for _, line := range []string{
		"Error: Unable to open log file at 09:26:53: permission denied.",
		"Client 09:26:53 already connected, closing old connection.",
		"Warning: 09:26:53: something",
		"Sending CONNACK to 10:20:30:40 (0, 0)",
	} {
		if got, _, _ := Split(line); got != line {
			t.Errorf("Split(%q) cut it to %q", line, got)
		}
	}
}

// EMQX lines group by level and msg, whatever their context fields say,
// in both formats; different msgs stay apart.
func TestShapeEMQX(t *testing.T) {
	tests := []struct{ line, want string }{
		{`2025-03-14T09:01:14.246914+00:00 [warning] tag: AUTHN, clientid: sensor-42, msg: authentication_failure, peername: 10.0.0.5:52344, username: alice, reason: bad_username_or_password`,
			"[warning] msg: authentication_failure"},
		{`2025-03-14T09:01:15.000000+00:00 [warning] clientid: pump, msg: authentication_failure, peername: 10.0.0.9:1883, username: bob, reason: not_authorized`,
			"[warning] msg: authentication_failure"},
		{`2025-03-14T09:03:05.617285+00:00 [error] clientid: nomsg: x, msg: authenticator_error, reason: timeout`,
			"[error] msg: authenticator_error"},
		{`{"time":1741942874246914,"level":"warning","msg":"authentication_failure","username":"alice","tag":"AUTHN","clientid":"sensor-42"}`,
			"[warning] msg: authentication_failure"},
		{`{"time":1741942874246999,"level":"warning","clientid":"other","msg":"authentication_failure","reason":"{bad,\"x\"}"}`,
			"[warning] msg: authentication_failure"},
		{`{"time":1741942874246999,"level":"error","msg":"failed_to_start_listener","listener":"tcp:default"}`,
			"[error] msg: failed_to_start_listener"},
	}
	for _, tt := range tests {
		msg, _, _ := Split(tt.line)
		if got := Shape(msg); got != tt.want {
			t.Errorf("Shape(%q) = %q, want %q", msg, got, tt.want)
		}
	}
}

func TestFaultEMQXLevels(t *testing.T) {
	for level, want := range map[string]string{"warning": "warning", "error": "error", "critical": "critical", "alert": "critical", "emergency": "critical"} {
		for _, line := range []string{
			"2025-03-14T09:01:14.246914+00:00 [" + level + "] msg: x",
			`{"time":1741942874246914,"level":"` + level + `","msg":"x"}`,
		} {
			msg, _, _ := Split(line)
			if got, ok := Fault(msg); !ok || got != want {
				t.Errorf("Fault(%q) = %q, %v; want %q", msg, got, ok, want)
			}
		}
	}
	for _, level := range []string{"info", "notice", "debug"} {
		msg, _, _ := Split(`{"time":1741942874246914,"level":"` + level + `","msg":"x"}`)
		if _, ok := Fault(msg); ok {
			t.Errorf("%s line taken for a fault", level)
		}
	}
}

func BenchmarkFaultNormalLine(b *testing.B) {
	msg := "Received PUBLISH from line3-sensor (d0, q1, r0, m1, 'plant/line3/temp', ... (22 bytes))"
	for b.Loop() {
		Fault(msg)
	}
}
