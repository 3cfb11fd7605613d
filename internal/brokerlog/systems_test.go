package brokerlog

import (
	"strings"
	"testing"
	"time"
)

// Lines of HiveMQ, VerneMQ, AWS IoT Core and the Paho clients: pasted by
// users in public threads (the link with each), captured from real Paho
// clients (internal/testutil/pahotest), or built to the layout the
// comment cites where no pasted line shows it.
func TestSplitSystems(t *testing.T) {
	date := func(y int, mo time.Month, d, h, mi, s, ms int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ms*int(time.Millisecond), time.UTC)
	}
	tests := []struct {
		line, msg string
		t         time.Time
	}{
		// HiveMQ hivemq.log, %-30(%d %level)- %msg (conf/logback.xml@2025.5):
		// the level and its dash stay in the message.
		{"2024-05-14 14:52:54,916 INFO  - HiveMQ version: 2024.5", "INFO  - HiveMQ version: 2024.5", date(2024, 5, 14, 14, 52, 54, 916)},
		{"2024-05-14 14:52:54,916 ERROR - Could not start MQTT TCP listener on port 1883", "ERROR - Could not start MQTT TCP listener on port 1883", date(2024, 5, 14, 14, 52, 54, 916)},
		// HiveMQ event.log, %-24(%d)- %msg: " - " goes with the time.
		{"2024-05-14 14:52:54,916 - Client ID: dup, IP: 127.0.0.1 was disconnected. reason: Another client connected with the same client id..",
			"Client ID: dup, IP: 127.0.0.1 was disconnected. reason: Another client connected with the same client id..", date(2024, 5, 14, 14, 52, 54, 916)},
		// VerneMQ console.log, lager_default_formatter (lager 3.9.2):
		// https://github.com/vernemq/vernemq/issues/409
		{`2017-06-11 08:40:18.004 [warning] <0.2157.0>@vmq_mqtt_fsm:check_user:545 can't authenticate client {[],<<"karthitest11_MTS_Test">>} due to error`,
			`[warning] <0.2157.0>@vmq_mqtt_fsm:check_user:545 can't authenticate client {[],<<"karthitest11_MTS_Test">>} due to error`, date(2017, 6, 11, 8, 40, 18, 4)},
		// lager with sasl utc_log: " UTC" after the time (lager_util:format_time/1)
		{`2023-05-04 10:11:12.345 UTC [error] <0.444.0>@vmq_mqtt_fsm:auth_on_publish:691 can't auth publish due to no_matching_hook_found`,
			`[error] <0.444.0>@vmq_mqtt_fsm:auth_on_publish:691 can't auth publish due to no_matching_hook_found`, date(2023, 5, 4, 10, 11, 12, 345)},
		// lager's console backend, time only: https://github.com/vernemq/vernemq/issues/1569
		{`03:01:36.070 [warning] can't authenticate client {[],<<"Client 1">>} from 172.17.0.1:56630 due to plugin_chain_exhausted`,
			`[warning] can't authenticate client {[],<<"Client 1">>} from 172.17.0.1:56630 due to plugin_chain_exhausted`, time.Time{}},
		// AWS IoT Core, the event alone, compact (cwl-format.html, Connect log entry)
		{`{"timestamp":"2017-08-10 15:37:23.476","logLevel":"INFO","traceId":"20b23f3f-d7f1-feae-169f-82263394fbdb","accountId":"123456789012","status":"Success","eventType":"Connect","protocol":"MQTT","clientId":"abf27092886e49a8a5c1922749736453","principalId":"145179c40e2219e18a909d896a5340b74cf97a39641beec2fc3eeafc5a932167","sourceIp":"205.251.233.181","sourcePort":13490}`,
			`"logLevel":"INFO","traceId":"20b23f3f-d7f1-feae-169f-82263394fbdb","accountId":"123456789012","status":"Success","eventType":"Connect","protocol":"MQTT","clientId":"abf27092886e49a8a5c1922749736453","principalId":"145179c40e2219e18a909d896a5340b74cf97a39641beec2fc3eeafc5a932167","sourceIp":"205.251.233.181","sourcePort":13490}`,
			date(2017, 8, 10, 15, 37, 23, 476)},
		// ... and with spaces, as the documentation prints it
		{`{ "timestamp": "2017-08-10 15:37:23.476", "logLevel": "INFO", "eventType": "Disconnect", "clientId": "abf2" }`,
			`"logLevel": "INFO", "eventType": "Disconnect", "clientId": "abf2" }`, date(2017, 8, 10, 15, 37, 23, 476)},
		// aws logs tail --format detailed: the tail's time, then the stream
		{`2024-05-14T14:52:54.916000+00:00 dd5a8e0e {"timestamp":"2024-05-14 14:52:54.916","logLevel":"ERROR"}`,
			`dd5a8e0e {"timestamp":"2024-05-14 14:52:54.916","logLevel":"ERROR"}`, date(2024, 5, 14, 14, 52, 54, 916)},
		// a CloudWatch Logs subscription record: kept whole, the first event's time
		{`{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"AWSIotLogsV2","logStream":"s","subscriptionFilters":["f"],"logEvents":[{"id":"1","timestamp":1715698374916,"message":"{\"timestamp\":\"2024-05-14 14:52:54.916\"}"}]}`,
			`{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"AWSIotLogsV2","logStream":"s","subscriptionFilters":["f"],"logEvents":[{"id":"1","timestamp":1715698374916,"message":"{\"timestamp\":\"2024-05-14 14:52:54.916\"}"}]}`,
			date(2024, 5, 14, 14, 52, 54, 916)},
		// Paho C trace (src/Log.c Log_formatTraceEntry, v1.3.12), local time
		{"20240514 145254.916 3 dup <- CONNACK rc: 5", "3 dup <- CONNACK rc: 5", date(2024, 5, 14, 14, 52, 54, 916)},
		// paho-mqtt with an asctime layout
		{"2024-05-14 14:52:54,916 DEBUG paho.mqtt.client: Received CONNACK (0, 5)", "DEBUG paho.mqtt.client: Received CONNACK (0, 5)", date(2024, 5, 14, 14, 52, 54, 916)},
	}
	for _, tt := range tests {
		msg, ts, ok := Split(tt.line)
		if !ok || msg != tt.msg || !ts.Equal(tt.t) {
			t.Errorf("Split(%q)\n = %q, %v, %v\nwant %q, %v", tt.line, msg, ts, ok, tt.msg, tt.t)
		}
	}
	// Not these systems' prefixes: left whole.
	for _, line := range []string{
		"DEBUG:paho.mqtt.client:Sending CONNECT (u0, p0, wr0, wq0, wf0, c1, k60) client_id=b'dup'",
		`{"level":"info","msg":"x"}`,
		`{"timestamp":"not a time","logLevel":"INFO"}`,
		`{"timestamp":"2017-08-10 15:37:23.476"}`,
		"20240514 1452549916 3 dup <- CONNACK rc: 5",
		"03:01:36.070 warning can't",
		`{"logEvents":[{"timestamp":x}]}`,
	} {
		if msg, _, ok := Split(line); ok || msg != line {
			t.Errorf("Split(%q) = %q, %v; want the line whole", line, msg, ok)
		}
	}
}

func TestDetect(t *testing.T) {
	tests := []struct{ line, want string }{
		{"2024-05-14 14:52:54,916 INFO  - Starting HiveMQ Community Edition Server", HiveMQ},
		{"2024-05-14 14:52:54,916 WARN  - The connection limit (10) is reached. ClientID (c1) connection denied.", HiveMQ},
		{"2024-05-14 14:52:54,916 - Client ID: c1, IP: 10.0.0.5, Clean Start: true, Session Expiry: 0 connected.", HiveMQ},
		{"2024-05-14 14:52:54,916 - Outgoing publish message was dropped. Receiving client: c1, topic: t, qos: 1, reason: The client message queue is full.", HiveMQ},
		{"2017-03-01 07:25:35.696 [info] <0.7.0> Application vmq_passwd started on node 'VerneMQ@172.17.0.3'", VerneMQ},
		{`2017-06-11 08:40:18.004 [warning] <0.2157.0>@vmq_mqtt_fsm:check_user:545 can't authenticate client {[],<<"k">>} due to error`, VerneMQ},
		{`03:01:36.070 [warning] can't authenticate client {[],<<"Client 1">>} from 172.17.0.1:56630 due to plugin_chain_exhausted`, VerneMQ},
		{`{"timestamp":"2017-08-10 15:37:23.476","logLevel":"INFO","traceId":"t","accountId":"1","status":"Success","eventType":"Connect"}`, AWSIoT},
		{`2024-05-14T14:52:54.916000+00:00 dd5a8e0e {"timestamp":"2024-05-14 14:52:54.916","logLevel":"ERROR","eventType":"Disconnect"}`, AWSIoT},
		{`{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1,"message":"{\"timestamp\":\"2024-05-14 14:52:54.916\",\"logLevel\":\"ERROR\",\"eventType\":\"Disconnect\"}"}]}`, AWSIoT},
		{"DEBUG:paho.mqtt.client:Sending CONNECT (u0, p0, wr0, wq0, wf0, c1, k60) client_id=b'dup'", Paho},
		{"20240514 145254.916 3 dup <- CONNACK rc: 5", Paho},
		{"2024-05-14 14:52:54,916 app DEBUG Received CONNACK (0, 5)", Paho},
		// Mosquitto's default unix-seconds prefix
		{"1795321998: Client dup already connected, closing old connection.", "mosquitto"},
		{"1795321998: Error: Unable to open pwfile \"/etc/mosquitto/passwd\".", "mosquitto"},
		// not these systems
		{"2026-11-22T04:33:18: Client dup already connected, closing old connection.", ""},
		{"1741944413123456 [warning] tag: AUTHN, clientid: c1, msg: authentication_failure", ""},
		{"12345678: x", ""},
		{"2025-03-14T09:26:53.123456+00:00 [warning] tag: AUTHN, clientid: c1, msg: authentication_failure", ""},
		{`{"time":1741944413123456,"level":"warning","msg":"authentication_failure"}`, ""},
		{"2022-01-04T20:29:29.018046+08:00 [warning] CENSYS@162.142.125.43:56246 [Channel] Client CENSYS (Username: 'undefined') login failed for not_authorized", ""},
	}
	for _, tt := range tests {
		msg, _, _ := Split(tt.line)
		got, ok := Detect(tt.line, msg)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("Detect(%q) = %q, %v; want %q", tt.line, got, ok, tt.want)
		}
	}
}

func TestBannerHiveMQ(t *testing.T) {
	// "HiveMQ version: {}" (SystemInformationImpl.setHivemqVersion@2025.5)
	for _, tt := range []struct{ line, version string }{
		{"2024-05-14 14:52:54,916 INFO  - HiveMQ version: 2024.5", "2024.5"},
		{"2024-05-14 14:52:54,916 INFO  - HiveMQ version: 4.28.0", "4.28.0"},
	} {
		msg, _, _ := Split(tt.line)
		b, v, ok := Banner(msg)
		if !ok || b != HiveMQ || v != tt.version {
			t.Errorf("Banner(%q) = %q %q %v, want hivemq %s", msg, b, v, ok, tt.version)
		}
	}
	for _, msg := range []string{"WARN  - HiveMQ version: 2024.5", "INFO  - HiveMQ version: ", "HiveMQ version: 2024.5"} {
		if b, v, ok := Banner(msg); ok {
			t.Errorf("Banner(%q) = %q %q, want none", msg, b, v)
		}
	}
}

func TestFaultSystems(t *testing.T) {
	tests := []struct{ line, sev string }{
		{"2024-05-14 14:52:54,916 ERROR - Could not start MQTT TCP listener on port 1883", "error"},
		{"2024-05-14 14:52:54,916 WARN  - The connection limit (10) is reached. ClientID (c1) connection denied.", "warning"},
		{"2024-05-14 14:52:54,916 INFO  - Started HiveMQ in 3210ms", ""},
		{`2017-06-11 08:40:18.004 [warning] <0.2157.0>@vmq_mqtt_fsm:check_user:545 can't authenticate client {[],<<"k">>} due to error`, "warning"},
		{`{"timestamp":"2020-02-18 19:09:29.632","logLevel":"ERROR","traceId":"b","accountId":"1","status":"Failure","eventType":"Connect"}`, "error"},
		{`{"timestamp":"2020-02-18 19:09:29.632","logLevel":"INFO","traceId":"b","accountId":"1","status":"Success","eventType":"Connect"}`, ""},
		{`{ "timestamp": "2020-02-18 19:09:29.632", "logLevel": "WARN", "eventType": "Publish-In" }`, "warning"},
		// paho-mqtt applications: Python logging's levels after a logger name
		{"2026-12-05 10:12:21,767 ERROR app: connect failed: Connection Refused: not authorised.", "error"},
		{"2026-12-05 10:12:50,690 WARNING app: unexpected disconnect: Client or broker did not communicate in the keepalive interval.", "warning"},
		{"CRITICAL:root:giving up", "critical"},
		{"ERROR:paho.mqtt.client:failed to receive on socket: [Errno 104] Connection reset by peer", "error"},
		{"2026-12-05 10:12:21,767 DEBUG paho.mqtt.client: Received CONNACK (0, 5)", ""},
		{"ERROR no logger name here", ""},
		{"WARNING: something", ""},
		// unchanged for Mosquitto and EMQX
		{"1795321998: Error: Unable to open pwfile \"/etc/mosquitto/passwd\".", "error"},
		{`{"time":1741944413123456,"level":"warning","msg":"authentication_failure"}`, "warning"},
		{"1795321998: Warning: Mosquitto should not be run as root/administrator.", "warning"},
	}
	for _, tt := range tests {
		msg, _, _ := Split(tt.line)
		sev, ok := Fault(msg)
		if sev != tt.sev || ok != (tt.sev != "") {
			t.Errorf("Fault(%q) = %q, %v; want %q", msg, sev, ok, tt.sev)
		}
	}
}

// AWS IoT entries group by level, event and outcome, whatever their
// spacing and escaping; other lines keep Shape's word rules.
func TestShapeSystems(t *testing.T) {
	const want = "[ERROR] eventType: Connect, status: Failure, reason: AUTHORIZATION_FAILURE"
	for _, line := range []string{
		`{"timestamp":"2025-03-14 09:00:09.639","logLevel":"ERROR","traceId":"b","status":"Failure","eventType":"Connect","clientId":"meter-12","reason":"AUTHORIZATION_FAILURE","details":"Authorization Failure"}`,
		`{ "timestamp": "2025-03-14 09:00:09.639", "logLevel": "ERROR", "traceId": "c", "status": "Failure", "eventType": "Connect", "clientId": "meter-13", "reason": "AUTHORIZATION_FAILURE" }`,
		`{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1741942809639,"message":"{\"timestamp\":\"2025-03-14 09:00:09.639\",\"logLevel\":\"ERROR\",\"status\":\"Failure\",\"eventType\":\"Connect\",\"clientId\":\"m\",\"reason\":\"AUTHORIZATION_FAILURE\"}"}]}`,
	} {
		msg, _, _ := Split(line)
		if got := Shape(msg); got != want {
			t.Errorf("Shape(%q) = %q, want %q", msg, got, want)
		}
	}
	for msg, want := range map[string]string{
		`{"time":1741944413123456,"level":"warning","msg":"authentication_failure"}`: "[warning] msg: authentication_failure",
		"ERROR app: frobnicator 7 broke":                                             "ERROR app: frobnicator * broke",
		`{"logLevel":"ERROR"}`:                                                       `{"logLevel":"ERROR"}`,
	} {
		if got := Shape(msg); got != want {
			t.Errorf("Shape(%q) = %q, want %q", msg, got, want)
		}
	}
}

// FuzzSplitSystems: any line splits without panicking; what Split leaves
// as the message is a suffix of the line (these formats only strip a
// prefix), and whatever Detect and Fault say comes without panicking.
func FuzzSplitSystems(f *testing.F) {
	for _, s := range []string{
		"2024-05-14 14:52:54,916 - Client ID: c, IP: 1",
		"2024-05-14 14:52:54,916 INFO  - HiveMQ version: 2024.5",
		"2023-05-04 10:11:12.345 UTC [error] x",
		"03:01:36.070 [warning] can't",
		"03:01:36.070 UTC [warning] x",
		`{"timestamp":"2017-08-10 15:37:23.476","logLevel":"INFO","eventType":"Connect"}`,
		`{ "timestamp" : "2017-08-10 15:37:23.476" , "x": 1}`,
		`{"logEvents":[{"timestamp":1715698374916,"message":"m"}]}`,
		"20240514 145254.916 3 dup <- CONNACK rc: 5",
		"99999999 999999.999 x",
		"2026-12-05 10:12:21,767 CRITICAL app: x",
		"ERROR:paho.mqtt.client:failed",
		`{"logEvents":[{"message":"{\"logLevel\":\"ERROR\",\"eventType\":\"Connect\",\"reason\":\"`,
		"1795321998: x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		msg, _, _ := Split(line)
		if !strings.HasSuffix(line, msg) {
			t.Fatalf("Split(%q) = %q, not a suffix of the line", line, msg)
		}
		_, _ = Detect(line, msg)
		_, _ = Fault(msg)
		_, _, _ = Banner(msg)
		_ = Shape(msg)
	})
}
