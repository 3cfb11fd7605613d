package main

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// newTestRoot builds the command tree with its own streams and environment.
func newTestRoot(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	return newRootCmd(process{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv})
}

// A shell cobra cannot complete for is an error naming the shells it can,
// not help and exit 0 (which a setup script would take for success).
func TestCompletionUnsupportedShell(t *testing.T) {
	code, out, errOut := runCLI(t, "", "completion", "tcsh")
	if code == 0 {
		t.Fatalf("completion tcsh exited 0; stdout %q", out)
	}
	for _, want := range []string{`"tcsh"`, "bash", "zsh", "fish", "powershell"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q does not name %s", errOut, want)
		}
	}
	if code, out, _ := runCLI(t, "", "completion", "bash"); code != 0 || !strings.Contains(out, "bash completion") {
		t.Errorf("completion bash: exit %d, %d bytes", code, len(out))
	}
}
