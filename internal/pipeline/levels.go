package pipeline

import (
	"sort"
	"strings"

	"github.com/rs/zerolog"
)

// levelProbeLines is how many lines of a source mqttdiag reads before it
// judges, from the levels it saw, which signatures its broker's logging
// leaves no chance to fire.
const levelProbeLines = 5000

// levels watches which log levels a source's lines show, to tell when a
// broker's configuration hides the lines some signatures need: a
// Mosquitto without log_type debug never prints "Sending CONNACK", an
// EMQX at the default warning level never prints an [info] line.
type levels struct {
	lines    int
	debug    bool // a Mosquitto debug line was seen
	lowest   int  // EMQX: the lowest level rank seen, -1 before any
	reported bool // judged once, at levelProbeLines
}

// emqxRank orders EMQX levels; -1 when s is not one.
func emqxRank(s string) int {
	for i, l := range []string{"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"} {
		if l == s {
			return i
		}
	}
	return -1
}

// see records one message of the source.
func (lv *levels) see(msg string) {
	lv.lines++
	switch {
	case strings.HasPrefix(msg, "Sending CONNACK to "), strings.HasPrefix(msg, "Received PINGREQ from "),
		strings.HasPrefix(msg, "Received PUBLISH from "), strings.HasPrefix(msg, "Sending PUBLISH to "):
		lv.debug = true
	case strings.HasPrefix(msg, "["):
		if end := strings.IndexByte(msg, ']'); end > 0 {
			lv.seeEMQX(msg[1:end])
		}
	case strings.HasPrefix(msg, `"level":"`):
		rest := msg[len(`"level":"`):]
		if end := strings.IndexByte(rest, '"'); end > 0 {
			lv.seeEMQX(rest[:end])
		}
	}
}

func (lv *levels) seeEMQX(level string) {
	if r := emqxRank(level); r >= 0 && (lv.lowest < 0 || r < lv.lowest) {
		lv.lowest = r
	}
}

// judge logs, once per source after levelProbeLines lines, the signatures
// whose lines the broker evidently does not print.
func (lv *levels) judge(log zerolog.Logger, source, broker string, pk *Pack) {
	if lv.reported || lv.lines < levelProbeLines || broker == "" {
		return
	}
	lv.reported = true
	var ids []string
	for _, s := range pk.Signatures {
		if s.Broker != broker || s.LogLevel == "" {
			continue
		}
		switch broker {
		case "mosquitto":
			if s.LogLevel == "debug" && !lv.debug {
				ids = append(ids, s.ID)
			}
		case "emqx":
			if r := emqxRank(s.LogLevel); r >= 0 && (lv.lowest < 0 || r < lv.lowest) {
				ids = append(ids, s.ID)
			}
		}
	}
	if len(ids) == 0 {
		return
	}
	sort.Strings(ids)
	hint := "no debug line in the first lines: the broker likely logs without `log_type debug`"
	if broker == "emqx" {
		hint = "no line below the lowest level seen: EMQX likely logs at a higher level (log.file.level)"
	}
	log.Warn().Str("source", source).Int("lines", lv.lines).Strs("signatures", ids).
		Msg("these signatures probably cannot fire with this broker's logging: " + hint)
}
