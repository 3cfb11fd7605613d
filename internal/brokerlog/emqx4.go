package brokerlog

import "strings"

// EMQX4 is a line of EMQX 4.x's text log formatter as Split leaves it
// (the timestamp removed):
//
//	[warning] sensor-1@10.0.0.5:52344 [Channel] Client sensor-1 (Username: 'u') login failed for not_authorized
//	[warning] sensor-1 [Session] Connection <0.18406.1216> kickout <0.5694.1211>
//	[error] 10.0.0.5:33721 [MQTT] , Parse failed for function_clause, ...
//	[error] [Plugins] Load plugin emqx_dashboard failed, ...
//	[error] Mnesia wait_for_tables timeout: ...
//
// The layout is the logger template of every 4.x release (priv/emqx.schema,
// translation "kernel.logger", v4.2.0-v4.4.19):
//
//	[time," [",level,"] ",
//	 {clientid, [{peername, [clientid,"@",peername," "], [clientid," "]}],
//	            [{peername, [peername," "], []}]},
//	 msg,"\n"]
//
// so a line names the client and its address when the logging process
// set them as logger metadata (connection and session processes), and the
// message starts with the module's header ("[Channel] ", from
// -logger_header in the module, added by the ?LOG macro of
// include/logger.hrl), when the module has one. The time is
// "2021-12-06 18:00:00.123" in local time in 4.2 (emqx_logger_formatter.erl
// format_time/1) and RFC 3339 with microseconds and offset in 4.3 and 4.4
// (emqx_logger_textfmt.erl, date_format rfc3339, OTP's logger_formatter);
// Split removes either. From 4.3 on log.single_line = true (the default)
// joins a message's lines with ", "; in 4.2 a multi-line message
// continues on lines without a prefix.
type EMQX4 struct {
	Level    string // debug ... emergency
	ClientID string // empty when the line names no client
	Peer     string // "ip:port", empty when the line names no address
	Header   string // the module header without brackets ("Channel"), or empty
	Text     string // the message after the header
}

// ParseEMQX4 splits an EMQX 4.x text message (after Split) into its
// parts. ok is false when msg does not start with an EMQX level in
// brackets. EMQX 5's text lines ("[warning] msg: x, k: v" or
// "[warning] k: v, msg: x") parse too, with everything after the level in
// Text; use EMQX5Text to tell them apart.
//
// A client id may itself hold "@" or look like an address; the prefix is
// taken as client and address only when it is followed by a module header
// or has the clientid@ip:port shape, since a message's own first word
// cannot be told from a bare client id otherwise.
func ParseEMQX4(msg string) (EMQX4, bool) {
	var l EMQX4
	if len(msg) < 3 || msg[0] != '[' {
		return l, false
	}
	end := strings.IndexByte(msg, ']')
	if end < 0 || !emqxLevelName(msg[1:end]) || end+1 >= len(msg) || msg[end+1] != ' ' {
		return l, false
	}
	l.Level = msg[1:end]
	rest := msg[end+2:]
	if first, after, found := strings.Cut(rest, " "); found && first != "" && first[0] != '[' {
		header := strings.HasPrefix(after, "[") && headerEnd(after) > 0
		if at := strings.LastIndexByte(first, '@'); at > 0 && isPeer(first[at+1:]) {
			l.ClientID, l.Peer, rest = first[:at], first[at+1:], after
		} else if isPeer(first) && (header || strings.HasPrefix(after, ", ")) {
			l.Peer, rest = first, after
		} else if header && !strings.HasSuffix(first, ":") {
			l.ClientID, rest = first, after
		}
	}
	if n := headerEnd(rest); n > 0 {
		l.Header = rest[1 : n-1]
		rest = strings.TrimPrefix(rest[n:], " ")
	}
	l.Text = rest
	return l, true
}

// EMQX5Text reports whether a bracketed-level message is in EMQX 5's
// text layout, whose message is a list of "key: value" pairs holding msg.
func EMQX5Text(msg string) bool {
	_, ok := emqxShape(msg)
	return ok
}

// headerEnd returns the length of a module header "[Name] " at the start
// of s: a short bracketed name of letters, digits, spaces and -_/ (the
// headers of 4.x's modules, e.g. [Channel], [MQTT/WS], [Alarm Handler]).
func headerEnd(s string) int {
	if len(s) < 3 || s[0] != '[' {
		return 0
	}
	for i := 1; i < len(s) && i < 40; i++ {
		c := s[i]
		switch {
		case c == ']':
			if i == 1 || i+1 < len(s) && s[i+1] != ' ' {
				return 0
			}
			return i + 1
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == ' ', c == '-', c == '_', c == '/', c == '.':
		default:
			return 0
		}
	}
	return 0
}

// isPeer reports whether s is ip:port as esockd prints a peername:
// a dotted IPv4 address or an IPv6 address, then ":" and a port.
func isPeer(s string) bool {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 || len(s)-i-1 > 5 || !allDigits(s[i+1:]) {
		return false
	}
	host := s[:i]
	dots, colons := 0, 0
	for j := 0; j < len(host); j++ {
		c := host[j]
		switch {
		case c == '.':
			dots++
		case c == ':':
			colons++
		case isDigit(c), c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return false
		}
	}
	return dots == 3 && colons == 0 || colons >= 2
}

func emqxLevelName(l string) bool {
	switch l {
	case "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency":
		return true
	}
	return false
}

// emqxBanner reads the version from EMQX's "is running now!" line, which
// every release prints to the console as "<description> <version> is
// running now!" (4.x src/emqx_app.erl print_vsn/0, 5.x
// apps/emqx_machine/src/emqx_machine_boot.erl). The description is the
// emqx application's: "EMQ X Broker" in 4.2, "EMQ X" in 4.3, "EMQX" from
// 4.4 on (src/emqx.app.src), each with " Enterprise" in the enterprise
// builds.
func emqxBanner(msg string) (string, bool) {
	rest := msg
	for _, p := range [...]string{"EMQX ", "EMQ X "} {
		if strings.HasPrefix(rest, p) {
			rest = rest[len(p):]
			break
		}
	}
	rest = strings.TrimPrefix(rest, "Enterprise ")
	rest = strings.TrimPrefix(rest, "Broker ")
	v, tail, found := strings.Cut(rest, " ")
	v = strings.TrimPrefix(v, "v")
	if found && strings.HasPrefix(tail, "is running now") && validVersion(v) {
		return v, true
	}
	return "", false
}

// emqx4Shape is the shape of an EMQX 4.x text message: its level, its
// module header and the wording of its text, without the client and
// address prefix ("[warning] [Channel] Client * (Username: *) login
// failed for not_authorized").
func emqx4Shape(msg string) (string, bool) {
	l, ok := ParseEMQX4(msg)
	if !ok {
		return "", false
	}
	s := "[" + l.Level + "] "
	if l.Header != "" {
		s += "[" + l.Header + "] "
	}
	return s + Shape(l.Text), true
}
