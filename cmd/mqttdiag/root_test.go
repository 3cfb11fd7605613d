package main

import (
	"io"

	"github.com/spf13/cobra"
)

// newTestRoot builds the command tree with its own streams and environment.
func newTestRoot(stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	return newRootCmd(process{stdin: stdin, stdout: stdout, stderr: stderr, getenv: getenv})
}
