// Package journaltest writes real systemd journal files for tests of
// journald: inputs, which the real journalctl then reads.
//
// Why systemd-journal-remote: the tests cannot rely on a running systemd
// (this sandbox and CI containers have none, and no /run/systemd/journal
// socket for systemd-cat or logger --journald to reach). A systemd-journald
// of our own can run in a mount namespace (internal/envelope's producers
// test does), but it needs root and namespaces, and it takes _SYSTEMD_UNIT
// from the sender's cgroup, which a test cannot give a process without a
// systemd. systemd-journal-remote (Debian package systemd-journal-remote)
// writes real journal files with systemd's own journal-file code from the
// journal export format, trusted fields (_SYSTEMD_UNIT, _PID) included, as
// a remote journald's entries would arrive; it needs neither root nor a
// namespace, appends to an existing file (the sequence numbers and the
// seqnum id carry on, as journald's do), and journalctl --follow sees what
// it appends. The messages are the tests' to choose: they write lines
// captured from a real mosquitto run.
//
// Export format: https://systemd.io/JOURNAL_EXPORT_FORMATS/#journal-export-format
// (fields "NAME=value\n"; a value holding a newline or bytes that are not
// text is "NAME\n", its length as a little-endian 64-bit integer, the
// bytes and "\n"; an empty line ends an entry).
package journaltest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Remote is where Debian installs systemd-journal-remote.
const Remote = "/lib/systemd/systemd-journal-remote"

// Journal is a journal directory holding one journal file.
type Journal struct {
	Dir  string
	file string
	boot string
	mu   sync.Mutex
	mono int64
}

// Entry is one journal entry to write.
type Entry struct {
	// Message is MESSAGE; it may hold bytes that are not UTF-8 (journalctl
	// then prints it as an array of byte values).
	Message []byte
	// Unit is _SYSTEMD_UNIT, Identifier SYSLOG_IDENTIFIER.
	Unit, Identifier string
	PID              int
	// Time is __REALTIME_TIMESTAMP; zero: now.
	Time time.Time
	// Boot is _BOOT_ID (32 hex digits); empty: the journal's one boot.
	Boot string
	// Fields are more fields, or other values for _TRANSPORT, PRIORITY
	// and _COMM (by default stdout, 6 and Identifier).
	Fields map[string]string
}

// Require returns the path of systemd-journal-remote and journalctl, or
// skips the test when one is missing; under CI=true it fails instead.
func Require(t testing.TB) (remote, journalctl string) {
	t.Helper()
	var missing []string
	if _, err := os.Stat(Remote); err != nil {
		missing = append(missing, Remote+" (package systemd-journal-remote)")
	}
	journalctl, err := exec.LookPath("journalctl")
	if err != nil {
		missing = append(missing, "journalctl (package systemd)")
	}
	if len(missing) > 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed; run `make test` (it installs the test tools)", strings.Join(missing, " and "))
		}
		t.Skipf("%s not installed; `make test` installs them", strings.Join(missing, " and "))
	}
	return Remote, journalctl
}

// New returns an empty journal directory under t.TempDir().
func New(t testing.TB) *Journal {
	t.Helper()
	Require(t)
	dir := filepath.Join(t.TempDir(), "journal")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &Journal{Dir: dir, file: filepath.Join(dir, "remote.journal"), boot: "5e1d0c8ab1f2437d9a3c6f0e7b2d4c11", mono: 1_000_000}
}

// Write appends entries to the journal with systemd-journal-remote, and
// returns once they are in the file.
func (j *Journal) Write(t testing.TB, entries ...Entry) {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	var b bytes.Buffer
	for _, e := range entries {
		when := e.Time
		if when.IsZero() {
			when = time.Now()
		}
		j.mono += 1000
		field(&b, "__REALTIME_TIMESTAMP", []byte(strconv.FormatInt(when.UnixMicro(), 10)))
		field(&b, "__MONOTONIC_TIMESTAMP", []byte(strconv.FormatInt(j.mono, 10)))
		boot := j.boot
		if e.Boot != "" {
			boot = e.Boot
		}
		field(&b, "_BOOT_ID", []byte(boot))
		field(&b, "_HOSTNAME", []byte("broker-host"))
		fields := map[string]string{"_TRANSPORT": "stdout", "PRIORITY": "6"}
		if e.Identifier != "" {
			fields["_COMM"] = e.Identifier
		}
		maps.Copy(fields, e.Fields)
		for _, k := range slices.Sorted(maps.Keys(fields)) {
			field(&b, k, []byte(fields[k]))
		}
		if e.Unit != "" {
			field(&b, "_SYSTEMD_UNIT", []byte(e.Unit))
		}
		if e.Identifier != "" {
			field(&b, "SYSLOG_IDENTIFIER", []byte(e.Identifier))
		}
		if e.PID != 0 {
			field(&b, "_PID", []byte(strconv.Itoa(e.PID)))
		}
		field(&b, "MESSAGE", e.Message)
		b.WriteByte('\n')
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, Remote, "--output="+j.file, "-")
	cmd.Stdin = &b
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-remote: %v\n%s", err, out)
	}
}

// field writes one field in the export format: text as NAME=value, other
// values in the binary-safe form.
func field(b *bytes.Buffer, name string, value []byte) {
	if utf8.Valid(value) && !bytes.ContainsAny(value, "\n") && !bytes.ContainsFunc(value, func(r rune) bool { return r < ' ' && r != '\t' }) {
		fmt.Fprintf(b, "%s=%s\n", name, value)
		return
	}
	b.WriteString(name)
	b.WriteByte('\n')
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(value)))
	b.Write(n[:])
	b.Write(value)
	b.WriteByte('\n')
}

// Lines splits captured output into the lines a journald stream would
// make entries of (journald makes one entry per line of a unit's stderr).
func Lines(out string) [][]byte {
	var ls [][]byte
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if l != "" {
			ls = append(ls, []byte(l))
		}
	}
	return ls
}
