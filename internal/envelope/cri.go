package envelope

import (
	"strings"
	"time"
)

// cri reads the Kubernetes container log format that CRI runtimes
// (containerd, CRI-O) write under /var/log/pods: "TIMESTAMP STREAM TAGS
// LOG", the timestamp RFC 3339 with nanoseconds (containerd writes Z,
// CRI-O the node's offset), STREAM stdout or stderr, TAGS ':'-separated
// with P (partial) or F (full) first, LOG the line without its newline
// (design: kubernetes/community contributors/design-proposals/node/
// kubelet-cri-logging.md; the tags: cri-api LogTagPartial, LogTagFull,
// LogTagDelimiter; the reader this follows: kubelet's parseCRILog in
// pkg/kubelet/kuberuntime/logs/logs.go). A P line is a piece of a line
// the runtime cut; the F line that follows on the same stream ends it.
//
// In auto mode a line is CRI once its time and stream are read; a bad tag
// after that is Unreadable, not a plain line.
func (d *Decoder) cri(s string, r *Record, chosen bool) bool {
	t, n, ok := d.isoTime(s)
	return ok && d.criAt(s, t, n, r, chosen)
}

// criAt reads the rest of a CRI line whose time, t, ends at n.
func (d *Decoder) criAt(s string, t time.Time, n int, r *Record, chosen bool) bool {
	if n >= len(s) || s[n] != ' ' {
		return false
	}
	rest := s[n+1:]
	var stream string
	switch {
	case strings.HasPrefix(rest, "stdout "):
		stream = "stdout"
	case strings.HasPrefix(rest, "stderr "):
		stream = "stderr"
	default:
		if chosen {
			d.unreadable(r, CRI, "stream", n+1, "the stream is neither stdout nor stderr")
			return true
		}
		return false
	}
	at := n + 1 + len("stdout ")
	rest = rest[len("stdout "):]
	sp := strings.IndexByte(rest, ' ')
	tags := rest
	content := ""
	if sp >= 0 {
		tags, content = rest[:sp], rest[sp+1:]
	}
	first, _, _ := strings.Cut(tags, ":")
	var last bool
	switch first {
	case "F":
		last = true
	case "P":
	default:
		d.unreadable(r, CRI, "tag", at, "the tag is neither P (partial) nor F (full)")
		return true
	}
	d.piece(r, CRI, stream, t, content, last)
	return true
}

// Streams whose pieces are joined separately: a runtime splits stdout and
// stderr independently, and their records interleave.
const (
	streamStdout = iota
	streamStderr
	streamOther
	numStreams
)

func streamIndex(s string) (int, string) {
	switch s {
	case "stdout":
		return streamStdout, "stdout"
	case "stderr":
		return streamStderr, "stderr"
	}
	return streamOther, ""
}

// pending holds the pieces of one stream's split line. Its memory is
// bounded by MaxLineBytes; it keeps nothing of the lines it was given.
type pending struct {
	buf       []byte
	parts     int
	truncated bool
	env       Format
	start     time.Time // the first piece's time: when the line began
}

func (p *pending) add(s string, limit int) {
	if room := limit - len(p.buf); len(s) > room {
		s = s[:max(room, 0)]
		p.truncated = true
	}
	p.buf = append(p.buf, s...)
	p.parts++
}

// piece files one record of a container runtime: a piece of a longer line
// (last false) is held, and the last piece completes the record.
func (d *Decoder) piece(r *Record, env Format, stream string, t time.Time, content string, last bool) {
	i, st := streamIndex(stream)
	p := &d.pending[i]
	r.Envelope = env
	r.Meta = Meta{Time: t, Stream: st}
	if !last {
		if p.parts == 0 {
			p.env, p.start = env, t
		}
		p.add(content, d.o.maxLine)
		r.Kind = Partial
		return
	}
	r.Kind = Broker
	if p.parts == 0 {
		if len(content) > d.o.maxLine {
			content, r.Truncated = content[:d.o.maxLine], true
		}
		r.Text = content
		return
	}
	p.add(content, d.o.maxLine)
	r.Text = string(p.buf)
	r.Parts, r.Truncated, r.Meta.Time = p.parts, p.truncated, p.start
	p.reset()
}

func (p *pending) reset() {
	p.buf = p.buf[:0]
	p.parts, p.truncated, p.start = 0, false, time.Time{}
}

// Pending reports how many pieces of unfinished lines the Decoder holds.
func (d *Decoder) Pending() int {
	n := 0
	for i := range d.pending {
		n += d.pending[i].parts
	}
	return n
}

// Flush hands over, one per call, the lines whose last piece has not
// come, marked Unfinished: at the end of the input (a container's last
// output without a newline is written as a piece). ok is false when
// nothing is held.
func (d *Decoder) Flush() (r Record, ok bool) {
	for i := range d.pending {
		p := &d.pending[i]
		if p.parts == 0 {
			continue
		}
		_, st := streamIndex([...]string{"stdout", "stderr", ""}[i])
		r = Record{Kind: Broker, Envelope: p.env, Text: string(p.buf), Parts: p.parts, Truncated: p.truncated, Unfinished: true}
		r.Meta = Meta{Time: p.start, Stream: st}
		p.reset()
		d.finish(&r)
		return r, true
	}
	return Record{}, false
}
