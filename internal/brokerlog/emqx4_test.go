package brokerlog

import (
	"strings"
	"testing"
)

// Real EMQX 4.x lines pasted in public threads (the link with each), and
// lines built to the 4.x logger template (priv/emqx.schema, translation
// "kernel.logger", v4.2.14 and v4.4.19) where no pasted line shows a
// variant.
func TestParseEMQX4(t *testing.T) {
	tests := []struct {
		line string
		want EMQX4
	}{
		// https://github.com/emqx/emqx/issues/5865 (4.3, RFC 3339 time)
		{"2022-01-04T20:29:29.018046+08:00 [warning] CENSYS@162.142.125.43:56246 [Channel] Client CENSYS (Username: 'undefined') login failed for not_authorized",
			EMQX4{"warning", "CENSYS", "162.142.125.43:56246", "Channel", "Client CENSYS (Username: 'undefined') login failed for not_authorized"}},
		// the same thread: an address and no client id (CONNECT not parsed yet)
		{"2022-01-04T21:44:06.291827+08:00 [error] 164.90.201.209:33721 [MQTT] , Parse failed for function_clause, [{emqx_frame,parse_packet,[]}]",
			EMQX4{"error", "", "164.90.201.209:33721", "MQTT", ", Parse failed for function_clause, [{emqx_frame,parse_packet,[]}]"}},
		// https://github.com/emqx/emqx/issues/3357 (3.2/4.x layout, 4.2-style time): client id only
		{"2020-03-31 09:33:27.534 [warning] 86375804013709 [Session] Connection <0.18406.1216> kickout <0.5694.1211>",
			EMQX4{"warning", "86375804013709", "", "Session", "Connection <0.18406.1216> kickout <0.5694.1211>"}},
		// a client id printed as an Erlang binary, and one holding | and =
		{"2023-04-10 10:21:34.986 [error] <<\"XXXXX_0001\">>@116.232.197.86:38040 [Channel] Unexpected sock_closed: einval",
			EMQX4{"error", "<<\"XXXXX_0001\">>", "116.232.197.86:38040", "Channel", "Unexpected sock_closed: einval"}},
		{"2021-12-20T21:19:00.442274-05:00 [error] 84-9d-c2|signmethod=hmacsha256,timestamp=0|@192.168.26.41:61249 [Channel] Unexpected sock_closed: protocol_error",
			EMQX4{"error", "84-9d-c2|signmethod=hmacsha256,timestamp=0|", "192.168.26.41:61249", "Channel", "Unexpected sock_closed: protocol_error"}},
		// https://github.com/emqx/emqx/issues/3589: no client, a module header
		{"2020-07-14 12:59:50.974 [error] [Plugins] Load plugin emqx_dashboard failed, cannot start plugin emqx_dashboard for {bad_return,",
			EMQX4{"error", "", "", "Plugins", "Load plugin emqx_dashboard failed, cannot start plugin emqx_dashboard for {bad_return,"}},
		// a header with a space (4.x src/emqx_alarm_handler.erl -logger_header("[Alarm Handler]"))
		{"2019-05-15 12:36:57.791 [warning] [Alarm Handler] {cpu_high_watermark,100.0} set",
			EMQX4{"warning", "", "", "Alarm Handler", "{cpu_high_watermark,100.0} set"}},
		// no header (a module without -logger_header, or a direct logger call)
		{"2020-07-14 12:59:50.781 [error] Mnesia wait_for_tables timeout: [emqx_resource]",
			EMQX4{"error", "", "", "", "Mnesia wait_for_tables timeout: [emqx_resource]"}},
		// IPv6 peer
		{"2022-01-04T20:29:29.018046+00:00 [warning] c1@2001:db8::5:52344 [Channel] Client c1 (Username: 'u') login failed for not_authorized",
			EMQX4{"warning", "c1", "2001:db8::5:52344", "Channel", "Client c1 (Username: 'u') login failed for not_authorized"}},
		// a message whose first word is not a client id stays whole
		{"2022-01-04T20:29:29.018046+00:00 [critical] Run out of memory: [emqx]",
			EMQX4{"critical", "", "", "", "Run out of memory: [emqx]"}},
		// EMQX 5 text parses too, everything in Text
		{"2024-03-20T11:04:11.138524+01:00 [warning] tag: AUTHN, clientid: bbb, msg: authentication_failure",
			EMQX4{"warning", "", "", "", "tag: AUTHN, clientid: bbb, msg: authentication_failure"}},
	}
	for _, tt := range tests {
		msg, _, ok := Split(tt.line)
		if !ok {
			t.Errorf("Split(%q) found no timestamp", tt.line)
			continue
		}
		got, ok := ParseEMQX4(msg)
		if !ok || got != tt.want {
			t.Errorf("ParseEMQX4(%q) = %+v, %v\nwant %+v", msg, got, ok, tt.want)
		}
	}
	for _, bad := range []string{"", "[", "[warn] x", "[warning]x", "Client x disconnected.", "[warning]"} {
		if l, ok := ParseEMQX4(bad); ok {
			t.Errorf("ParseEMQX4(%q) = %+v, want not ok", bad, l)
		}
	}
}

func TestEMQX5Text(t *testing.T) {
	if !EMQX5Text("[warning] tag: AUTHN, clientid: bbb, msg: authentication_failure") {
		t.Error("5.x text not recognised")
	}
	if EMQX5Text("[warning] CENSYS@162.142.125.43:56246 [Channel] Client CENSYS (Username: 'undefined') login failed for not_authorized") {
		t.Error("4.x text taken for 5.x")
	}
}

func TestBannerEMQX4(t *testing.T) {
	// "<description> <vsn> is running now!" (src/emqx_app.erl print_vsn/0);
	// the descriptions are src/emqx.app.src's of v4.2.14, v4.3.22, v4.4.19.
	for _, tt := range []struct{ msg, version string }{
		{"EMQ X Broker 4.2.14 is running now!", "4.2.14"},
		{"EMQ X 4.3.22 is running now!", "4.3.22"},
		{"EMQ X Enterprise 4.3.5 is running now!", "4.3.5"},
		{"EMQX 4.4.19 is running now!", "4.4.19"},
		{"EMQX Enterprise 4.4.19 is running now!", "4.4.19"},
		{"EMQ X Broker v3.0.0 is running now!", "3.0.0"},
	} {
		b, v, ok := Banner(tt.msg)
		if !ok || b != "emqx" || v != tt.version {
			t.Errorf("Banner(%q) = %q %q %v, want emqx %s", tt.msg, b, v, ok, tt.version)
		}
	}
	for _, msg := range []string{"EMQ X Broker is running now!", "EMQ X 4.3.22 is stopped", "EMQ X Broker 4.2.14 running"} {
		if b, v, ok := Banner(msg); ok {
			t.Errorf("Banner(%q) = %q %q, want none", msg, b, v)
		}
	}
}

// 4.x lines that differ only in client, address and numbers share a
// shape; the level and the module header are part of it.
func TestShapeEMQX4(t *testing.T) {
	a := Shape("[warning] CENSYS@162.142.125.43:56246 [Channel] Client CENSYS (Username: 'undefined') login failed for not_authorized")
	b := Shape("[warning] nmap@164.90.201.209:37755 [Channel] Client nmap (Username: 'undefined') login failed for not_authorized")
	if a != b {
		t.Errorf("shapes differ: %q vs %q", a, b)
	}
	if want := "[warning] [Channel] Client * (Username: * login failed for not_authorized"; a != want {
		t.Errorf("shape = %q, want %q", a, want)
	}
	if c := Shape("[error] CENSYS@162.142.125.43:56246 [Channel] Client CENSYS (Username: 'undefined') login failed for not_authorized"); c == a {
		t.Errorf("level is not part of the shape: %q", c)
	}
	if sev, ok := Fault("[warning] CENSYS@162.142.125.43:56246 [Channel] Client CENSYS login failed"); !ok || sev != "warning" {
		t.Errorf("Fault of a 4.x warning = %q %v", sev, ok)
	}
}

// FuzzParseEMQX4: any message parses without panicking, and what it
// reports is taken from the message: client, address, header and text
// appear in it in that order.
func FuzzParseEMQX4(f *testing.F) {
	for _, s := range []string{
		"[warning] c@1.2.3.4:5 [Channel] x", "[error] 1.2.3.4:5 [MQTT] , y", "[error] [Plugins] z",
		"[info] c [Session] q", "[debug] a@b@::1:2 [X] ", "[warning] msg: x, k: v",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		l, ok := ParseEMQX4(msg)
		if !ok {
			return
		}
		rest := msg
		for _, part := range []string{"[" + l.Level + "] ", l.ClientID, l.Peer, l.Header, l.Text} {
			i := strings.Index(rest, part)
			if i < 0 {
				t.Fatalf("%q: part %q not found in order (parsed %+v)", msg, part, l)
			}
			rest = rest[i+len(part):]
		}
		if !strings.HasSuffix(msg, l.Text) {
			t.Fatalf("%q: text %q is not its end", msg, l.Text)
		}
		_ = Shape(msg)
	})
}
