// Command docgen rewrites the generated command outputs of README.md and
// docs/*.md (see package docgen) with the binary in BIN_DIR.
//
//	go run ./internal/testutil/docgen/cmd/docgen -bin bin
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mqttdiag/mqttdiag/internal/testutil/docgen"
)

func main() {
	binDir := flag.String("bin", "bin", "directory holding the mqttdiag binary to run")
	flag.Parse()
	abs, err := filepath.Abs(*binDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "docgen:", err)
		os.Exit(1)
	}
	run := docgen.Shell(".", abs)
	for _, page := range docgen.Pages(".") {
		data, err := os.ReadFile(page)
		if err != nil {
			fmt.Fprintln(os.Stderr, "docgen:", err)
			os.Exit(1)
		}
		out, stale, err := docgen.Update(page, data, run)
		if err != nil {
			fmt.Fprintln(os.Stderr, "docgen:", err)
			os.Exit(1)
		}
		for _, b := range stale {
			fmt.Printf("%s:%d: %s\n", b.Page, b.Line, b.Command)
		}
		if len(stale) > 0 {
			if err := os.WriteFile(page, out, 0o644); err != nil {
				fmt.Fprintln(os.Stderr, "docgen:", err)
				os.Exit(1)
			}
		}
	}
}
