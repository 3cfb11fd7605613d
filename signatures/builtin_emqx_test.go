package signatures_test

// The EMQX half of the built-in pack is derived from EMQX's source (EMQX
// cannot run here), so these tests hold it to what can be checked without
// a broker: every source example fires its own signature through the real
// matcher after brokerlog.Split, in both of EMQX's formats; the named
// fields carry the expected values; no EMQX signature fires on the real
// Mosquitto capture; and the derived sample logs are fully explained.

import (
	"bufio"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/internal/catalogue"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
)

// emqxPack is the built-in pack, the EMQX signatures in it, and the real
// matcher over the whole pack.
func emqxPack(t *testing.T) (all, emqx []*signatures.Signature, m *matcher.Matcher) {
	t.Helper()
	all, err := signatures.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range all {
		if s.Broker == signatures.BrokerEMQX {
			emqx = append(emqx, s)
		}
	}
	if len(emqx) < 20 {
		t.Fatalf("%d EMQX signatures, want at least 20", len(emqx))
	}
	m, err = matcher.New(all)
	if err != nil {
		t.Fatal(err)
	}
	return all, emqx, m
}

// hitOf matches a whole log line as the pipeline does and returns the hit
// of signature id, if any.
func hitOf(m *matcher.Matcher, id, line string) (matcher.Hit, bool) {
	msg, _, _ := brokerlog.Split(line)
	for _, h := range m.Match(msg) {
		if h.Signature.ID == id {
			return h, true
		}
	}
	return matcher.Hit{}, false
}

// isJSON tells EMQX's JSON lines (5.3+, and 5.0.4-5.2's "<ts> <level>: {")
// from its text lines.
func isJSON(line string) bool {
	if strings.HasPrefix(line, `{"time":`) {
		return true
	}
	msg, _, _ := brokerlog.Split(line)
	_, rest, ok := strings.Cut(msg, ": {")
	return ok && !strings.HasPrefix(msg, "[") && strings.HasPrefix("{"+rest, `{"`)
}

// tagStartScript marks an EMQX signature whose line is printed by EMQX's
// start scripts (bin/emqx, the docker image's docker-entrypoint.sh) or by
// the programs they run (hostname, logger), on the console, the container's
// output or the service's journal, before or beside the Erlang node and never
// through EMQX's logger. Such a line has no JSON form (log.formatter does not
// apply to it) and never appears in the node's own log files, so the two
// format and sample-log requirements below are waived for it, and only for
// it: it must have text source examples that fire with their fields checked,
// no JSON example, and must not fire on the node's sample logs. Removing the
// tag from such a signature makes these tests fail.
const tagStartScript = "start-script"

func isStartScript(s *signatures.Signature) bool { return slices.Contains(s.Tags, tagStartScript) }

func TestEMQXSourceExamplesFire(t *testing.T) {
	_, emqx, m := emqxPack(t)
	for _, s := range emqx {
		if s.VerificationTier != "source_derived" || len(s.Examples) != 0 {
			t.Errorf("%s: EMQX cannot run here: want verification_tier source_derived and lines in source_examples only", s.ID)
		}
		var text, js int
		for _, line := range s.SourceExamples {
			if isJSON(line) {
				js++
			} else {
				text++
			}
			if _, ok := hitOf(m, s.ID, line); !ok {
				t.Errorf("%s does not fire on its source example %q", s.ID, line)
			}
		}
		switch {
		case isStartScript(s) && (text == 0 || js != 0):
			t.Errorf("%s: %d text and %d JSON source examples; a %s signature has text ones only", s.ID, text, js, tagStartScript)
		case !isStartScript(s) && (text == 0 || js == 0):
			t.Errorf("%s: %d text and %d JSON source examples, want both formats", s.ID, text, js)
		}
		for _, line := range s.Counterexamples {
			if _, ok := hitOf(m, s.ID, line); ok {
				t.Errorf("%s fires on its counterexample %q", s.ID, line)
			}
		}
	}
}

// emqxFields: for source example idx of signature id, the exact named
// captures the matcher must report.
var emqxFields = []struct {
	id     string
	idx    int
	fields map[string]string
}{
	{"emqx/session-stepdown-timeout", 0, map[string]string{"action": "{takeover,'begin'}", "address": "10.0.0.5:52344", "client_id": "sensor-42", "stale_pid": "<0.3021.0>", "username": "alice"}},
	{"emqx/session-stepdown-timeout", 1, map[string]string{"action": "{takeover,'begin'}", "address": "10.0.0.5:52344", "client_id": "sensor-42", "stale_pid": "<0.3021.0>", "username": "alice"}},
	{"emqx/session-stepdown-timeout", 2, map[string]string{"action": "{takeover,'begin'}", "address": "10.0.0.5:52344", "client_id": "sensor-42", "stale_pid": "<0.3021.0>"}},
	{"emqx/session-stepdown-timeout", 5, map[string]string{"action": "discard", "address": "10.0.0.9:40112", "client_id": "dev-ws-7", "stale_pid": "<0.5120.0>", "username": "bob"}},
	{"emqx/session-stepdown-exception", 0, map[string]string{"action": "discard", "address": "10.0.0.5:52344", "client_id": "sensor-42", "error": "exit", "reason": "{noproc,{gen_server,call,[<0.3021.0>,discard,3000]}}", "username": "alice"}},
	{"emqx/session-stepdown-exception", 1, map[string]string{"action": "discard", "address": "10.0.0.5:52344", "client_id": "sensor-42", "error": "exit", "reason": "{noproc,{gen_server,call,[<0.3021.0>,discard,3000]}}", "username": "alice"}},
	{"emqx/session-stepdown-exception", 2, map[string]string{"address": "127.0.0.1:35320", "client_id": "ClientId_local20+1758769295046", "error": "exit", "reason": "calling_self", "username": "xxx"}},
	{"emqx/kick-session-remote-failed", 0, map[string]string{"action": "discard", "address": "10.0.0.5:52344", "client_id": "sensor-42", "node": "emqx@10.0.0.6", "reason": "{badrpc,timeout}", "username": "alice"}},
	{"emqx/kick-session-remote-failed", 1, map[string]string{"action": "discard", "address": "10.0.0.5:52344", "client_id": "sensor-42", "node": "emqx@10.0.0.6", "reason": "{badrpc,timeout}", "username": "alice"}},
	{"emqx/kick-session-remote-failed", 2, map[string]string{"action": "discard", "address": "58.186.70.166:28094", "client_id": "Mqtt_App_android_233562_30hjplhclnl", "node": "mqtt@172.254.63.76", "reason": "{badrpc,timeout}"}},
	{"emqx/session-takenover", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "{shutdown,takenover}", "username": "alice"}},
	{"emqx/session-takenover", 1, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "{shutdown,takenover}", "username": "alice"}},
	{"emqx/session-takenover", 2, map[string]string{"address": "2001:db8::7:40022", "client_id": "pump-7", "reason": "{shutdown,discarded}", "username": "plant"}},
	{"emqx/session-takenover", 4, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "{shutdown,takenover}"}},
	{"emqx/session-takenover", 5, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "{shutdown,takenover}"}},
	{"emqx/keepalive-timeout", 0, map[string]string{"address": "192.168.7.41:50712", "client_id": "meter-0031", "reason": "{shutdown,keepalive_timeout}", "username": "meters"}},
	{"emqx/keepalive-timeout", 1, map[string]string{"address": "192.168.7.41:50712", "client_id": "meter-0031", "reason": "{shutdown,keepalive_timeout}", "username": "meters"}},
	{"emqx/keepalive-timeout", 3, map[string]string{"address": "192.168.7.41:50712", "client_id": "meter-0031", "reason": "{shutdown,keepalive_timeout}"}},
	{"emqx/connack-refused", 0, map[string]string{"address": "10.0.0.8:41876", "reason": "{shutdown,client_identifier_not_valid}"}},
	{"emqx/connack-refused", 1, map[string]string{"address": "10.0.0.8:41876", "reason": "{shutdown,client_identifier_not_valid}"}},
	{"emqx/connack-refused", 2, map[string]string{"address": "10.0.0.12:39001", "client_id": "gw-12", "reason": "{shutdown,server_busy}", "username": "gateway"}},
	{"emqx/connack-refused", 3, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "{shutdown,server_unavailable}", "username": "alice"}},
	{"emqx/flapping-detected", 0, map[string]string{"address": "10.0.0.5", "client_id": "sensor-42", "count": "15", "window_ms": "60000"}},
	{"emqx/flapping-detected", 1, map[string]string{"address": "10.0.0.5", "client_id": "sensor-42", "count": "15", "window_ms": "60000"}},
	{"emqx/flapping-detected", 2, map[string]string{"address": "10.0.0.5", "client_id": "sensor-42", "count": "15", "window_ms": "60000"}},
	{"emqx/flapping-detected", 4, map[string]string{"address": "10.0.0.5", "client_id": "sensor-42", "count": "15", "window_ms": "60000"}},
	{"emqx/kick-session-banned", 0, map[string]string{}},
	{"emqx/kick-session-banned", 1, map[string]string{"client_id": "sensor-42"}},
	{"emqx/clientid-registration-throttled", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "local_down": "1", "username": "alice"}},
	{"emqx/clientid-registration-throttled", 1, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "local_down": "1", "username": "alice"}},
	{"emqx/kicked-unknown-session", 0, map[string]string{"client_id": "sensor-42"}},
	{"emqx/kicked-unknown-session", 1, map[string]string{"client_id": "sensor-42"}},
	{"emqx/authentication-failure", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "bad_username_or_password", "username": "alice"}},
	{"emqx/authentication-failure", 1, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "bad_username_or_password", "username": "alice"}},
	{"emqx/authentication-failure", 2, map[string]string{"address": "2001:db8::5:52344", "client_id": "dev 1, line=2", "reason": "not_authorized", "username": "bob"}},
	{"emqx/authenticator-error", 0, map[string]string{"address": "10.0.0.5:52344", "authenticator": "password_based:http", "client_id": "sensor-42", "reason": "timeout", "username": "alice"}},
	{"emqx/authenticator-error", 1, map[string]string{"address": "10.0.0.5:52344", "authenticator": "password_based:http", "client_id": "sensor-42", "reason": "timeout", "username": "alice"}},
	{"emqx/authenticator-error", 2, map[string]string{"address": "10.0.0.5:52344", "authenticator": "password_based:http", "client_id": "sensor-42", "reason": "timeout", "username": "alice"}},
	{"emqx/publish-not-authorized", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "not_authorized", "topic": "factory/line1/cmd", "username": "alice"}},
	{"emqx/publish-not-authorized", 1, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "not_authorized", "topic": "factory/line1/cmd", "username": "alice"}},
	{"emqx/publish-not-authorized", 2, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "not_authorized", "topic": "factory/line1/cmd"}},
	{"emqx/publish-not-authorized", 3, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "not_authorized", "topic": "factory/line1/cmd"}},
	{"emqx/publish-not-authorized", 4, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "not_authorized", "topic": "factory/line1/cmd"}},
	{"emqx/publish-not-authorized", 7, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "not_authorized", "topic": "factory/line1/cmd"}},
	{"emqx/publish-quota-exceeded", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "quota_exceeded", "topic": "factory/line1/cmd", "username": "alice"}},
	{"emqx/publish-quota-exceeded", 1, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "quota_exceeded", "topic": "factory/line1/cmd", "username": "alice"}},
	{"emqx/publish-quota-exceeded", 2, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "quota_exceeded", "topic": "factory/line1/cmd"}},
	{"emqx/publish-quota-exceeded", 3, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "quota_exceeded", "topic": "factory/line1/cmd"}},
	{"emqx/publish-refused-caps", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "qos_not_supported", "topic": "factory/line1/cmd", "username": "alice"}},
	{"emqx/publish-refused-caps", 1, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "topic_name_invalid", "topic": "factory/+/cmd", "username": "alice"}},
	{"emqx/publish-refused-caps", 2, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "retain_not_supported", "topic": "status/sensor-42"}},
	{"emqx/authorization-denied", 0, map[string]string{"action": "SUBSCRIBE(Q1)", "address": "10.0.0.5:52344", "client_id": "sensor-42", "source": "file", "topic": "secret/#", "username": "alice"}},
	{"emqx/authorization-denied", 1, map[string]string{"action": "SUBSCRIBE(Q1)", "address": "10.0.0.5:52344", "client_id": "sensor-42", "source": "file", "topic": "secret/#", "username": "alice"}},
	{"emqx/authorization-denied", 2, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "source": "file", "topic": "factory/line1/cmd", "username": "alice"}},
	{"emqx/authorization-denied", 3, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "source": "file", "topic": "factory/line1/cmd", "username": "alice"}},
	{"emqx/authorization-denied", 5, map[string]string{"address": "127.0.0.1:35228", "client_id": "myclient", "source": "file", "topic": "some/topic", "username": "undefined"}},
	{"emqx/subscribe-refused", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "Quota exceeded", "topic": "sensors/#", "username": "alice"}},
	{"emqx/subscribe-refused", 1, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "Quota exceeded", "topic": "sensors/#", "username": "alice"}},
	{"emqx/subscribe-refused", 2, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "shared_subscriptions_not_supported", "topic": "$share/g1/sensors/#", "username": "alice"}},
	{"emqx/subscribe-refused", 3, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "Quota exceeded", "topic": "sensors/#"}},
	{"emqx/rate-limit-paused", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "paused_ms": "100", "username": "alice"}},
	{"emqx/rate-limit-paused", 1, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "paused_ms": "100", "username": "alice"}},
	{"emqx/rate-limit-paused", 2, map[string]string{"address": "10.0.0.12:39001", "client_id": "gw-12", "paused_ms": "250", "username": "gateway"}},
	{"emqx/packet-too-large-discarded", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "frame_is_too_large", "topic": "sensors/42/blob", "username": "alice"}},
	{"emqx/packet-too-large-discarded", 1, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "frame_is_too_large", "topic": "sensors/42/blob", "username": "alice"}},
	{"emqx/packet-too-large-discarded", 2, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "frame_is_too_large", "topic": "cam/7/frame"}},
	{"emqx/frame-parse-error", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "limit": "1048576", "reason": "frame_too_large", "username": "alice"}},
	{"emqx/frame-parse-error", 1, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "limit": "1048576", "reason": "frame_too_large", "username": "alice"}},
	{"emqx/frame-parse-error", 2, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "limit": "1048576", "reason": "frame_too_large", "username": "alice"}},
	{"emqx/frame-parse-error", 3, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "frame_too_large"}},
	{"emqx/frame-parse-error", 4, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "frame_too_large"}},
	{"emqx/frame-parse-error", 5, map[string]string{"address": "10.0.0.77:51514", "reason": "malformed_packet"}},
	{"emqx/malformed-mqtt-message", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "malformed_packet", "username": "alice"}},
	{"emqx/malformed-mqtt-message", 1, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "malformed_packet", "username": "alice"}},
	{"emqx/mqueue-full-dropped", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "dropped": "17", "limit": "1000", "topic": "sensors/42/temp", "username": "alice"}},
	{"emqx/mqueue-full-dropped", 1, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "dropped": "17", "limit": "1000", "topic": "sensors/42/temp", "username": "alice"}},
	{"emqx/mqueue-full-dropped", 2, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "dropped": "17", "limit": "1000", "topic": "sensors/42/temp"}},
	{"emqx/mqueue-full-dropped", 3, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "dropped": "17", "limit": "1000", "topic": "sensors/42/temp"}},
	{"emqx/qos0-dropped", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "dropped": "3", "limit": "1000", "topic": "sensors/42/temp", "username": "alice"}},
	{"emqx/qos0-dropped", 1, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "dropped": "3", "limit": "1000", "topic": "sensors/42/temp", "username": "alice"}},
	{"emqx/qos2-packet-dropped", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "packet_id": "12", "reason": "receive_maximum_exceeded", "topic": "sensors/42/temp", "username": "alice"}},
	{"emqx/qos2-packet-dropped", 1, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "packet_id": "12", "reason": "receive_maximum_exceeded", "topic": "sensors/42/temp", "username": "alice"}},
	{"emqx/qos2-packet-dropped", 2, map[string]string{"address": "10.0.0.31:50113", "client_id": "plc-3", "packet_id": "4711", "reason": "packet_identifier_inuse", "topic": "line/3/counter", "username": "plc"}},
	{"emqx/packet-identifier-in-use", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "packet_id": "7", "username": "alice"}},
	{"emqx/packet-identifier-in-use", 1, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "packet_id": "7", "username": "alice"}},
	{"emqx/packet-identifier-in-use", 2, map[string]string{"address": "10.0.0.21:40800", "client_id": "historian-1", "packet_id": "113", "username": "svc"}},
	{"emqx/packet-identifier-in-use", 4, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "packet_id": "7"}},
	{"emqx/packet-identifier-in-use", 5, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "packet_id": "7"}},
	{"emqx/packet-identifier-in-use", 6, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "packet_id": "7"}},
	{"emqx/oom-shutdown", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "limit": "1000", "reason": "mailbox_overflow", "username": "alice", "value": "1024"}},
	{"emqx/oom-shutdown", 1, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "limit": "1000", "reason": "mailbox_overflow", "username": "alice", "value": "1024"}},
	// Start-script lines (tag start-script): text only.
	{"emqx/start-timeout", 0, map[string]string{"product": "EMQ X Broker", "seconds": "15", "version": "4.3.5"}},
	{"emqx/start-timeout", 2, map[string]string{"product": "EMQ X Broker", "seconds": "15", "version": "4.3.5"}},
	{"emqx/start-timeout", 3, map[string]string{"node": "emqx@127.0.0.1", "probes": "120", "product": "EMQX", "version": "5.8.9"}},
	{"emqx/default-erlang-cookie", 0, map[string]string{"warning": "Default (insecure) Erlang cookie is in use"}},
	{"emqx/default-erlang-cookie", 1, map[string]string{"warning": "Default (insecure) Erlang cookie is in use"}},
	{"emqx/hostname-unresolvable", 0, map[string]string{"error": "Name or service not known"}},
	{"emqx/start-failed-no-syslog-socket", 0, map[string]string{"error": "No such file or directory", "socket": "/dev/log"}},
	{"emqx/node-exit-abnormally", 0, map[string]string{"event": "exit abnormally", "time": "2020-03-28T03:02:59Z"}},
	{"emqx/node-exit-abnormally", 1, map[string]string{"event": "not running", "seconds": "20", "time": "2020-11-02T08:15:40Z"}},
	{"emqx/connection-crash", 0, map[string]string{"context": "connection_shutdown", "reason": "#{max => 1000,reason => mailbox_overflow,value => 1024}"}},
	{"emqx/connection-crash", 1, map[string]string{"context": "connection_shutdown", "reason": "#{max => 1000,reason => mailbox_overflow,value => 1024}"}},
	{"emqx/connection-crash", 2, map[string]string{}},
	{"emqx/connection-crash", 5, map[string]string{"context": "connection_crashed", "reason": "{{badmatch,{error,closed}},[{emqx_connection,init,1,[{file,\"src/emqx_connection.erl\"},{line,146}]},{proc_lib,init_p_do_apply,3,[{file,\"proc_lib.erl\"},{line,249}]}]}"}},
	{"emqx/connection-crash", 6, map[string]string{"context": "connection_crashed", "reason": "{ssl_error,{options,{cacertfile,[]}}}"}},
	{"emqx/packet-identifier-not-found", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "packet_id": "7", "username": "alice"}},
	{"emqx/packet-identifier-not-found", 1, map[string]string{"address": "10.0.0.31:50113", "client_id": "plc-3", "packet_id": "4711", "username": "plc"}},
	{"emqx/packet-identifier-not-found", 2, map[string]string{"address": "10.0.0.21:40800", "client_id": "historian-1", "packet_id": "113"}},
	{"emqx/tls-handshake-alert", 0, map[string]string{"alert": "Unknown CA", "reason": "{bad_cert,unknown_ca}", "state": "certify"}},
	{"emqx/tls-handshake-alert", 1, map[string]string{"alert": "Unknown CA", "reason": "{bad_cert,unknown_ca}", "state": "certify"}},
	{"emqx/tls-handshake-alert", 2, map[string]string{"alert": "Unknown CA", "state": "certify"}},
	{"emqx/tls-handshake-alert", 3, map[string]string{"alert": "Unknown CA", "state": "certify"}},
	{"emqx/tls-handshake-alert", 4, map[string]string{"alert": "Bad Record MAC", "reason": "{record_type_mismatch,21}", "state": "wait_finished"}},
	{"emqx/tls-handshake-report", 0, map[string]string{"alert": "unknown_ca", "state": "certify"}},
	{"emqx/tls-handshake-report", 1, map[string]string{"alert": "unknown_ca", "state": "certify"}},
	{"emqx/tls-handshake-report", 2, map[string]string{"alert": "bad_record_mac", "state": "wait_finished"}},
	{"emqx/tls-handshake-report", 3, map[string]string{"alert": "unknown_ca", "state": "certify"}},
	{"emqx/forward-msg-failed", 0, map[string]string{"node": "emqx@10.0.0.6", "reason": "timeout"}},
	{"emqx/forward-msg-failed", 1, map[string]string{"node": "emqx@10.0.0.6", "reason": "timeout"}},
	{"emqx/forward-msg-failed", 2, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "node": "emqx@10.0.0.6", "reason": "econnrefused"}},
	{"emqx/forward-msg-failed", 4, map[string]string{"node": "emqx@10.0.0.6", "reason": "timeout"}},
	{"emqx/rpc-connect-failed", 0, map[string]string{"node": "emqx@10.0.0.7", "port": "5370", "reason": "ehostunreach"}},
	{"emqx/rpc-connect-failed", 1, map[string]string{"node": "emqx@10.0.0.7", "port": "5370", "reason": "ehostunreach"}},
	{"emqx/rpc-connect-failed", 2, map[string]string{"node": "emqx@10.0.0.6", "reason": "econnrefused"}},
	{"emqx/rpc-connect-failed", 3, map[string]string{"node": "emqx@10.0.0.6", "reason": "econnrefused"}},
	{"emqx/socket-error", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "{tls_alert,{internal_error,\"TLS server: In state connection received CLIENT ALERT: Fatal - Internal Error\\n\"}}", "username": "alice"}},
	{"emqx/socket-error", 1, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "{tls_alert,{internal_error,\\\"TLS server: In state connection received CLIENT ALERT: Fatal - Internal Error\\\\n\\\"}}", "username": "alice"}},
	{"emqx/socket-error", 2, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "etimedout"}},
	{"emqx/socket-error", 4, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "etimedout"}},
	{"emqx/listener-listen-failed", 0, map[string]string{"listener": "tcp:default", "port": "1883", "reason": "eaddrinuse"}},
	{"emqx/listener-listen-failed", 1, map[string]string{"listener": "tcp:default", "port": "1883", "reason": "eaddrinuse"}},
	{"emqx/listener-listen-failed", 2, map[string]string{"listener": "ws:default", "reason": "eaddrinuse"}},
	{"emqx/listener-listen-failed", 3, map[string]string{"listener": "ws:default", "reason": "eaddrinuse"}},
	{"emqx/listener-listen-failed", 4, map[string]string{"address": "0.0.0.0:8883", "listener": "ssl:default", "reason": "{shutdown,{failed_to_start_child,{ranch_listener_sup,{ssl,default}},{shutdown,{failed_to_start_child,ranch_acceptors_sup,{listen_error,{ssl,default},eaddrinuse}}}}}"}},
	{"emqx/max-connections-reached", 0, map[string]string{"listener": "0.0.0.0:1883", "reason": "maxlimit"}},
	{"emqx/max-connections-reached", 1, map[string]string{"listener": "0.0.0.0:1883", "reason": "maxlimit"}},
	{"emqx/max-connections-reached", 2, map[string]string{"listener": "0.0.0.0:1883", "reason": "maxlimit"}},
	{"emqx/max-connections-reached", 3, map[string]string{"listener": "0.0.0.0:1883", "reason": "maxlimit"}},
	{"emqx/max-connections-reached", 4, map[string]string{"current": "1024", "limit": "1024"}},
	{"emqx/max-connections-reached", 5, map[string]string{"current": "1024", "limit": "1024"}},
	{"emqx/too-many-open-files", 0, map[string]string{"listener": "0.0.0.0:1883", "reason": "EMFILE (Too many open files)"}},
	{"emqx/too-many-open-files", 1, map[string]string{"listener": "0.0.0.0:1883", "reason": "EMFILE (Too many open files)"}},
	{"emqx/too-many-open-files", 2, map[string]string{"listener": "0.0.0.0:1883", "reason": "EMFILE (Too many open files)"}},
	{"emqx/too-many-open-files", 3, map[string]string{"listener": "0.0.0.0:8883", "reason": "ENFILE (File table overflow)"}},
	{"emqx/license-connection-limit", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "username": "alice"}},
	{"emqx/license-connection-limit", 1, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "username": "alice"}},
	{"emqx/alarm-high-system-memory", 0, map[string]string{"alarm": "high_system_memory_usage", "message": "81.37% mem usage"}},
	{"emqx/alarm-high-system-memory", 1, map[string]string{"alarm": "high_system_memory_usage", "message": "81.37% mem usage"}},
	{"emqx/alarm-high-system-memory", 4, map[string]string{"alarm": "high_system_memory_usage", "message": "81.37% mem usage"}},
	{"emqx/alarm-high-system-memory", 5, map[string]string{"alarm": "high_system_memory_usage", "message": "78.39% mem usage"}},
	{"emqx/alarm-high-system-memory", 6, map[string]string{"alarm": "high_system_memory_usage", "message": "91.02% mem usage"}},
	{"emqx/alarm-high-process-memory", 0, map[string]string{"alarm": "high_process_memory_usage", "message": "Process memory usage is higher than 5%"}},
	{"emqx/alarm-high-process-memory", 1, map[string]string{"alarm": "high_process_memory_usage", "message": "Process memory usage is higher than 5%"}},
	{"emqx/alarm-high-cpu", 0, map[string]string{"alarm": "high_cpu_usage", "message": "93.10% cpu usage"}},
	{"emqx/alarm-high-cpu", 1, map[string]string{"alarm": "high_cpu_usage", "message": "93.10% cpu usage"}},
	{"emqx/alarm-too-many-processes", 0, map[string]string{"alarm": "too_many_processes", "message": "81% process usage"}},
	{"emqx/alarm-too-many-processes", 1, map[string]string{"alarm": "too_many_processes", "message": "81% process usage"}},
	{"emqx/alarm-runq-overload", 0, map[string]string{"alarm": "runq_overload", "message": "VM is overloaded on node: 'emqx@127.0.0.1': 142"}},
	{"emqx/alarm-runq-overload", 1, map[string]string{"alarm": "runq_overload", "message": "VM is overloaded on node: 'emqx@127.0.0.1': 142"}},
	{"emqx/alarm-runq-overload", 2, map[string]string{"alarm": "runq_overload", "message": "VM is overloaded on node: 'emqx@10.0.0.5': 96"}},
	{"emqx/alarm-conn-congestion", 0, map[string]string{"alarm": "conn_congestion", "client_id": "sensor-42", "message": "connection congested: #{pid => <<\\\"<0.3021.0>\\\">>,peername => <<\\\"10.0.0.5:52344\\\">>,send_pend => 102400}", "username": "alice"}},
	{"emqx/alarm-conn-congestion", 1, map[string]string{"alarm": "conn_congestion", "client_id": "sensor-42", "message": "connection congested: #{pid => <<\\\"<0.3021.0>\\\">>,peername => <<\\\"10.0.0.5:52344\\\">>,send_pend => 102400}", "username": "alice"}},
	{"emqx/alarm-partition", 0, map[string]string{"alarm": "partition", "node": "emqx@10.0.0.6"}},
	{"emqx/alarm-partition", 1, map[string]string{"alarm": "partition", "node": "emqx@10.0.0.6"}},
	{"emqx/alarm-resource-down", 0, map[string]string{"reason": "econnrefused", "resource_id": "connector:mqtt:cloud_bridge"}},
	{"emqx/alarm-resource-down", 1, map[string]string{"reason": "econnrefused", "resource_id": "connector:mqtt:cloud_bridge"}},
	{"emqx/alarm-resource-down", 2, map[string]string{"reason": "timeout", "resource_id": "emqx_authn_http:2"}},
	{"emqx/alarm-resource-down", 3, map[string]string{"reason": "timeout", "resource_id": "bridge:mqtt:cloud_bridge"}},
	{"emqx/alarm-deactivated", 0, map[string]string{"alarm": "high_system_memory_usage"}},
	{"emqx/alarm-deactivated", 1, map[string]string{"alarm": "high_system_memory_usage"}},
	{"emqx/alarm-deactivated", 2, map[string]string{"alarm": "high_system_memory_usage"}},
	{"emqx/alarm-deactivated", 3, map[string]string{"alarm": "connector:mqtt:cloud_bridge"}},
	{"emqx/cluster-node-down", 0, map[string]string{"node": "emqx@10.0.0.6"}},
	{"emqx/cluster-node-down", 1, map[string]string{"node": "emqx@10.0.0.6"}},
	{"emqx/cluster-node-down", 2, map[string]string{"node": "emqx@10.0.0.7"}},
	{"emqx/cluster-node-purged", 0, map[string]string{"node": "emqx@10.0.0.6", "reason": "left"}},
	{"emqx/cluster-node-purged", 1, map[string]string{"node": "emqx@10.0.0.9", "reason": "{replicant_down_for,900000}"}},
	{"emqx/cluster-node-purged", 2, map[string]string{"node": "emqx@10.0.0.6", "reason": "left"}},
	{"emqx/erlang-node-not-responding", 0, map[string]string{"node": "emqx@10.0.0.6"}},
	{"emqx/erlang-node-not-responding", 1, map[string]string{"node": "emqx@10.0.0.6"}},
	{"emqx/global-overlapping-partitions", 0, map[string]string{"node": "emqx@10.0.0.5", "peer_node": "emqx@10.0.0.6"}},
	{"emqx/global-overlapping-partitions", 1, map[string]string{"node": "emqx@10.0.0.5", "peer_node": "emqx@10.0.0.6"}},
	{"emqx/resource-start-failed", 0, map[string]string{"reason": "econnrefused", "resource_id": "connector:mqtt:cloud_bridge", "tag": "CONNECTOR/MQTT"}},
	{"emqx/resource-start-failed", 1, map[string]string{"reason": "econnrefused", "resource_id": "connector:mqtt:cloud_bridge", "tag": "CONNECTOR/MQTT"}},
	{"emqx/resource-start-failed", 2, map[string]string{"reason": "econnrefused", "resource_id": "bridge:mqtt:cloud_bridge"}},
	{"emqx/resource-start-failed", 3, map[string]string{"reason": "econnrefused", "resource_id": "bridge:mqtt:cloud_bridge"}},
	{"emqx/resource-start-failed", 4, map[string]string{"reason": "timeout", "resource_id": "emqx_authn_http:2"}},
	{"emqx/resource-health-check-failed", 0, map[string]string{"resource_id": "connector:mqtt:cloud_bridge", "status": "disconnected", "tag": "CONNECTOR/MQTT"}},
	{"emqx/resource-health-check-failed", 1, map[string]string{"resource_id": "connector:mqtt:cloud_bridge", "status": "disconnected", "tag": "CONNECTOR/MQTT"}},
	{"emqx/resource-health-check-failed", 2, map[string]string{"resource_id": "emqx_authn_http:2", "status": "disconnected"}},
	{"emqx/resource-unrecoverable-error", 0, map[string]string{"reason": "{unrecoverable_error,#{status_code => 404}}", "resource_id": "action:http:webhook_1:connector:http:webhook_1", "tag": "RESOURCE"}},
	{"emqx/resource-unrecoverable-error", 1, map[string]string{"reason": "{unrecoverable_error,#{status_code => 404}}", "resource_id": "action:http:webhook_1:connector:http:webhook_1", "tag": "RESOURCE"}},
	{"emqx/resource-unrecoverable-error", 2, map[string]string{"reason": "{unrecoverable_error,#{status_code => 400}}", "resource_id": "action:http:webhook_1:connector:http:webhook_1"}},
	{"emqx/bridge-buffer-overflow", 0, map[string]string{"dropped": "128", "resource_id": "action:kafka_producer:to_kafka:connector:kafka_producer:kafka_1", "tag": "RESOURCE", "worker": "3"}},
	{"emqx/bridge-buffer-overflow", 1, map[string]string{"dropped": "128", "resource_id": "action:kafka_producer:to_kafka:connector:kafka_producer:kafka_1", "tag": "RESOURCE", "worker": "3"}},
	{"emqx/log-events-throttled", 0, map[string]string{"dropped": "#{authentication_failure => 12}", "period": "1 minutes, 0 seconds"}},
	{"emqx/log-events-throttled", 1, map[string]string{"dropped": "{\"authentication_failure\":12}", "period": "1 minutes, 0 seconds"}},
	{"emqx/log-events-throttled", 2, map[string]string{"dropped": "#{authorization_permission_denied => 4}", "period": "1 minutes, 0 seconds"}},
	{"emqx/resource-exception", 0, map[string]string{"reason": "{badarg,[]}", "tag": "ERROR"}},
	{"emqx/resource-exception", 1, map[string]string{"reason": "{badarg,[]}", "tag": "ERROR"}},
	{"emqx/resource-exception", 2, map[string]string{"reason": "{badarg,[]}"}},
	// EMQX 4.x wording (4.3-4.4 layout, rendered from the catalogue's format and args).
	{"emqx/flapping-detected", 5, map[string]string{"address": "10.0.0.5", "client_id": "sensor-42", "count": "15", "window_ms": "60000"}},
	{"emqx/mqueue-full-dropped", 4, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-1", "topic": "sensors/42/temp"}},
	{"emqx/qos0-dropped", 2, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-1", "topic": "sensors/42/temp"}},
	{"emqx/qos2-packet-dropped", 5, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-1", "packet_id": "12"}},
	{"emqx/packet-too-large-discarded", 4, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-1", "topic": "sensors/42/blob"}},
	{"emqx/socket-error", 6, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-1", "reason": "etimedout"}},
	{"emqx/packet-identifier-not-found", 3, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-1", "packet_id": "372"}},
	{"emqx/packet-identifier-in-use", 7, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-1", "packet_id": "7"}},
	{"emqx/authentication-failure", 4, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-1", "reason": "not_authorized", "username": "alice"}},
	{"emqx/frame-parse-error", 6, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-1", "reason": "frame_too_large"}},
	{"emqx/listener-listen-failed", 6, map[string]string{"address": "0.0.0.0:1883", "listener": "mqtt:tcp:external", "reason": "eaddrinuse"}},
	{"emqx/packet-refused-reason-code", 1, map[string]string{"packet": "SUBACK", "reason_code": "135"}},
	{"emqx/packet-refused-reason-code", 2, map[string]string{"packet": "PUBACK", "reason_code": "135"}},
	{"emqx/http-connection-down", 0, map[string]string{"reason": "{shutdown,econnrefused}"}},
	{"emqx/http-connection-down", 1, map[string]string{"reason": "closed"}},
	{"emqx/http-connection-down", 2, map[string]string{"reason": "{shutdown,econnrefused}"}},
	{"emqx/http-connection-down", 3, map[string]string{"reason": "timeout"}},
	{"emqx/http-connection-down", 4, map[string]string{"event": "http_connection_down", "reason": "econnrefused"}},
	{"emqx/http-connection-down", 5, map[string]string{"event": "http_connection_down", "reason": "econnrefused"}},
	{"emqx/client-connection-lost", 0, map[string]string{"reason": "{shutdown,tcp_closed}"}},
	{"emqx/client-connection-lost", 1, map[string]string{"reason": "{shutdown,ssl_closed}"}},
	{"emqx/client-connection-lost", 2, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "{shutdown,tcp_closed}"}},
	{"emqx/client-connection-lost", 4, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "closed"}},
	{"emqx/session-kicked-by-admin", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-42", "reason": "{shutdown,kicked}"}},
	{"emqx/session-kicked-by-admin", 2, map[string]string{"reason": "{shutdown,kicked}"}},
	{"emqx/packet-refused-reason-code", 0, map[string]string{"address": "10.0.0.5:52344", "client_id": "sensor-1", "packet": "CONNACK", "reason_code": "5"}},
	{"emqx/mnesia-wait-for-tables-timeout", 0, map[string]string{"module": "mria_mnesia", "tables": "[emqx_retainer_message,emqx_acl]"}},
	{"emqx/mnesia-wait-for-tables-timeout", 1, map[string]string{"module": "mria_mnesia", "tables": "[emqx_retainer_message,emqx_acl]"}},
	{"emqx/mnesia-wait-for-tables-timeout", 3, map[string]string{"tables": "[emqx_retainer,emqx_auth_username]"}},
	{"emqx/autocluster-discover-error", 0, map[string]string{"reason": "{failed_to_list_endpoints,{403,\"Forbidden\"}}"}},
	{"emqx/autocluster-discover-error", 1, map[string]string{"reason": "econnrefused"}},
	{"emqx/autocluster-discover-error", 3, map[string]string{"reason": "{error,{failed_to_connect_node,'emqx@10.0.0.6'}}"}},
}

func TestEMQXFields(t *testing.T) {
	all, emqx, m := emqxPack(t)
	byID := map[string]*signatures.Signature{}
	for _, s := range all {
		byID[s.ID] = s
	}
	formats := map[string][2]bool{} // id -> text checked, JSON checked
	// Family signatures (and their parts): their first two source examples
	// are one report's msg in text and JSON, captured as event.
	cases := emqxFields
	for _, s := range emqx {
		if catalogue.EMQXFamilyOf(s.ID) == "" || len(s.SourceExamples) < 2 {
			continue
		}
		var js struct{ Msg string }
		if err := json.Unmarshal([]byte(s.SourceExamples[1]), &js); err != nil || js.Msg == "" {
			t.Errorf("%s: source example 1 is not a JSON report: %q", s.ID, s.SourceExamples[1])
			continue
		}
		for idx := range 2 {
			cases = append(cases, struct {
				id     string
				idx    int
				fields map[string]string
			}{s.ID, idx, map[string]string{"event": js.Msg}})
		}
	}
	for _, c := range cases {
		s, ok := byID[c.id]
		if !ok || c.idx >= len(s.SourceExamples) {
			t.Errorf("%s: no source example %d", c.id, c.idx)
			continue
		}
		line := s.SourceExamples[c.idx]
		h, ok := hitOf(m, c.id, line)
		if !ok {
			t.Errorf("%s does not fire on %q", c.id, line)
			continue
		}
		if !(len(h.Fields) == 0 && len(c.fields) == 0) && !reflect.DeepEqual(h.Fields, c.fields) {
			t.Errorf("%s on %q:\n got fields %v\nwant        %v", c.id, line, h.Fields, c.fields)
		}
		f := formats[c.id]
		f[map[bool]int{false: 0, true: 1}[isJSON(line)]] = true
		formats[c.id] = f
	}
	for _, s := range emqx {
		f := formats[s.ID]
		switch {
		case isStartScript(s) && !f[0]:
			t.Errorf("%s: fields not checked on a text example", s.ID)
		case !isStartScript(s) && (!f[0] || !f[1]):
			t.Errorf("%s: fields checked on text %v, JSON %v; want one example of each", s.ID, f[0], f[1])
		}
	}
}

// lines reads a committed log file.
func lines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if sc.Text() != "" {
			out = append(out, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEMQXSignaturesIgnoreMosquitto(t *testing.T) {
	_, emqx, m := emqxPack(t)
	isEMQX := map[string]bool{}
	for _, s := range emqx {
		isEMQX[s.ID] = true
	}
	for _, line := range lines(t, "../examples/logs/mosquitto-2.0.11.log") {
		msg, _, _ := brokerlog.Split(line)
		for _, h := range m.Match(msg) {
			if isEMQX[h.Signature.ID] {
				t.Errorf("%s fires on Mosquitto's %q", h.Signature.ID, line)
			}
		}
	}
}

// The derived sample logs: every fault line EMQX would print at warning or
// worse is explained by an EMQX signature, every EMQX signature fires at
// least once across the two files, and the normal info lines stay quiet
// except where an info-level signature is meant to fire.
func TestEMQXSampleLogs(t *testing.T) {
	_, emqx, m := emqxPack(t)
	fired := map[string]int{}
	for _, path := range []string{"../examples/logs/emqx-5.8.9-derived-text.log", "../examples/logs/emqx-5.8.9-derived-json.log"} {
		for _, line := range lines(t, path) {
			msg, _, _ := brokerlog.Split(line)
			hits := m.Match(msg)
			for _, h := range hits {
				fired[h.Signature.ID]++
			}
			if _, fault := brokerlog.Fault(msg); fault && len(hits) == 0 {
				t.Errorf("%s: fault line no signature explains: %q", path, line)
			}
		}
	}
	for _, s := range emqx {
		switch {
		case isStartScript(s) && fired[s.ID] != 0:
			t.Errorf("%s (%s) fires %d times on the node's sample logs, which hold no start-script output", s.ID, tagStartScript, fired[s.ID])
		case !isStartScript(s) && fired[s.ID] == 0:
			t.Errorf("%s never fires on the sample logs", s.ID)
		}
	}
}

// TestPrefilterKeys: the matcher's literal prefilter decides every branch
// of the built-in pack (no signature's regex runs on every line), and
// every branch of an EMQX family signature is keyed on fixed text of its
// own, at least minFamilyKey bytes: a report's msg or a format's longest
// literal, not a prefix such as "msg: " that every EMQX line holds
// (internal/catalogue/cmd/emqx-families writes them so).
func TestPrefilterKeys(t *testing.T) {
	const minFamilyKey = 6
	all, _, m := emqxPack(t)
	costs := m.Costs()
	families := 0
	for i, c := range costs {
		if c.AlwaysRun {
			t.Errorf("%s: a branch has no literal to key the prefilter on and runs on every line", c.ID)
		}
		if catalogue.EMQXFamilyOf(all[i].ID) == "" {
			continue
		}
		families++
		if len(c.Branches) < 2 {
			t.Errorf("%s: %d branch(es): its alternation was not expanded into one branch a log call", c.ID, len(c.Branches))
		}
		for _, b := range c.Branches {
			for _, k := range b.Triggers {
				if len(k) < minFamilyKey {
					t.Errorf("%s: a %s branch is keyed on %q, shorter than %d bytes", c.ID, b.Kind, k, minFamilyKey)
				}
			}
		}
	}
	if families < len(catalogue.EMQXFamilies) {
		t.Errorf("%d family signatures in the pack, want at least %d", families, len(catalogue.EMQXFamilies))
	}
}
