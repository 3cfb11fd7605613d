package brokerlog

import (
	"strings"
	"unicode/utf8"
)

// Fault reports whether a message looks like a fault the broker reported,
// whether or not any signature knows it, and how severe the broker said it
// was ("error" or "warning"). It is how gaps in a signature pack are found.
//
// Mosquitto prints no level, so its messages are recognised by the words
// its error, warning and notice calls start with (from every log call in
// mosquitto 2.0.x and 2.1's source); EMQX's text and JSON formats carry
// the level.
func Fault(msg string) (severity string, ok bool) {
	if sev, ok, known := systemFault(msg); known {
		return sev, ok
	}
	// EMQX text: "[error] msg: ..." after the timestamp.
	if strings.HasPrefix(msg, "[") {
		if end := strings.IndexByte(msg, ']'); end > 0 {
			return emqxLevel(msg[1:end])
		}
	}
	// EMQX JSON: {"time":...,"level":"error",...}, whose message starts
	// at "level" once Split has removed the time.
	if strings.HasPrefix(msg, `"level":"`) || strings.HasPrefix(msg, "{") {
		if i := strings.Index(msg, `"level":"`); i >= 0 {
			rest := msg[i+len(`"level":"`):]
			if end := strings.IndexByte(rest, '"'); end > 0 {
				return emqxLevel(rest[:end])
			}
		}
		return "", false
	}
	return mosquittoFault(msg)
}

// mosquittoFault dispatches on the first byte: it runs on every line no
// signature matched, so it must be cheap.
func mosquittoFault(msg string) (string, bool) {
	if msg == "" {
		return "", false
	}
	has := func(p string) bool { return strings.HasPrefix(msg, p) }
	switch msg[0] {
	case 'E':
		if has("Expiring client") {
			return "warning", true
		}
		if has("Error") {
			return "error", true
		}
	case 'O':
		if has("OpenSSL Error") || has("Out of memory") {
			return "error", true
		}
		if has("Outgoing messages are being dropped") {
			return "warning", true
		}
	case 'C':
		if has("Connection Refused:") || has("Connection rejected") || has("Could not") {
			return "error", true
		}
		if has("Connection from") || has("Client connection from") {
			return "warning", true
		}
		if has("Client ") {
			// Disconnect reasons that are not a clean goodbye.
			for _, s := range [...]string{" disconnected due to ", " disconnected, ", " has exceeded timeout", " disconnected: ", " been disconnected by ", " already connected"} {
				if strings.Contains(msg, s) {
					return "warning", true
				}
			}
		}
	case 'U':
		if has("Unable to") {
			return "error", true
		}
	case 'F':
		if has("Failed") {
			return "error", true
		}
	case 'L':
		if has("Load error") {
			return "error", true
		}
	case 'B':
		if has("Bad socket read/write") || has("Bad client") {
			return "error", true
		}
	case 'S':
		if has("Socket error") {
			return "error", true
		}
	case 'P':
		if has("Protocol error") {
			return "error", true
		}
	case 'W':
		if has("Warning") {
			return "warning", true
		}
	case 'A':
		if has("ACL denying") {
			return "warning", true
		}
	case 'D':
		if has("Denied PUBLISH") {
			return "warning", true
		}
	case 'I':
		if has("Invalid protocol") || has("Invalid Will") {
			return "warning", true
		}
	}
	return "", false
}

func emqxLevel(l string) (string, bool) {
	switch l {
	case "critical", "alert", "emergency":
		return "critical", true
	case "error":
		return "error", true
	case "warning":
		return "warning", true
	}
	return "", false
}

// Shape reduces a message to its wording, so that lines differing only in
// client ids, addresses, numbers and topics group together: tokens holding
// a digit, a slash (paths, topics) or a non-ASCII byte, quoted strings and
// the word after "Client" or "from" become "*". EMQX's lines say what
// happened in their msg field (an identifier such as
// authentication_failure) and the rest is context, so their shape is the
// level and msg: "[warning] msg: authentication_failure", in both the
// text and the JSON format.
func Shape(msg string) string {
	if s, ok := systemShape(msg); ok {
		return s
	}
	if s, ok := emqxShape(msg); ok {
		return s
	}
	if s, ok := emqx4Shape(msg); ok {
		return s
	}
	var b strings.Builder
	b.Grow(len(msg))
	words := strings.Fields(msg)
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		prev := ""
		if i > 0 {
			prev = words[i-1]
		}
		if variable(w) || prev == "Client" || prev == "client" || prev == "from" {
			b.WriteByte('*')
			// keep trailing punctuation, it is part of the wording
			if last := w[len(w)-1]; last == '.' || last == ',' || last == ':' {
				b.WriteByte(last)
			}
			continue
		}
		b.WriteString(w)
	}
	return b.String()
}

func variable(w string) bool {
	if len(w) > 1 && (w[0] == '\'' || w[0] == '"') {
		return true
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c >= '0' && c <= '9' || c == '/' || c >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// emqxShape returns the shape of an EMQX text or JSON message (as Split
// leaves it) that has a level and a msg field.
func emqxShape(msg string) (string, bool) {
	var level, what string
	switch {
	case strings.HasPrefix(msg, "["): // [warning] msg: authentication_failure, clientid: c1, ...
		end := strings.IndexByte(msg, ']')
		if end < 0 {
			return "", false
		}
		level = msg[1:end]
		rest := strings.TrimLeft(msg[end+1:], " ")
		// EMQX 5 text: "k: v, ..., msg: x, k: v" in any order of keys.
		i := 0
		for {
			j := strings.Index(rest[i:], "msg: ")
			if j < 0 {
				return "", false
			}
			i += j
			if i == 0 || strings.HasSuffix(rest[:i], ", ") {
				break
			}
			i += len("msg: ")
		}
		what = rest[i+len("msg: "):]
		if j := strings.IndexAny(what, ", "); j >= 0 {
			what = what[:j]
		}
	case strings.HasPrefix(msg, `"level":"`) || strings.HasPrefix(msg, "{"):
		level, _ = jsonString(msg, "level")
		what, _ = jsonString(msg, "msg")
	default:
		return "", false
	}
	if level == "" || what == "" {
		return "", false
	}
	return "[" + level + "] msg: " + what, true
}

// jsonString returns the value of "key":"value" in a JSON object's text,
// without decoding it (escapes stay as they are): enough for EMQX's level
// and msg, which are identifiers.
func jsonString(s, key string) (string, bool) {
	k := `"` + key + `":"`
	i := strings.Index(s, k)
	if i < 0 {
		return "", false
	}
	rest := s[i+len(k):]
	end := strings.IndexByte(rest, '"')
	if end < 0 {
		return "", false
	}
	return rest[:end], true
}

// MosquittoConnectionMessage reports whether Mosquitto prints msg only
// with `connection_messages true` (its default): the connect, disconnect,
// takeover and timeout lines and the CONNECT refusals (mosquitto 2.0.x and
// 2.1, every log call guarded by that option).
func MosquittoConnectionMessage(msg string) bool {
	switch {
	case strings.HasPrefix(msg, "New connection from "), strings.HasPrefix(msg, "New client connected from "),
		strings.HasPrefix(msg, "Client connection from "):
		return true
	case strings.HasPrefix(msg, "Invalid protocol ") && strings.Contains(msg, " in CONNECT"):
		return true
	case strings.HasPrefix(msg, "Client "):
		for _, s := range [...]string{" disconnected", " closed its connection", " has exceeded timeout", " already connected, closing old connection"} {
			if strings.Contains(msg, s) {
				return true
			}
		}
	}
	return false
}
