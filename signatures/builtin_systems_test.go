package signatures_test

// HiveMQ, VerneMQ and AWS IoT Core cannot run here, so their signatures
// are derived from the brokers' source or AWS's published log reference
// and held to what can be checked without them: every source example
// fires its own signature through brokerlog.Split and the real matcher
// scoped to the system brokerlog.Detect tells from the line, and no
// counterexample does. The Paho signatures are proven against real clients
// in internal/testutil/systemstest; here they get the same checks.

import (
	"reflect"
	"testing"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
)

// systemHits matches a whole line as the pipeline does for a source whose
// system was told from this line's shape (or given as broker when the
// line alone does not tell).
func systemHits(m *matcher.Matcher, broker, line string) []matcher.Hit {
	msg, _, _ := brokerlog.Split(line)
	if s, ok := brokerlog.Detect(line, msg); ok {
		broker = s
	}
	return m.MatchBroker(broker, msg)
}

func TestSystemSignatures(t *testing.T) {
	all, err := signatures.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	m, err := matcher.New(all)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, s := range all {
		switch s.Broker {
		case signatures.BrokerHiveMQ, signatures.BrokerVerneMQ, signatures.BrokerAWSIoT:
			if s.VerificationTier != "source_derived" || len(s.Examples) != 0 {
				t.Errorf("%s: %s cannot run here: want verification_tier source_derived and lines in source_examples only", s.ID, s.Broker)
			}
		case signatures.BrokerPaho:
		default:
			continue
		}
		count[s.Broker]++
		for _, line := range append(append([]string{}, s.Examples...), s.SourceExamples...) {
			var ids []string
			for _, h := range systemHits(m, s.Broker, line) {
				ids = append(ids, h.Signature.ID)
			}
			if !contains(ids, s.ID) {
				t.Errorf("%s does not fire on its example %q (hits %v)", s.ID, line, ids)
			}
		}
		for _, line := range s.Counterexamples {
			for _, h := range systemHits(m, s.Broker, line) {
				if h.Signature.ID == s.ID {
					t.Errorf("%s fires on its counterexample %q", s.ID, line)
				}
			}
		}
	}
	for _, b := range []string{signatures.BrokerHiveMQ, signatures.BrokerVerneMQ, signatures.BrokerAWSIoT, signatures.BrokerPaho} {
		if count[b] < 10 {
			t.Errorf("%s: %d signatures, want at least 10", b, count[b])
		}
	}
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// The seeds' client-id takeover diagnosis fires for every system that
// prints a takeover, with the client id of the connection taken over.
func TestTakeoverEverySystem(t *testing.T) {
	all, err := signatures.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	m, err := matcher.New(all)
	if err != nil {
		t.Fatal(err)
	}
	const id = "communication/mqtt-publish-identifier-already-in-use"
	tests := []struct {
		system, line string
		fields       map[string]string
	}{
		// Mosquitto 2.0.11, captured (examples/logs/mosquitto-2.0.11.log)
		{signatures.BrokerMosquitto, "1795321998: Client sensor 42/ä already connected, closing old connection.", map[string]string{"client_id": "sensor 42/ä"}},
		// HiveMQ event.log (EventLog.java:202@2025.5, ReasonStrings.DISCONNECT_SESSION_TAKEN_OVER)
		{signatures.BrokerHiveMQ, "2024-05-14 14:52:54,916 - Client ID: sensor-1, IP: 10.0.0.5 was disconnected. reason: Another client connected with the same client id..",
			map[string]string{"client_id": "sensor-1", "address": "10.0.0.5"}},
		{signatures.BrokerHiveMQ, "2024-05-14 14:52:54,916 - Client ID: plant/line 1, IP: 2001:db8::5 was disconnected. reason: Another client connected with the same client id..",
			map[string]string{"client_id": "plant/line 1", "address": "2001:db8::5"}},
		// VerneMQ console.log at debug (vmq_queue.erl:267@1.13.0), with and without lager's metadata, and a mountpoint
		{signatures.BrokerVerneMQ, `2023-05-04 10:11:12.345 [debug] <0.2301.0>@vmq_queue:online:267 client {[],<<"sensor-1">>} disconnected due to multiple sessions not allowed`,
			map[string]string{"client_id": "sensor-1"}},
		{signatures.BrokerVerneMQ, `10:11:12.345 [debug] client {"tenant-a",<<"pump 7">>} disconnected due to multiple sessions not allowed`,
			map[string]string{"client_id": "pump 7"}},
		// AWS IoT Core Disconnect entries (cwl-format.html): compact, as documented, and in a subscription record
		{signatures.BrokerAWSIoT, `{"timestamp":"2024-05-14 14:52:54.916","logLevel":"ERROR","traceId":"t","accountId":"1","status":"Failure","eventType":"Disconnect","protocol":"MQTT","clientId":"connector-608","principalId":"p","sourceIp":"203.0.113.7","sourcePort":47021,"reason":"DUPLICATE_CLIENT_ID","details":"A new connection was established with the same client ID","disconnectReason":"DUPLICATE_CLIENTID"}`,
			map[string]string{"client_id": "connector-608", "reason": "DUPLICATE_CLIENT_ID"}},
		{signatures.BrokerAWSIoT, `{ "timestamp": "2017-08-10 15:37:23.476", "logLevel": "INFO", "traceId": "20b23f3f-d7f1-feae-169f-82263394fbdb", "accountId": "123456789012", "status": "Success", "eventType": "Disconnect", "protocol": "MQTT", "clientId": "abf27092886e49a8a5c1922749736453", "principalId": "145179c40e2219e18a909d896a5340b74cf97a39641beec2fc3eeafc5a932167", "sourceIp": "205.251.233.181", "sourcePort": 13490, "reason": "DUPLICATE_CLIENT_ID", "details": "A new connection was established with the same client ID", "disconnectReason": "CLIENT_INITIATED_DISCONNECT" }`,
			map[string]string{"client_id": "abf27092886e49a8a5c1922749736453", "reason": "DUPLICATE_CLIENT_ID"}},
		{signatures.BrokerAWSIoT, `{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","timestamp":1715698374916,"message":"{\"timestamp\":\"2024-05-14 14:52:54.916\",\"logLevel\":\"ERROR\",\"eventType\":\"Disconnect\",\"clientId\":\"dev-9\",\"disconnectReason\":\"DUPLICATE_CLIENTID\"}"}]}`,
			map[string]string{"client_id": "dev-9", "reason": "DUPLICATE_CLIENTID"}},
		// the reason before the client id
		{signatures.BrokerAWSIoT, `{"timestamp":"2024-05-14 14:52:54.916","logLevel":"ERROR","eventType":"Disconnect","disconnectReason":"DUPLICATE_CLIENTID","clientId":"dev-10"}`,
			map[string]string{"client_id": "dev-10", "reason": "DUPLICATE_CLIENTID"}},
		// Paho C, MQTT 5 DISCONNECT 0x8E (Messages.c protocol message 30, v1.3.12)
		{signatures.BrokerPaho, "20261205 101319.976 3 c-dup <- DISCONNECT (142)", map[string]string{"client_id": "c-dup"}},
	}
	for _, tt := range tests {
		var got map[string]string
		found := false
		for _, h := range systemHits(m, tt.system, tt.line) {
			if h.Signature.ID == id {
				found, got = true, h.Fields
			}
		}
		if !found {
			t.Errorf("%s: the takeover diagnosis does not fire on %q", tt.system, tt.line)
			continue
		}
		if !reflect.DeepEqual(got, tt.fields) {
			t.Errorf("%s: %q\nfields %v, want %v", tt.system, tt.line, got, tt.fields)
		}
	}
}
