package brokerlog

import (
	"strings"
	"time"
)

// VerneMQ 1.x logs through lager 3.9 with lager's default layouts (its
// vmq.schema configures handlers, not formats):
//
//	console.log, error.log  2023-05-04 10:11:12.345 [warning] <0.2157.0>@vmq_mqtt_fsm:check_user:706 msg
//	                        (lager_file_backend, lager_default_formatter config/2:
//	                        date, " ", time, " [", severity, "] ", pid "@" module:function:line, " ", message)
//	console (stdout)        10:11:12.345 [warning] msg
//	                        (lager_console_backend ?TERSE_FORMAT: time, " [", severity, "] ", message)
//
// in local time, or in UTC with " UTC" after the time when the sasl (or
// stdlib) application's utc_log is set (lager_stdlib:maybe_utc/1,
// lager_util:format_time/1).
// Lines that error_logger redirects carry the pid without "@module".
// Split leaves "[severity] ..." as the message, as for EMQX's text
// format, so Fault reads the level the same way.

// splitLagerClock strips lager's console time "HH:MM:SS.mmm " (and
// " UTC"), which has no date: the message is kept and no time is given.
func splitLagerClock(s string) (msg string, t time.Time, ok bool) {
	const clock = len("10:11:12.345")
	if len(s) < clock+3 || s[2] != ':' || s[5] != ':' || s[8] != '.' ||
		!allDigits(s[0:2]) || !allDigits(s[3:5]) || !allDigits(s[6:8]) || !allDigits(s[9:12]) {
		return s, time.Time{}, false
	}
	rest := s[clock:]
	rest = strings.TrimPrefix(rest, " UTC")
	if !strings.HasPrefix(rest, " [") {
		return s, time.Time{}, false
	}
	return rest[1:], time.Time{}, true
}

// lagerLevel returns the message after lager's "[severity] ", or ok false.
func lagerLevel(msg string) (rest string, ok bool) {
	if len(msg) < 3 || msg[0] != '[' {
		return msg, false
	}
	end := strings.IndexByte(msg, ']')
	if end < 0 || end+1 >= len(msg) || msg[end+1] != ' ' || !lagerLevelName(msg[1:end]) {
		return msg, false
	}
	return msg[end+2:], true
}

// isVerneMQ reports whether a lager line names VerneMQ: its modules
// (vmq_*), its node name, or a subscriber id {MountPoint, ClientId} as
// VerneMQ prints it with ~p, {[],<<"client">>}.
func isVerneMQ(msg string) bool {
	rest, ok := lagerLevel(msg)
	if !ok {
		return false
	}
	return strings.Contains(rest, "vmq_") || strings.Contains(rest, `{[],<<"`) || strings.Contains(rest, "VerneMQ@")
}

// lagerLevelName reports whether l is one of lager's severities.
func lagerLevelName(l string) bool {
	switch l {
	case "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency":
		return true
	}
	return false
}
