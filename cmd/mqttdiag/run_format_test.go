package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

const faultsLog = "../../examples/logs/mosquitto-2.0.11-faults.log"

// run --format text prints one line per diagnosis, as many as JSON has
// objects, each with time, severity, title and best fix; json stays the
// default; other formats are refused.
func TestRunFormatText(t *testing.T) {
	b, err := os.ReadFile(faultsLog)
	if err != nil {
		t.Fatal(err)
	}
	code, jsonOut, errOut := runCLI(t, string(b), "run", "--dedup-window", "0", "-")
	if code != 0 {
		t.Fatalf("run (json): exit %d: %s", code, errOut)
	}
	code, textOut, errOut := runCLI(t, string(b), "run", "--dedup-window", "0", "--format", "text", "-")
	if code != 0 {
		t.Fatalf("run --format text: exit %d: %s", code, errOut)
	}
	objs := strings.Split(strings.TrimSpace(jsonOut), "\n")
	lines := strings.Split(strings.TrimSpace(textOut), "\n")
	if len(objs) < 10 || !strings.HasPrefix(objs[0], "{") {
		t.Fatalf("default output is not JSON lines: %d lines, first %q", len(objs), objs[0])
	}
	if len(lines) != len(objs) {
		t.Fatalf("text: %d lines, json: %d diagnoses", len(lines), len(objs))
	}
	shape := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ (CRITICAL|ERROR|WARNING|INFO|ENDED) +\S.* \(-:\d+\)( — fix: \S.*)?$`)
	for _, l := range lines {
		if !shape.MatchString(l) {
			t.Errorf("line not in the text shape: %q", l)
		}
	}
	if !strings.Contains(textOut, `Client id takeover: a new connection with the same client id closed the existing one — client_id="sensor 42/ä" (-:69) — fix: Give every device and process a unique client id`) {
		t.Errorf("the takeover line lacks its facts or fix:\n%s", textOut)
	}
	code, _, errOut = runCLI(t, "", "run", "--format", "yaml", "-")
	if code == 0 || !strings.Contains(errOut, `--format "yaml": want text or json`) {
		t.Errorf("--format yaml: exit %d, stderr %q", code, errOut)
	}
}

// On a terminal, run prints one line per diagnosis for a person without
// being asked, and when the person stops it (SIGINT), a summary of what
// went by.
func TestRunOnTerminalTextAndSummary(t *testing.T) {
	cmd, pt := startPTY(t, []string{"NO_COLOR=1"}, "run", "--from-beginning", "--log-level", "warn", sampleLog)
	// The sample log has 6 diagnoses; wait for the last one's line.
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := pt.String()
		if strings.Count(out, " — fix: ") >= 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no text lines on the terminal within 60s:\n%q", out)
		}
		select {
		case <-pt.done:
			t.Fatalf("run exited early:\n%q", out)
		case <-time.After(20 * time.Millisecond): // polling the pty's output
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run after SIGINT: %v", err)
	}
	<-pt.done
	out := pt.String()
	if strings.Contains(out, `"signature_id"`) {
		t.Errorf("JSON on a terminal:\n%s", out)
	}
	for _, want := range []string{
		"WARNING  Client id takeover",
		// 6 lines: 5 diagnoses and the protocol-error line that is the
		// refused CONNACK's detail (part_of), no occurrence of its own
		"— stopped after 2016 lines: 5 diagnoses (1 error, 4 warning); most often: Packet Identifier in use (reason code 0x91) in a PUBACK ×2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, out)
		}
	}
}
