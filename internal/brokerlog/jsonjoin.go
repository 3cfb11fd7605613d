package brokerlog

import "strings"

// JSONJoiner puts back together a JSON object that was pretty-printed
// over several lines, as `aws logs tail --format json` prints every AWS
// IoT log entry (aws-cli awscli/customizations/logs/tail.py,
// PrettyJSONLogEventsFormatter: json.dumps(message, indent=4), the object
// starting on a line of its own) and as the CloudWatch console copies one:
//
//	2024-05-14T14:52:54.916000+00:00 dd5a8e0e
//	{
//	    "timestamp": "2024-05-14 14:52:54.916",
//	    "logLevel": "ERROR",
//	    ...
//	}
//
// An object starts at a line that is "{" alone (spaces around it
// allowed); its lines are joined, trimmed, with single spaces, into one
// line such as `{ "timestamp": "...", "logLevel": "ERROR", ... }`, which
// Split and the signatures read like an entry on one line. A JSONJoiner
// holds one source's state; the zero value is ready. It holds at most
// MaxJoinedBytes or MaxJoinedLines: past that the object is given up, the
// lines held so far are not matched, and the following ones are matched
// alone.
type JSONJoiner struct {
	b        strings.Builder
	depth    int
	inString bool
	escaped  bool
	lines    int
	active   bool
}

// Bounds of one joined object: an AWS IoT entry is a few hundred bytes on
// twenty lines.
const (
	MaxJoinedBytes = 64 << 10
	MaxJoinedLines = 1000
)

// Add takes a source's next line. held reports that the line belongs to
// an object being joined (it is not to be matched alone); object is the
// joined object when line closed it, "" otherwise.
func (j *JSONJoiner) Add(line string) (object string, held bool) {
	t := strings.TrimSpace(line)
	if !j.active {
		if t != "{" {
			return "", false
		}
		j.active, j.depth, j.lines, j.inString, j.escaped = true, 1, 1, false, false
		j.b.Reset()
		j.b.WriteString("{")
		return "", true
	}
	j.lines++
	if j.lines > MaxJoinedLines || j.b.Len()+len(t)+1 > MaxJoinedBytes {
		j.reset()
		return "", false
	}
	j.b.WriteByte(' ')
	j.b.WriteString(t)
	j.scan(t)
	if j.depth > 0 {
		return "", true
	}
	object = j.b.String()
	j.reset()
	return object, true
}

// scan follows the braces of t outside JSON strings.
func (j *JSONJoiner) scan(t string) {
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case j.escaped:
			j.escaped = false
		case j.inString && c == '\\':
			j.escaped = true
		case c == '"':
			j.inString = !j.inString
		case j.inString:
		case c == '{', c == '[':
			j.depth++
		case c == '}', c == ']':
			j.depth--
		}
	}
}

func (j *JSONJoiner) reset() {
	j.active = false
	j.b.Reset()
}
