package brokerlog

import (
	"strings"
	"testing"
)

// An AWS IoT entry as `aws logs tail --format json` prints it: the tail's
// time and stream, then json.dumps(entry, indent=4) (aws-cli
// awscli/customizations/logs/tail.py, PrettyJSONLogEventsFormatter); the
// entry's members are those pasted from CloudWatch in
// https://github.com/aws/aws-iot-device-sdk-java-v2/issues/580.
const tailJSON = `2024-05-14T14:52:53.873000+00:00 fb03ca6b5bf8ea850fa216eb96007b9a 
{
    "timestamp": "2024-05-14 14:52:53.873",
    "logLevel": "INFO",
    "status": "Success",
    "eventType": "Subscribe",
    "topicName": "connector/connector-608/event",
    "subscriptions": [
        {
            "topicName": "connector/connector-608/event",
            "reasonCode": 1
        }
    ],
    "clientId": "connector-608",
    "details": "a } and a \" inside a string"
}
1795321998: Client dup already connected, closing old connection.`

func TestJSONJoiner(t *testing.T) {
	var j JSONJoiner
	var objects, alone []string
	for _, line := range strings.Split(tailJSON, "\n") {
		obj, held := j.Add(line)
		switch {
		case obj != "":
			objects = append(objects, obj)
		case !held:
			alone = append(alone, line)
		}
	}
	want := `{ "timestamp": "2024-05-14 14:52:53.873", "logLevel": "INFO", "status": "Success", "eventType": "Subscribe", "topicName": "connector/connector-608/event", "subscriptions": [ { "topicName": "connector/connector-608/event", "reasonCode": 1 } ], "clientId": "connector-608", "details": "a } and a \" inside a string" }`
	if len(objects) != 1 || objects[0] != want {
		t.Fatalf("objects %q\nwant [%q]", objects, want)
	}
	if len(alone) != 2 || !strings.HasPrefix(alone[0], "2024-05-14T14:52:53.873000") || !strings.HasPrefix(alone[1], "1795321998") {
		t.Errorf("lines outside the object: %q", alone)
	}
	// The joined entry reads like one on a single line.
	msg, ts, ok := Split(objects[0])
	if !ok || ts.IsZero() || !strings.HasPrefix(msg, `"logLevel": "INFO"`) {
		t.Errorf("Split(joined) = %q, %v, %v", msg, ts, ok)
	}
	if s, ok := Detect(objects[0], msg); !ok || s != AWSIoT {
		t.Errorf("Detect(joined) = %q, %v", s, ok)
	}
}

// An object that never closes is given up at MaxJoinedLines; the lines
// after it are matched alone again.
func TestJSONJoinerBound(t *testing.T) {
	var j JSONJoiner
	if _, held := j.Add("{"); !held {
		t.Fatal("{ not held")
	}
	for i := 1; i < MaxJoinedLines; i++ {
		if obj, held := j.Add(`"k": "v",`); obj != "" || !held {
			t.Fatalf("line %d: %q %v", i, obj, held)
		}
	}
	if _, held := j.Add(`"k": "v",`); held {
		t.Error("line past MaxJoinedLines still held")
	}
	if _, held := j.Add("1795321998: Client dup disconnected."); held {
		t.Error("a line after the given-up object is held")
	}
	if obj, held := j.Add("{"); obj != "" || !held {
		t.Error("a new object does not start after a given-up one")
	}
	if obj, _ := j.Add(strings.Repeat("x", MaxJoinedBytes)); obj != "" {
		t.Error("an oversize line joined")
	}
}

// FuzzJSONJoiner: whatever lines arrive, the joiner holds at most
// MaxJoinedBytes, and what it returns is a "{"-started object.
func FuzzJSONJoiner(f *testing.F) {
	f.Add("{\n\"a\": \"}\"\n}\nx")
	f.Add("{\n[\n{\n}\n]\n}")
	f.Add("{\n\"\\\\\"\n}")
	f.Fuzz(func(t *testing.T, text string) {
		var j JSONJoiner
		for _, line := range strings.Split(text, "\n") {
			obj, _ := j.Add(line)
			if j.b.Len() > MaxJoinedBytes {
				t.Fatalf("holds %d bytes", j.b.Len())
			}
			if obj != "" && !strings.HasPrefix(obj, "{") {
				t.Fatalf("object %q", obj)
			}
		}
	})
}
