package brokerlog

import (
	"strconv"
	"strings"
	"time"
)

// AWS IoT Core writes its logs to the CloudWatch log group AWSIotLogsV2,
// one JSON object per event, whose first member is the event's time in
// UTC ("CloudWatch Logs AWS IoT log entries",
// https://docs.aws.amazon.com/iot/latest/developerguide/cwl-format.html):
//
//	{"timestamp":"2017-08-10 15:37:23.476","logLevel":"INFO","traceId":"...","accountId":"...",
//	 "status":"Success","eventType":"Connect","protocol":"MQTT","clientId":"...",...}
//
// The entries reach a file in these shapes, one event per line:
//
//   - the event alone, compact or with spaces after ":" and ","
//     (CloudWatch's message; Logs Insights and console copies):
//     Split removes the "timestamp" member and reads the time from it;
//   - after `aws logs tail`'s time (and log stream, in its default
//     "detailed" format), as `aws logs tail --format short|detailed`
//     prints it (aws-cli awscli/customizations/logs/tail.py,
//     ShortLogEventsFormatter, DetailedLogEventsFormatter): the time is
//     the tail's;
//   - inside a CloudWatch Logs subscription record, the decoded payload a
//     Lambda, Kinesis or Firehose destination receives,
//     {"messageType":"DATA_MESSAGE","owner":...,"logEvents":[{"id":...,
//     "timestamp":<ms>,"message":"<the event, JSON-escaped>"},...]}
//     (https://docs.aws.amazon.com/powertools/typescript/2.16.0/api/types/_aws-lambda-powertools_parser.types.CloudWatchLogsEvent.html):
//     the record is kept whole and its first event's time is read.
//
// `aws logs tail --format json` pretty-prints each event over several
// lines (PrettyJSONLogEventsFormatter, json.dumps(indent=4)); a line of it
// alone is not an event.

// splitAWSIoT strips the leading "timestamp" member of an AWS IoT log
// entry, or reads the time of a subscription record.
func splitAWSIoT(s string) (msg string, t time.Time, ok bool) {
	rest := skipSpace(s[1:])
	if after, found := strings.CutPrefix(rest, `"timestamp"`); found {
		v := skipSpace(after)
		if len(v) < 2 || v[0] != ':' {
			return s, time.Time{}, false
		}
		v = skipSpace(v[1:])
		if len(v) < 2 || v[0] != '"' {
			return s, time.Time{}, false
		}
		ts, n, good := parseISO(v[1:], time.UTC) // AWS IoT writes UTC
		if !good || n+1 >= len(v) || v[n+1] != '"' {
			return s, time.Time{}, false
		}
		v = skipSpace(v[n+2:])
		if len(v) == 0 || v[0] != ',' {
			return s, time.Time{}, false
		}
		return skipSpace(v[1:]), ts, true
	}
	i := strings.Index(s, `"logEvents":[`)
	if i < 0 {
		return s, time.Time{}, false
	}
	j := strings.Index(s[i:], `"timestamp":`)
	if j < 0 {
		return s, time.Time{}, false
	}
	v := skipSpace(s[i+j+len(`"timestamp":`):])
	n := 0
	for n < len(v) && n < 16 && isDigit(v[n]) {
		n++
	}
	ms, err := strconv.ParseInt(v[:n], 10, 64)
	if n == 0 || err != nil {
		return s, time.Time{}, false
	}
	return s, time.UnixMilli(ms).UTC(), true
}

func skipSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	return s
}

// isAWSIoT reports whether a line holds an AWS IoT log entry, plain or
// JSON-escaped in a subscription record: the members every entry has
// ("Common CloudWatch Logs attributes": accountId, eventType, logLevel,
// status, timestamp, traceId).
func isAWSIoT(line string) bool {
	i := strings.Index(line, `eventType`)
	if i < 0 {
		return false
	}
	return strings.Contains(line, `"logLevel`) || strings.Contains(line, `\"logLevel`)
}

// awsiotFault reads an entry's logLevel: ERROR is an error, WARN a
// warning (the levels of AWS IoT's logging configuration, DEBUG, INFO,
// WARN, ERROR, DISABLED).
func awsiotFault(msg string) (severity string, ok, known bool) {
	i := strings.Index(msg, `logLevel`)
	if i < 0 || !strings.Contains(msg, "eventType") {
		return "", false, false
	}
	v := strings.TrimLeft(msg[i+len(`logLevel`):], `\" :`)
	switch {
	case strings.HasPrefix(v, "ERROR"):
		return "error", true, true
	case strings.HasPrefix(v, "WARN"):
		return "warning", true, true
	}
	return "", false, true
}

// awsiotShape is the shape of an AWS IoT log entry: its level and the
// members that say what happened, "[ERROR] eventType: Connect, status:
// Failure, reason: AUTHORIZATION_FAILURE", whatever the spacing or
// escaping of the JSON.
func awsiotShape(msg string) (string, bool) {
	level, ok := awsiotMember(msg, "logLevel")
	if !ok {
		return "", false
	}
	event, ok := awsiotMember(msg, "eventType")
	if !ok {
		return "", false
	}
	shape := "[" + level + "] eventType: " + event
	for _, k := range [...]string{"status", "reason", "disconnectReason"} {
		if v, ok := awsiotMember(msg, k); ok {
			shape += ", " + k + ": " + v
		}
	}
	return shape, true
}

// awsiotMember returns the string value of the member key in an entry's
// JSON text: "key":"v", "key": "v" or, JSON-escaped in a subscription
// record, \"key\":\"v\". The value is cut at its closing quote or
// backslash and at 64 bytes; it is an identifier in every entry.
func awsiotMember(s, key string) (string, bool) {
	i := strings.Index(s, `"`+key+`\"`)
	n := len(key) + 3
	if j := strings.Index(s, `"`+key+`"`); j >= 0 && (i < 0 || j < i) {
		i, n = j, len(key)+2
	}
	if i < 0 {
		return "", false
	}
	v := strings.TrimLeft(s[i+n:], " \t:")
	v = strings.TrimPrefix(v, `\`)
	if len(v) == 0 || v[0] != '"' {
		return "", false
	}
	v = v[1:]
	end := strings.IndexAny(v, `"\`)
	if end < 0 || end > 64 {
		return "", false
	}
	return v[:end], end > 0
}
