package brokerlog

import "strings"

// HiveMQ CE and Enterprise 4.x log through logback with the layouts of
// conf/logback.xml (hivemq-community-edition, src/distribution/conf/
// logback.xml, unchanged from 2020.1 to 2025.5):
//
//	hivemq.log  %-30(%d %level)- %msg%n%ex   2024-05-14 14:52:54,916 WARN  - msg
//	event.log   %-24(%d)- %msg%n%ex          2024-05-14 14:52:54,916 - Client ID: c1, IP: ...
//
// %d is logback's default "yyyy-MM-dd HH:mm:ss,SSS" in the JVM's zone, so
// the date and level fill 28-29 characters and the padding to 30 leaves
// "INFO  - ", "WARN  - ", "ERROR - ", "DEBUG - ", "TRACE - ". Split keeps
// the level and its dash in the message of hivemq.log lines (signatures
// and Fault read the level there) and removes " - " from event.log lines,
// whose events have no level.

// hivemqLevel returns the level of a hivemq.log message and the length of
// its "LEVEL  - " head, or 0.
func hivemqLevel(msg string) (level string, n int) {
	i := 0
	for i < len(msg) && i < 5 && msg[i] >= 'A' && msg[i] <= 'Z' {
		i++
	}
	switch msg[:i] {
	case "TRACE", "DEBUG", "INFO", "WARN", "ERROR":
	default:
		return "", 0
	}
	j := i
	for j < len(msg) && j < 8 && msg[j] == ' ' {
		j++
	}
	if j == i || !strings.HasPrefix(msg[j:], "- ") {
		return "", 0
	}
	return msg[:i], j + 2
}

// hivemqEvent reports whether msg is one of event.log's events
// (src/main/java/com/hivemq/logging/EventLog.java@2025.5).
func hivemqEvent(msg string) bool {
	switch {
	case strings.HasPrefix(msg, "Client ID: "):
		return strings.Contains(msg, ", IP: ") || strings.Contains(msg, " session has expired at ")
	case strings.HasPrefix(msg, "Outgoing publish message was dropped. "),
		strings.HasPrefix(msg, "Outgoing MQTT packet was dropped. "),
		strings.HasPrefix(msg, "Received AUTH from Client ID: "),
		strings.HasPrefix(msg, "Sent AUTH to Client ID: "):
		return true
	}
	return false
}

func isHiveMQ(msg string) bool {
	if _, n := hivemqLevel(msg); n > 0 {
		return true
	}
	return hivemqEvent(msg)
}

// hivemqBanner reads the version from "HiveMQ version: 2024.5", which
// every start logs at INFO (SystemInformationImpl.setHivemqVersion).
func hivemqBanner(msg string) (string, bool) {
	level, n := hivemqLevel(msg)
	if level != "INFO" {
		return "", false
	}
	rest, found := strings.CutPrefix(msg[n:], "HiveMQ version: ")
	if !found || !validVersion(rest) {
		return "", false
	}
	return rest, true
}

func hivemqFault(msg string) (severity string, ok, known bool) {
	level, n := hivemqLevel(msg)
	switch {
	case n == 0:
		return "", false, false
	case level == "ERROR":
		return "error", true, true
	case level == "WARN":
		return "warning", true, true
	}
	return "", false, true
}
