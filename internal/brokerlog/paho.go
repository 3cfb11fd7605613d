package brokerlog

import (
	"strings"
	"time"
)

// The Eclipse Paho clients log into the application beside the broker:
//
//   - paho-mqtt (Python) sends its messages to the standard logging module
//     after Client.enable_logger(), under the logger "paho.mqtt.client"
//     (client.py, enable_logger and _easy_log, v1.6.1). The layout is the
//     application's: logging's default "%(levelname)s:%(name)s:%(message)s"
//     ("DEBUG:paho.mqtt.client:Sending CONNECT ..."), or one with
//     %(asctime)s first ("2024-05-14 14:52:54,916 ..."), which Split
//     removes as any ISO time;
//   - Paho C (MQTTClient, MQTTAsync) writes a trace when
//     MQTT_C_CLIENT_TRACE is set, each line "YYYYMMDD HHMMSS.mmm message"
//     in local time (src/Log.c Log_formatTraceEntry: strftime
//     "%Y%m%d %H%M%S ", then ".%.3lu ", v1.3.12), the message one of
//     src/Messages.c's, e.g. "3 dev-1 <- CONNACK rc: 5".

// splitPahoC strips Paho C's trace time "20240514 145254.916 ".
func splitPahoC(s string, loc *time.Location) (msg string, t time.Time, ok bool) {
	const head = len("20240514 145254.916 ")
	if !pahoCTrace(s) {
		return s, time.Time{}, false
	}
	year, _ := atoi(s[0:4])
	mon, _ := atoi(s[4:6])
	day, _ := atoi(s[6:8])
	hh, _ := atoi(s[9:11])
	mm, _ := atoi(s[11:13])
	ss, _ := atoi(s[13:15])
	ms, _ := atoi(s[16:19])
	if mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
		return s, time.Time{}, false
	}
	return s[head:], time.Date(year, time.Month(mon), day, hh, mm, ss, ms*int(time.Millisecond), loc), true
}

// pahoCTrace reports whether s starts with Paho C's trace time.
func pahoCTrace(s string) bool {
	return len(s) > 20 && s[8] == ' ' && s[15] == '.' && s[19] == ' ' &&
		allDigits(s[0:8]) && allDigits(s[9:15]) && allDigits(s[16:19])
}

// isPaho reports whether a line comes from a Paho client: Paho C's trace
// shape, paho-mqtt's logger name, or paho-mqtt's CONNECT and CONNACK
// debug lines ("Sending CONNECT (u0, p0, wr0, wq0, wf0, c1, k60)
// client_id=b'dev-1'", "Received CONNACK (0, 5)").
func isPaho(line, msg string) bool {
	return pahoCTrace(line) || strings.Contains(line, "paho.mqtt.client") ||
		strings.Contains(msg, "Sending CONNECT (u") || strings.Contains(msg, "Received CONNACK (")
}

// pythonFault reads the level of a line of Python's logging module, as a
// Paho application writes it: "%(levelname)s %(name)s: ..." after the
// time Split removed, or logging's default "%(levelname)s:%(name)s:...".
// ERROR and WARNING are faults, CRITICAL critical; the level must be
// followed by a logger name and a colon, so a message that merely starts
// with an upper-case word is not taken for one.
func pythonFault(msg string) (severity string, ok, known bool) {
	i := 0
	for i < len(msg) && i < 8 && msg[i] >= 'A' && msg[i] <= 'Z' {
		i++
	}
	switch msg[:i] {
	case "CRITICAL":
		severity = "critical"
	case "ERROR":
		severity = "error"
	case "WARNING":
		severity = "warning"
	case "INFO", "DEBUG":
	default:
		return "", false, false
	}
	if i >= len(msg) || (msg[i] != ' ' && msg[i] != ':') {
		return "", false, false
	}
	j := i + 1
	for j < len(msg) && j < i+1+128 && pythonLoggerByte(msg[j]) {
		j++
	}
	if j == i+1 || j >= len(msg) || msg[j] != ':' {
		return "", false, false
	}
	return severity, severity != "", true
}

func pythonLoggerByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}
