// Package benchlog owns the input of the tailer benchmarks: a large
// Mosquitto-like log, made once and kept in the user's cache directory
// (never in the repository), and the facts a benchmark checks its result
// against.
package benchlog

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mqttdiag/mqttdiag/internal/testutil/loggen"
)

// Log is a generated benchmark log.
type Log struct {
	Path  string
	Bytes int64
	Lines int64
	// Takeovers counts the lines that the built-in pack diagnoses
	// (client id takeovers), one in a hundred.
	Takeovers int64
}

// Dir is where generated logs are kept: the same directory as the
// matcher benchmarks' logs (loggen.DefaultDir).
func Dir() (string, error) { return loggen.DefaultDir(), nil }

// Get returns a log of about size bytes, generating it the first time.
func Get(size int64) (Log, error) {
	dir, err := Dir()
	if err != nil {
		return Log{}, err
	}
	l := Log{Path: filepath.Join(dir, fmt.Sprintf("mosquitto-%d.log", size))}
	meta := l.Path + ".json"
	if b, err := os.ReadFile(meta); err == nil {
		var m Log
		if json.Unmarshal(b, &m) == nil {
			if fi, err := os.Stat(l.Path); err == nil && fi.Size() == m.Bytes {
				m.Path = l.Path
				return m, nil
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Log{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Log{}, fmt.Errorf("benchmark log directory: %w", err)
	}
	l, err = generate(l.Path, size)
	if err != nil {
		return Log{}, err
	}
	b, _ := json.Marshal(l)
	return l, os.WriteFile(meta, b, 0o644)
}

// generate writes the log: a deterministic mix of what a busy Mosquitto
// with log_type all writes, and one client id takeover in a hundred lines.
func generate(path string, size int64) (Log, error) {
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return Log{}, fmt.Errorf("create benchmark log: %w", err)
	}
	defer os.Remove(f.Name())
	w := bufio.NewWriterSize(f, 1<<20)
	l := Log{Path: path}
	var line []byte
	for i := int64(0); l.Bytes < size; i++ {
		ts := 1795321246 + i/5000
		c := i % 9973
		line = line[:0]
		switch i % 100 {
		case 0:
			line = fmt.Appendf(line, "%d: Client sensor-%d already connected, closing old connection.\n", ts, c)
			l.Takeovers++
		case 1, 2:
			line = fmt.Appendf(line, "%d: New connection from 10.%d.%d.%d:%d on port 1883.\n", ts, c%200, c%250, c%240, 30000+c)
		case 3, 4:
			line = fmt.Appendf(line, "%d: New client connected from 10.%d.%d.%d:%d as sensor-%d (p2, c1, k60, u'plant').\n", ts, c%200, c%250, c%240, 30000+c, c)
		case 5:
			line = fmt.Appendf(line, "%d: Client sensor-%d disconnected.\n", ts, c)
		case 6, 7, 8, 9, 10, 11, 12, 13, 14, 15:
			line = fmt.Appendf(line, "%d: Sending PUBLISH to sub-%d (d0, q1, r0, m%d, 'plant/line%d/temp', ... (17 bytes))\n", ts, c%31, i%65536, c%12)
		case 16, 17, 18, 19, 20:
			line = fmt.Appendf(line, "%d: Received PUBACK from sub-%d (Mid: %d, RC:0)\n", ts, c%31, i%65536)
		default:
			line = fmt.Appendf(line, "%d: Received PUBLISH from sensor-%d (d0, q1, r0, m%d, 'plant/line%d/temp', ... (17 bytes))\n", ts, c, i%65536, c%12)
		}
		if _, err := w.Write(line); err != nil {
			return Log{}, fmt.Errorf("write benchmark log: %w", err)
		}
		l.Bytes += int64(len(line))
		l.Lines++
	}
	if err := w.Flush(); err != nil {
		return Log{}, fmt.Errorf("write benchmark log: %w", err)
	}
	if err := f.Close(); err != nil {
		return Log{}, fmt.Errorf("write benchmark log: %w", err)
	}
	return l, os.Rename(f.Name(), path)
}
