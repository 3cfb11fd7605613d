package brokerlog

import (
	"strings"
	"time"
)

// Systems besides Mosquitto and EMQX whose lines Split, Banner, Detect
// and Fault know: HiveMQ (hivemq.go), VerneMQ (vernemq.go), AWS IoT Core's
// CloudWatch log entries (awsiot.go) and applications logging with the
// Eclipse Paho clients (paho.go). The names are those of the signatures'
// broker field.
const (
	HiveMQ  = "hivemq"
	VerneMQ = "vernemq"
	AWSIoT  = "awsiot"
	Paho    = "paho"
)

// splitSystemText strips the prefixes of these systems that do not start
// with a digit (splitBroker's hook for such lines): AWS IoT's JSON log
// entries.
func splitSystemText(s string) (msg string, t time.Time, ok bool) {
	if len(s) > 0 && s[0] == '{' {
		return splitAWSIoT(s)
	}
	return s, time.Time{}, false
}

// splitSystemDigits strips the prefixes of these systems that start with
// a run of n digits and that neither Mosquitto's nor EMQX's shapes take
// (splitBroker's hook): Paho C's trace time and lager's console time.
func splitSystemDigits(s string, n int, loc *time.Location) (msg string, t time.Time, ok bool) {
	switch n {
	case 8:
		return splitPahoC(s, loc)
	case 2:
		return splitLagerClock(s)
	}
	return s, time.Time{}, false
}

// splitAfterISO strips what follows a leading ISO timestamp in these
// systems' layouts, given the rest of the line after the timestamp
// (splitBroker's hook): HiveMQ's event.log " - " and lager's " UTC ".
// The time is the timestamp's, re-read in UTC after " UTC ".
func splitAfterISO(rest string, ts time.Time) (msg string, t time.Time, ok bool) {
	switch {
	case strings.HasPrefix(rest, " - "):
		return rest[len(" - "):], ts, true
	case strings.HasPrefix(rest, " UTC ["):
		return rest[len(" UTC "):], time.Date(ts.Year(), ts.Month(), ts.Day(), ts.Hour(), ts.Minute(), ts.Second(), ts.Nanosecond(), time.UTC), true
	}
	return rest, ts, false
}

// Detect tells a system from the shape of one line (whole, and its
// message as Split leaves it) when no banner names it: HiveMQ's logback
// layouts, VerneMQ's lager metadata, AWS IoT's JSON log entries, the Paho
// clients' log lines, and Mosquitto's default unix-seconds prefix
// ("1700000000: "), so that a Mosquitto log followed from its end is
// known as one before its banner (the client-id takeover signature, for
// every system, then still reports broker "mosquitto"). EMQX is known from
// its banner (Banner) and its signatures. It runs on every line of a
// source whose system is not known yet, so it is cheap: a few prefix
// checks and at most a scan for one word.
func Detect(line, msg string) (system string, ok bool) {
	switch {
	case isMosquittoUnix(line):
		return "mosquitto", true
	case isHiveMQ(msg):
		return HiveMQ, true
	case isVerneMQ(msg):
		return VerneMQ, true
	case isAWSIoT(line):
		return AWSIoT, true
	case isPaho(line, msg):
		return Paho, true
	}
	return "", false
}

// systemBanner is Banner for these systems: HiveMQ's version line.
func systemBanner(msg string) (system, version string, ok bool) {
	if v, ok := hivemqBanner(msg); ok {
		return HiveMQ, v, true
	}
	return "", "", false
}

// systemFault is Fault for these systems' levels; known is false when msg
// is none of their shapes, and the caller goes on with its own checks.
func systemFault(msg string) (severity string, ok, known bool) {
	if msg == "" {
		return "", false, false
	}
	switch msg[0] {
	case 'E', 'W', 'I', 'D', 'T', 'C':
		if sev, ok, known := hivemqFault(msg); known {
			return sev, ok, known
		}
		return pythonFault(msg)
	case '"', '{':
		return awsiotFault(msg)
	}
	return "", false, false
}

// systemShape is Shape for these systems' lines that name their event in
// fields rather than words: AWS IoT's log entries.
func systemShape(msg string) (string, bool) {
	if len(msg) > 0 && (msg[0] == '"' || msg[0] == '{') {
		return awsiotShape(msg)
	}
	return "", false
}

// isMosquittoUnix reports whether line starts with Mosquitto's default
// time, unix seconds and ": " (log_timestamp true, no
// log_timestamp_format; src/logging.c log__vprintf), the shape
// splitBroker reads first.
func isMosquittoUnix(line string) bool {
	i := 0
	for i < len(line) && i < 13 && line[i] >= '0' && line[i] <= '9' {
		i++
	}
	return i >= 9 && i <= 12 && i+1 < len(line) && line[i] == ':' && line[i+1] == ' '
}
