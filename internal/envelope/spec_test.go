package envelope

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
)

// Writers of the container envelopes, built to what their producers'
// sources do (this machine runs no Docker engine, kubelet or compose), so
// that the broker lines of a real run can be wrapped as a container
// runtime would wrap them.

// dockerBufSize is moby's copier buffer (daemon/logger/copier.go,
// defaultBufSize = 16 * 1024): a longer line is logged in pieces of that
// size, each without "\n", the rest with it.
const dockerBufSize = 16 * 1024

// dockerRecords is what moby's json-file driver writes for one line of a
// container's output: daemon/logger/jsonfilelog/jsonfilelog.go
// marshalMessage ("\n" appended to a complete line or the last piece) and
// jsonlog/jsonlogbytes.go MarshalJSONBuf (members log, stream, time; the
// time RFC 3339 with nanoseconds in UTC, the first piece's for every
// piece).
func dockerRecords(line, stream string, t time.Time) []string {
	var out []string
	b := []byte(line)
	for len(b) > dockerBufSize {
		out = append(out, dockerRecord(b[:dockerBufSize], stream, t))
		b = b[dockerBufSize:]
	}
	return append(out, dockerRecord(append(b[:len(b):len(b)], '\n'), stream, t))
}

func dockerRecord(log []byte, stream string, t time.Time) string {
	var buf bytes.Buffer
	buf.WriteString(`{"log":`)
	dockerString(&buf, log)
	buf.WriteString(`,"stream":`)
	dockerString(&buf, []byte(stream))
	buf.WriteString(`,"time":"` + t.UTC().Format(time.RFC3339Nano) + `"}`)
	return buf.String()
}

// dockerString is moby's ffjsonWriteJSONBytesAsString: '\\' and '"'
// escaped, "\n" and "\r" as such, other control bytes and '<', '>', '&'
// as \u00XX, bytes that are not UTF-8 as \ufffd, U+2028 and U+2029
// escaped.
func dockerString(buf *bytes.Buffer, s []byte) {
	const hex = "0123456789abcdef"
	buf.WriteByte('"')
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			switch {
			case c >= 0x20 && c != '\\' && c != '"' && c != '<' && c != '>' && c != '&':
				buf.WriteByte(c)
			case c == '\\' || c == '"':
				buf.WriteByte('\\')
				buf.WriteByte(c)
			case c == '\n':
				buf.WriteString(`\n`)
			case c == '\r':
				buf.WriteString(`\r`)
			default:
				buf.WriteString(`\u00`)
				buf.WriteByte(hex[c>>4])
				buf.WriteByte(hex[c&0xF])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			buf.WriteString(`\ufffd`)
		case r == '\u2028' || r == '\u2029':
			buf.WriteString(`\u202`)
			buf.WriteByte(hex[r&0xF])
		default:
			buf.Write(s[i : i+size])
		}
		i += size
	}
	buf.WriteByte('"')
}

// criRecords is what containerd writes for one line of a container's
// output (internal/cri/io/logger.go redirectLogs): "TIME STREAM TAG LINE",
// the time RFC 3339 with nanoseconds, a line longer than maxLen cut into P
// records of maxLen bytes and an F record with the rest.
func criRecords(line, stream string, t time.Time, maxLen int) []string {
	ts := t.Format(time.RFC3339Nano)
	var out []string
	for len(line) > maxLen {
		out = append(out, ts+" "+stream+" P "+line[:maxLen])
		line = line[maxLen:]
	}
	return append(out, ts+" "+stream+" F "+line)
}

// composeLine is `docker compose logs`' prefix (cmd/formatter/logs.go:
// fmt.Sprintf("%-Ns | ", name), N the longest name plus one), coloured
// as on a terminal when color is set (cmd/formatter/colors.go).
func composeLine(name string, width int, color bool, line string) string {
	p := fmt.Sprintf("%-"+strconv.Itoa(width)+"s | ", name)
	if color {
		p = "\033[36m" + p + "\033[0m"
	}
	return p + line
}

// kubectlLine is `kubectl logs --prefix`' prefix (pkg/cmd/logs/logs.go:
// fmt.Sprintf("[pod/%s/%s] ", ref.Name, containerName)).
func kubectlLine(pod, container, line string) string {
	return fmt.Sprintf("[pod/%s/%s] ", pod, container) + line
}

// dockerText is what a line becomes through json-file: moby replaces each
// byte that is not UTF-8 with U+FFFD.
func dockerText(line string) string {
	var b strings.Builder
	for i := 0; i < len(line); {
		r, size := utf8.DecodeRuneInString(line[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(line[i : i+size])
		}
		i += size
	}
	return b.String()
}

// TestContainerEnvelopes wraps the broker lines of the real run
// (testdata/plain.log) as each container envelope does, interleaved with
// other containers' lines and a line long enough to be split, and checks
// that decoding gives back every broker line in order with the same
// diagnoses.
func TestContainerEnvelopes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "plain.log"))
	if err != nil {
		t.Fatal(err)
	}
	plain := splitLines(b)
	// A line over two of Docker's 16 KiB pieces, from a real one.
	long := strings.Replace(plain[len(plain)/2], ": ", ": Received PUBLISH from big (d0, q0, r0, m0, '"+strings.Repeat("t/", 20000)+"', ... (3 bytes)) ", 1)
	lines := append(slices.Clone(plain[:len(plain)/2]), long, "bad \xff\xfe bytes")
	lines = append(lines, plain[len(plain)/2:]...)
	t0 := time.Date(2026, 12, 5, 9, 10, 10, 0, time.UTC)
	stream := func(i int) string {
		if i%3 == 0 {
			return "stderr"
		}
		return "stdout"
	}

	var docker, cri, compose, composeColor, kubectl []string
	var wantDocker []string
	for i, l := range lines {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		docker = append(docker, dockerRecords(l, stream(i), at)...)
		wantDocker = append(wantDocker, dockerText(l))
		cri = append(cri, criRecords(l, stream(i), at, 16*1024)...)
		compose = append(compose, composeLine("mosquitto-1", 12, false, l))
		composeColor = append(composeColor, composeLine("mosquitto-1", 12, true, l))
		kubectl = append(kubectl, kubectlLine("mosquitto-7d9f8c-x2x", "mosquitto", l))
		if i%10 == 5 { // another service of the project, another container of the pod
			compose = append(compose, composeLine("grafana-1", 12, false, "logger=sqlstore level=error msg=x"))
			composeColor = append(composeColor, composeLine("grafana-1", 12, true, "logger=sqlstore level=error msg=x"))
			kubectl = append(kubectl, kubectlLine("mosquitto-7d9f8c-x2x", "exporter", "level=error msg=scrape failed"))
		}
	}
	m := builtinMatcher(t)
	for _, c := range []struct {
		name   string
		env    Format
		lines  []string
		want   []string
		others int
	}{
		{"docker", Docker, docker, wantDocker, 0},
		{"cri", CRI, cri, lines, 0},
		{"compose", Compose, compose, lines, len(lines) / 10},
		{"compose-color", Compose, composeColor, lines, len(lines) / 10},
		{"kubectl", Kubectl, kubectl, lines, len(lines) / 10},
	} {
		for _, f := range []Format{Auto, c.env} {
			t.Run(c.name+"/"+f.String(), func(t *testing.T) {
				d := NewDecoder(Envelope(f), Location(time.UTC))
				var got []Record
				others := 0
				for _, l := range c.lines {
					switch r := d.Decode(l); r.Kind {
					case Broker:
						if r.Envelope != c.env {
							t.Fatalf("%q read as %v", l, r.Envelope)
						}
						got = append(got, r)
					case Other:
						others++
					case Unreadable:
						t.Fatalf("%q: %v", l, r.Err)
					}
				}
				if len(got) != len(c.want) || others < c.others {
					t.Fatalf("%d broker records, %d others; want %d and %d", len(got), others, len(c.want), c.others)
				}
				for i, r := range got {
					if r.Text != c.want[i] {
						t.Fatalf("record %d: %.80q, want %.80q", i, r.Text, c.want[i])
					}
					msg, _, _ := brokerlog.Split(c.want[i])
					if g, w := diagnose(m, r.Text, r.Msg), diagnose(m, c.want[i], msg); !slices.Equal(g.ids, w.ids) {
						t.Errorf("%q diagnosed %v, plain %v", r.Text, g.ids, w.ids)
					}
				}
				if st := d.Stats(); (c.env == Docker || c.env == CRI) && st.Joined != 1 {
					t.Errorf("joined %d lines, want the long one", st.Joined)
				}
			})
		}
	}
}
