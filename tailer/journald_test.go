package tailer

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/journaltest"
)

// jentries writes messages "<prefix> <i>" for i in [from, to) as entries of
// mosquitto.service, in boot (empty: the journal's).
func jentries(t *testing.T, j *journaltest.Journal, boot, prefix string, from, to int) {
	t.Helper()
	var es []journaltest.Entry
	for i := from; i < to; i++ {
		es = append(es, journaltest.Entry{Message: []byte(fmt.Sprintf("%s %d", prefix, i)), Unit: "mosquitto.service", Identifier: "mosquitto", PID: 1, Boot: boot})
	}
	j.Write(t, es...)
}

// message reads MESSAGE of a line (a JSON entry) for the assertions.
func message(t *testing.T, l Line) string {
	t.Helper()
	var e struct {
		Message string `json:"MESSAGE"`
	}
	if err := json.Unmarshal([]byte(l.Text), &e); err != nil {
		t.Fatalf("line %q is not a journal entry: %v", l.Text, err)
	}
	return e.Message
}

func loadJournalState(t *testing.T, path string) stateJournal {
	t.Helper()
	st, err := loadState(path)
	if err != nil || st == nil || len(st.Journals) != 1 {
		t.Fatalf("state %+v, %v: want one journal", st, err)
	}
	return st.Journals[0]
}

// The checkpoint advances over the acknowledged prefix only: batches
// acknowledged out of order leave it at the last of a run without a gap,
// and a restart resumes after it, each entry once more at most, under the
// same stream and offset (the diagnosis id's inputs).
func TestJournalCheckpointAckedPrefix(t *testing.T) {
	j := journaltest.New(t)
	state := filepath.Join(t.TempDir(), "state.json")
	opts := []Option{JournalDir(j.Dir), FromBeginning(true), StateFile(state), batchLines(1), FlushInterval(time.Hour)}
	s := start(t, []string{"journald:mosquitto.service"}, opts...)
	s.c.mu.Lock()
	s.c.hold = true
	s.c.mu.Unlock()
	// One write each, so that each is its own batch whatever the timing.
	for i := 0; i < 4; i++ {
		jentries(t, j, "", "entry", i, i+1)
		s.c.wait(t, i+1)
	}
	first := s.c.snapshot()
	s.c.ackHeld(1, 3) // 0 and 2 outstanding: nothing acknowledged as a prefix
	s.stop(t)
	if got := loadJournalState(t, state); got.Cursor != "" {
		t.Fatalf("cursor %q saved with entry 0 unacknowledged", got.Cursor)
	}
	s.c.ackHeld(0) // late: after Close, not saved; the restart reads all again

	s2 := start(t, []string{"journald:mosquitto.service"}, opts...)
	s2.c.mu.Lock()
	s2.c.hold = true
	s2.c.mu.Unlock()
	again := s2.c.wait(t, 4)
	for i, l := range again {
		if l.Stream != first[i].Stream || l.Offset != first[i].Offset || message(t, l) != message(t, first[i]) {
			t.Errorf("entry %d read again as %s@%d %q, first as %s@%d %q", i, l.Stream, l.Offset, message(t, l), first[i].Stream, first[i].Offset, message(t, first[i]))
		}
	}
	s2.c.ackHeld(0, 1, 3) // 2 outstanding: the prefix ends at entry 1
	s2.stop(t)
	got := loadJournalState(t, state)
	var e struct {
		Cursor string `json:"__CURSOR"`
	}
	_ = json.Unmarshal([]byte(again[1].Text), &e)
	if got.Cursor != e.Cursor || got.Line != 2 {
		t.Fatalf("state %+v, want entry 1's cursor %q and line 2", got, e.Cursor)
	}
	jentries(t, j, "", "entry", 4, 5)
	s3 := start(t, []string{"journald:mosquitto.service"}, opts...)
	ls := s3.c.wait(t, 3)
	for i, want := range []string{"entry 2", "entry 3", "entry 4"} {
		if got := message(t, ls[i]); got != want {
			t.Errorf("after the restart, line %d is %q, want %q", i, got, want)
		}
	}
	if ls[0].Number != 3 {
		t.Errorf("line number %d after 2 acknowledged, want 3", ls[0].Number)
	}
	s3.stop(t)
	if n := len(s3.c.snapshot()); n != 3 {
		t.Errorf("%d lines after the restart, want 3", n)
	}
}

// journalctl 252's --follow shows only the last boot unless --merge:
// entries of an earlier boot after the saved cursor (the broker's last
// words before a reboot) must still be read.
func TestJournalResumeAcrossBoots(t *testing.T) {
	j := journaltest.New(t)
	state := filepath.Join(t.TempDir(), "state.json")
	opts := []Option{JournalDir(j.Dir), FromBeginning(true), StateFile(state)}
	jentries(t, j, "11111111111111111111111111111111", "boot1", 0, 2)
	s := start(t, []string{"journald:mosquitto.service"}, opts...)
	s.c.wait(t, 2)
	s.stop(t)
	jentries(t, j, "11111111111111111111111111111111", "boot1", 2, 3) // written while down
	jentries(t, j, "22222222222222222222222222222222", "boot2", 0, 1) // after the reboot
	s2 := start(t, []string{"journald:mosquitto.service"}, opts...)
	ls := s2.c.wait(t, 2)
	if message(t, ls[0]) != "boot1 2" || message(t, ls[1]) != "boot2 0" {
		t.Fatalf("after a reboot got %q, %q; want the rest of boot 1, then boot 2", message(t, ls[0]), message(t, ls[1]))
	}
}

// Not started at the beginning, the input starts at the end of the
// journal, at a cursor saved at once: what is written after the start is
// read after a restart even if nothing was acknowledged before it.
func TestJournalStartsAtEndWithSavedCursor(t *testing.T) {
	j := journaltest.New(t)
	state := filepath.Join(t.TempDir(), "state.json")
	jentries(t, j, "", "old", 0, 3)
	s := start(t, []string{"journald:mosquitto.service"}, JournalDir(j.Dir), StateFile(state))
	deadline := time.Now().Add(30 * time.Second)
	for loadJournalStateOK(state) == "" {
		if time.Now().After(deadline) {
			t.Fatal("no cursor saved within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.stop(t)
	jentries(t, j, "", "new", 0, 1)
	s2 := start(t, []string{"journald:mosquitto.service"}, JournalDir(j.Dir), StateFile(state))
	ls := s2.c.wait(t, 1)
	if got := message(t, ls[0]); got != "new 0" {
		t.Fatalf("first line %q, want the entry written after the start", got)
	}
}

func loadJournalStateOK(path string) string {
	st, err := loadState(path)
	if err != nil || st == nil || len(st.Journals) != 1 {
		return ""
	}
	return st.Journals[0].Cursor
}

// A journal mqttdiag may not read (a user outside the systemd-journal
// group) is an error that says so and what to do, in a scan, and a
// problem /readyz reports while following. journalctl runs as nobody on a
// journal only its owner may read.
func TestJournalUnreadable(t *testing.T) {
	j := journaltest.New(t)
	jentries(t, j, "", "secret", 0, 1)
	asNobody := unreadable(t, j)
	out := make(chan Batch)
	c := collect(out)
	err := New([]string{"journald:mosquitto.service"}, JournalDir(j.Dir), asNobody).Run(context.Background(), out)
	<-c.done
	if err == nil || !strings.Contains(err.Error(), "systemd-journal") || !strings.Contains(err.Error(), "SupplementaryGroups=systemd-journal") {
		t.Fatalf("scan of an unreadable journal: %v; want the systemd-journal group named", err)
	}
	if n := len(c.snapshot()); n != 0 {
		t.Fatalf("%d lines read from an unreadable journal", n)
	}

	s := start(t, []string{"journald:mosquitto.service"}, JournalDir(j.Dir), FromBeginning(true), asNobody)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ps := s.tl.Problems()
		if len(ps) == 1 && ps[0].Path == "journald:mosquitto.service" && strings.Contains(ps[0].Problem, "systemd-journal") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("problems %+v within 30s; want the journal input's", ps)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A journalctl that is not there is an error naming it and what to install.
func TestJournalMissingJournalctl(t *testing.T) {
	out := make(chan Batch)
	c := collect(out)
	err := New([]string{"journald:"}, Journalctl(filepath.Join(t.TempDir(), "journalctl"))).Run(context.Background(), out)
	<-c.done
	if err == nil || !strings.Contains(err.Error(), "apt-get install systemd") {
		t.Fatalf("Run without journalctl: %v; want what to install", err)
	}
}

func TestJournalArgs(t *testing.T) {
	o := &options{journalDir: "/j"}
	in, err := parseJournalInput("journald:mosquitto.service")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(o.journalArgs(in, true, "s=1;i=2"), " ")
	want := "--output=json --output-fields=MESSAGE,SYSLOG_IDENTIFIER,_SYSTEMD_UNIT,_SYSTEMD_USER_UNIT,_PID,SYSLOG_PID,_COMM,_HOSTNAME,PRIORITY,CONTAINER_NAME,UNIT,USER_UNIT --all --no-pager --directory=/j --unit=mosquitto.service --follow --merge --after-cursor=s=1;i=2 --no-tail"
	if got != want {
		t.Errorf("args %q, want %q", got, want)
	}
	for _, bad := range []string{"journald:-f", "journald:a b", "journald:a\nb"} {
		if _, err := parseJournalInput(bad); err == nil {
			t.Errorf("%q accepted as a unit", bad)
		}
	}
	if in, err := parseJournalInput("journald:"); err != nil || in.unit != "" || in.match != "" {
		t.Errorf("journald: = %+v, %v; want the whole journal", in, err)
	}
	// A container's entries, as Docker's journald log driver writes them.
	in, err = parseJournalInput("journald:CONTAINER_NAME=addon_core_mosquitto")
	if err != nil {
		t.Fatal(err)
	}
	got = strings.Join(o.journalArgs(in, false, ""), " ")
	want = "--output=json --output-fields=MESSAGE,SYSLOG_IDENTIFIER,_SYSTEMD_UNIT,_SYSTEMD_USER_UNIT,_PID,SYSLOG_PID,_COMM,_HOSTNAME,PRIORITY,CONTAINER_NAME,UNIT,USER_UNIT --all --no-pager --directory=/j --no-tail CONTAINER_NAME=addon_core_mosquitto"
	if got != want {
		t.Errorf("args %q, want %q", got, want)
	}
	for _, bad := range []string{"journald:container_name=x", "journald:CONTAINER_NAME=", "journald:=x", "journald:1X=y", "journald:A-B=c"} {
		if _, err := parseJournalInput(bad); err == nil || !strings.Contains(err.Error(), "FIELD=VALUE") {
			t.Errorf("%q: %v; want an error about FIELD=VALUE", bad, err)
		}
	}
}

// A journalctl before systemd 236 knows no --output-fields: the input
// runs it again without, and reads every field.
func TestJournalWithoutOutputFields(t *testing.T) {
	j := journaltest.New(t)
	jentries(t, j, "", "old", 0, 2)
	old := filepath.Join(t.TempDir(), "journalctl")
	script := "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in --output-fields=*) echo \"journalctl: unrecognized option '$a'\" >&2; exit 1;; esac; done\nexec journalctl \"$@\"\n"
	if err := os.WriteFile(old, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	out := make(chan Batch)
	c := collect(out)
	err := New([]string{"journald:mosquitto.service"}, JournalDir(j.Dir), Journalctl(old)).Run(context.Background(), out)
	<-c.done
	ls := c.snapshot()
	if err != nil || len(ls) != 2 || message(t, ls[1]) != "old 1" || !strings.Contains(ls[1].Text, `"_TRANSPORT":`) {
		t.Fatalf("scan with a journalctl without --output-fields: %v, %d lines; want both entries, every field", err, len(ls))
	}
	out = make(chan Batch)
	c = collect(out)
	err = New([]string{"journald:mosquitto.service"}, JournalDir(j.Dir)).Run(context.Background(), out)
	<-c.done
	ls = c.snapshot()
	if err != nil || len(ls) != 2 || message(t, ls[1]) != "old 1" || strings.Contains(ls[1].Text, `"_TRANSPORT":`) {
		t.Fatalf("scan: %v, %d lines; want both entries, the decoder's fields only", err, len(ls))
	}
}

// unreadable makes j's journal file readable by its owner only, and
// returns the option that runs journalctl as nobody (as root), for whom it
// is then unreadable; a test not run as root takes the owner's right too.
func unreadable(t *testing.T, j *journaltest.Journal) Option {
	t.Helper()
	if err := os.Chmod(filepath.Join(j.Dir, "remote.journal"), 0o600); err != nil {
		t.Fatal(err)
	}
	for d := j.Dir; d != "/"; d = filepath.Dir(d) {
		if strings.HasPrefix(d, os.TempDir()) && d != os.TempDir() {
			_ = os.Chmod(d, 0o755) // nobody may look in, not read the file
		}
	}
	if os.Getuid() != 0 {
		_ = os.Chmod(filepath.Join(j.Dir, "remote.journal"), 0) // not even its owner
	}
	return journalCommand(func(ctx context.Context, name string, args ...string) *exec.Cmd {
		c := exec.CommandContext(ctx, name, args...)
		if os.Getuid() == 0 {
			c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		return c
	})
}

// A journal whose end could not be found at the first start (journalctl
// could not read it) is not written to the state file: an entry without a
// cursor would say "every entry is new", and the restart would read the
// whole journal's history. The restart starts at the end instead.
func TestJournalStartUnknownNotSaved(t *testing.T) {
	j := journaltest.New(t)
	state := filepath.Join(t.TempDir(), "state.json")
	jentries(t, j, "", "old", 0, 2)
	s := start(t, []string{"journald:mosquitto.service"}, JournalDir(j.Dir), StateFile(state), FlushInterval(10*time.Millisecond), unreadable(t, j))
	deadline := time.Now().Add(30 * time.Second)
	for len(s.tl.Problems()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no problem reported within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.stop(t)
	if st, err := loadState(state); err != nil || st == nil || len(st.Journals) != 0 {
		t.Fatalf("state %+v, %v: want no journal entry while its start is unknown", st, err)
	}
	if err := os.Chmod(filepath.Join(j.Dir, "remote.journal"), 0o644); err != nil {
		t.Fatal(err)
	}
	s2 := start(t, []string{"journald:mosquitto.service"}, JournalDir(j.Dir), StateFile(state))
	for loadJournalStateOK(state) == "" {
		if time.Now().After(deadline) {
			t.Fatal("no cursor saved within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	jentries(t, j, "", "new", 0, 1)
	if got := message(t, s2.c.wait(t, 1)[0]); got != "new 0" {
		t.Fatalf("first line after the restart %q, want the entry written after it (not the history)", got)
	}
}
