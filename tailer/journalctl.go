package tailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mqttdiag/mqttdiag/internal/envelope"
)

// Running journalctl for the journald input, and telling its failures
// apart: what to run, and an error that says what to do.

// journalArgs are journalctl's arguments: JSON, one entry a line, only
// the fields the envelope decoder reads (--output-fields; journalctl adds
// __CURSOR, which is checkpointed, __REALTIME_TIMESTAMP,
// __MONOTONIC_TIMESTAMP and _BOOT_ID): 60 % of the bytes of an entry for
// journalctl to write and the tailer and the decoder to read (the
// captures: 443 of 713 bytes a line). Unless in.allFields: journalctl before 236 knows
// no --output-fields. Every field in full (--all), no pager. With follow,
// --merge: journalctl 252 limits --follow to the last boot otherwise, and
// entries of an earlier boot after the cursor (the broker's last words
// before a reboot) would be skipped. --no-tail: every entry after the
// cursor, or every entry without one (with --follow, journalctl shows
// only the last 10 otherwise).
func (o *options) journalArgs(in journalInput, follow bool, after string) []string {
	args := []string{"--output=json"}
	if !in.allFields {
		args = append(args, "--output-fields="+strings.Join(envelope.JournalFields(), ","))
	}
	args = o.journalWhich(in, append(args, "--all", "--no-pager")...)
	if follow {
		args = append(args, "--follow", "--merge")
	}
	if after != "" {
		args = append(args, "--after-cursor="+after)
	}
	return in.matchArgs(append(args, "--no-tail"))
}

// journalWhich appends to args the options that say which journal and
// which unit's entries to read.
func (o *options) journalWhich(in journalInput, args ...string) []string {
	if o.journalDir != "" {
		args = append(args, "--directory="+o.journalDir)
	}
	if in.unit != "" {
		args = append(args, "--unit="+in.unit)
	}
	return args
}

// matchArgs appends the input's FIELD=VALUE match, journalctl's positional
// argument, after the options.
func (in journalInput) matchArgs(args []string) []string {
	if in.match != "" {
		args = append(args, in.match)
	}
	return args
}

func (o *options) journalProgram() string {
	if o.journalctl != "" {
		return o.journalctl
	}
	return "journalctl"
}

func (o *options) command(ctx context.Context, args ...string) *exec.Cmd {
	if o.journalCmd != nil {
		return o.journalCmd(ctx, o.journalProgram(), args...)
	}
	return exec.CommandContext(ctx, o.journalProgram(), args...)
}

// journalError explains why journalctl could not run or read the
// journal, and what to do about it.
func (o *options) journalError(in journalInput, err error, stderr string) error {
	stderr = strings.TrimSpace(stderr)
	var ee *exec.Error
	switch {
	case errors.As(err, &ee) || errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("input %s: cannot run %s: install it (Debian: apt-get install systemd) or set PATH so that mqttdiag finds it; the journal cannot be read without it: %w", in.spec, o.journalProgram(), err)
	case deniedJournal(stderr):
		where := "the system journal"
		if o.journalDir != "" {
			where = "--journal-dir " + o.journalDir
		}
		return fmt.Errorf("input %s: journalctl may not read %s (%s): add the user mqttdiag runs as to the systemd-journal group (usermod -aG systemd-journal USER; in a unit, SupplementaryGroups=systemd-journal), or give it a journal directory it can read: %w", in.spec, where, oneLine(stderr), err)
	case stderr != "":
		return fmt.Errorf("input %s: journalctl failed: %s: %w", in.spec, oneLine(stderr), err)
	}
	return fmt.Errorf("input %s: journalctl failed: %w", in.spec, err)
}

// noOutputFields reports whether journalctl's stderr says it does not know
// --output-fields (before systemd 236: "unrecognized option").
func noOutputFields(stderr string) bool {
	return strings.Contains(stderr, "--output-fields")
}

// deniedJournal reports whether journalctl's stderr says it lacks the
// right to read (journalctl 252: "No journal files were opened due to
// insufficient permissions.", and the "Hint: You are currently not seeing
// messages from other users and the system." it prints, then carries on
// with the user's own journal only).
func deniedJournal(stderr string) bool {
	return strings.Contains(stderr, "insufficient permissions") ||
		strings.Contains(stderr, "not seeing messages from other users") ||
		strings.Contains(stderr, "ermission denied")
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// unreadableJournal reports a journal file this process may not read:
// journalctl 252 skips such a file without a word and exits 0 when others
// can be read (with --directory; for the system journal it prints only a
// hint), so that a journal read in part would look whole. journalctl runs
// as this process's user, so what it may not open, journalctl may not.
func (o *options) unreadableJournal(in journalInput) error {
	dirs := []string{"/var/log/journal", "/run/log/journal"}
	if o.journalDir != "" {
		dirs = []string{o.journalDir}
	}
	for _, d := range dirs {
		for _, pat := range []string{"*.journal", "*.journal~", "*/*.journal", "*/*.journal~"} {
			ms, _ := filepath.Glob(filepath.Join(d, pat))
			for _, m := range ms {
				f, err := os.Open(m)
				if err == nil {
					f.Close()
					continue
				}
				if errors.Is(err, fs.ErrPermission) {
					return o.journalError(in, err, "insufficient permissions: journalctl skips "+m+" without a word")
				}
			}
		}
	}
	return nil
}

// stderrWatch keeps journalctl's stderr (bounded) and reports a line
// saying the journal is read only in part.
type stderrWatch struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	denied func(string)
	seen   bool
}

func (w *stderrWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.buf.Len() < 4096 {
		w.buf.Write(p[:min(len(p), 4096-w.buf.Len())])
	}
	s := w.buf.String()
	report := !w.seen && deniedJournal(s)
	if report {
		w.seen = true
	}
	w.mu.Unlock()
	if report {
		w.denied(s)
	}
	return len(p), nil
}

func (w *stderrWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func (w *stderrWatch) wasDenied() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.seen
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
