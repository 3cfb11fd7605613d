package envelope

import (
	"strings"
	"time"
)

// compose reads the prefix `docker compose logs` writes before each line
// of a service's container: the container's name padded to the longest
// one, then " | " (docker/compose cmd/formatter/logs.go, presenter.setPrefix:
// fmt.Sprintf("%-Ns | ", name)), in ANSI colours when the output is a
// terminal (cmd/formatter/colors.go: "\033[36m" … "\033[0m"). Compose v1
// wrote the same shape with "_1" names. With --timestamps an RFC 3339
// time follows the prefix; brokerlog removes it with the broker's own.
//
// `docker service logs` (swarm) writes the same shape with the task's
// name and node, "SERVICE.SLOT.TASKID@NODE    | ", and with --timestamps
// puts the RFC 3339 time before it (docker/cli cli/command/service/logs.go,
// taskFormatter.format: taskName + "@" + nodeName + padding; logWriter.Write:
// timestamp, ' ', formatted + "    | ", message).
func (d *Decoder) compose(s string, r *Record) bool {
	i := skipSGR(s, 0)
	var at time.Time
	if i < len(s) && isDigit(s[i]) {
		if t, n, ok := d.isoTime(s[i:]); ok && i+n < len(s) && s[i+n] == ' ' {
			at, i = t, i+n+1
		}
	}
	start, node := i, -1
	for i < len(s) && (isAlnum(s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-' || (s[i] == '@' && node < 0)) && i-start < 256 {
		if s[i] == '@' {
			node = i
		}
		i++
	}
	if i == start || i >= len(s) || s[i] != ' ' || !isAlnum(s[start]) || node == i-1 {
		return false
	}
	name, host := s[start:i], ""
	if node > start {
		name, host = s[start:node], s[node+1:i]
	}
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i >= len(s) || s[i] != '|' {
		return false
	}
	i++
	switch {
	case i == len(s):
	case s[i] == ' ':
		i++
	default:
		return false
	}
	i = skipSGR(s, i)
	r.Envelope = Compose
	r.Meta = Meta{Program: name, Host: host, Time: at}
	r.Text = s[i:]
	r.Kind = d.chosenName(name, r.Text)
	return true
}

// chosenName is owner for a name the user chose (a compose service, a
// swarm service, a pod's container: "mqtt", "broker"), which says little:
// a line under a name that is no configured program is still the broker's
// when it starts with Mosquitto's default time ("1700000000: ", after the
// time --timestamps adds), which no other common program writes.
func (d *Decoder) chosenName(name, text string) Kind {
	if k := d.owner(name); k == Broker {
		return k
	}
	if text != "" && isDigit(text[0]) && !unixPrefix(text) {
		if _, n, ok := d.isoTime(text); ok && n < len(text) && text[n] == ' ' {
			text = text[n+1:]
		}
	}
	if unixPrefix(text) {
		return Broker
	}
	return Other
}

// skipSGR skips ANSI "select graphic rendition" sequences (ESC [ digits
// and ';' m) at s[i:].
func skipSGR(s string, i int) int {
	for strings.HasPrefix(s[i:], "\x1b[") {
		j := i + 2
		for j < len(s) && (isDigit(s[j]) || s[j] == ';') {
			j++
		}
		if j >= len(s) || s[j] != 'm' {
			return i
		}
		i = j + 1
	}
	return i
}

// kubectl reads the prefix `kubectl logs --prefix` writes before each
// line: "[pod/POD/CONTAINER] " (kubernetes staging/src/k8s.io/kubectl/pkg/
// cmd/logs/logs.go, addPrefixIfNeeded: fmt.Sprintf("[pod/%s/%s] ",
// ref.Name, containerName)).
func (d *Decoder) kubectl(s string, r *Record) bool {
	if !strings.HasPrefix(s, "[pod/") {
		return false
	}
	end := strings.Index(s, "] ")
	if end < 0 {
		if !strings.HasSuffix(s, "]") {
			return false
		}
		end = len(s) - 1
	}
	pod, container, ok := strings.Cut(s[len("[pod/"):end], "/")
	if !ok || pod == "" || container == "" || strings.ContainsAny(pod, " /") || strings.ContainsAny(container, " /") {
		return false
	}
	r.Envelope = Kubectl
	r.Meta = Meta{Pod: pod, Container: container}
	if end+2 <= len(s) {
		r.Text = s[end+2:]
	}
	// The container names the program; the pod also holds sidecars
	// (an exporter beside the broker).
	r.Kind = d.chosenName(container, r.Text)
	return true
}
