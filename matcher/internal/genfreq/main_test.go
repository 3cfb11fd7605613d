package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mqttdiag/mqttdiag/internal/testutil/loggen"
)

var update = flag.Bool("update", false, "rewrite traffic_ngrams.txt from internal/testutil/loggen")

// trafficLines of modelled traffic are counted: at 300,000 the rarest
// n-gram kept (10 lines per million) is seen 3 times.
const trafficLines = 300_000

// The committed tables are what genfreq makes of the committed inputs.
func TestTablesAreCurrent(t *testing.T) {
	files, err := generate("../../../examples/logs", "traffic_ngrams.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		compare(t, filepath.Join("..", "..", f.name), f.data, "go generate ./matcher")
	}
}

// traffic_ngrams.txt is what the traffic model writes now. Run with
// -update (go generate ./matcher does) after changing the model.
func TestTrafficCounts(t *testing.T) {
	c := newCounts()
	if err := loggen.Write(c, trafficLines); err != nil {
		t.Fatal(err)
	}
	c.Flush()
	got := c.write(fmt.Sprintf("internal/testutil/loggen v%d, seed 1", loggen.Version))
	if *update {
		if err := os.WriteFile("traffic_ngrams.txt", got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	compare(t, "traffic_ngrams.txt", got, "go generate ./matcher")
}

// compare fails the test when the file at path is not want, naming the
// first line that differs and the command that brings it up to date.
func compare(t *testing.T, path string, want []byte, fix string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: run `%s`", err, fix)
	}
	if bytes.Equal(got, want) {
		return
	}
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Errorf("%s is stale: run `%s`\nline %d: committed %q\n   regenerated %q", path, fix, i+1, gl, wl)
			return
		}
	}
}
