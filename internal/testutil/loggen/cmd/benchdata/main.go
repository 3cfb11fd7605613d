// Command benchdata writes what the scan benchmarks read into a cache
// directory: generated Mosquitto logs of the given sizes (internal/loggen)
// and the deadends.dev stress corpus converted for `mqttdiag scan
// --signatures`, with (?i) prepended (its regexes were written for
// Python's re.IGNORECASE) and forced into the Mosquitto scope. It prints
// the paths it wrote, one per line: the logs, then the corpus.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mqttdiag/mqttdiag/internal/testutil/loggen"
	"github.com/mqttdiag/mqttdiag/signatures"
)

func main() {
	dir := flag.String("dir", loggen.DefaultDir(), "cache directory")
	lines := flag.String("lines", "1000000", "comma-separated line counts of the logs to generate")
	corpus := flag.String("corpus", "matcher/testdata/deadends-signatures.json", "the stress corpus")
	flag.Parse()
	for _, s := range strings.Split(*lines, ",") {
		n, err := strconv.Atoi(s)
		if err != nil {
			log.Fatalf("benchdata: -lines %q: %v", s, err)
		}
		p, err := loggen.Ensure(*dir, n)
		if err != nil {
			log.Fatalf("benchdata: %v", err)
		}
		fmt.Println(p)
	}
	sigs, err := signatures.LoadFile(*corpus)
	if err != nil {
		log.Fatalf("benchdata: %v", err)
	}
	for _, s := range sigs {
		s.Regex = "(?i)" + s.Regex
		s.Broker = signatures.BrokerMosquitto
	}
	data, err := json.Marshal(sigs)
	if err != nil {
		log.Fatalf("benchdata: %v", err)
	}
	out := filepath.Join(*dir, "corpus-mosquitto.json")
	if err := os.WriteFile(out, data, 0o644); err != nil {
		log.Fatalf("benchdata: %v", err)
	}
	fmt.Println(out)
}
