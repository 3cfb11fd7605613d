package signatures_test

import (
	"testing"

	"github.com/mqttdiag/mqttdiag/internal/catalogue"
)

// mosquittoStamp is the prefix Mosquitto's default log_timestamp gives
// every line, to stderr and to a log file alike (src/logging.c,
// log__vprintf@v2.0.11: "%d: " of time(NULL)).
const mosquittoStamp = "1795323027: "

// renderMosquitto renders a Mosquitto catalogue entry as the broker
// prints it: the C format with plausible values, after the timestamp
// prefix; a plain fprintf to stderr (level "stderr") has no prefix.
func renderMosquitto(e catalogue.Entry) ([]string, error) {
	text, err := catalogue.RenderPrintf(e.Format, e.Args)
	if err != nil {
		return nil, err
	}
	prefix := mosquittoStamp
	if e.Level == "stderr" {
		prefix = ""
	}
	return splitLines(prefix, text), nil
}

// TestCatalogueMosquitto: every format string Mosquitto 1.4-2.1 logs at
// notice and above, and the lower-level ones that reveal a fault, is
// explained by a signature or judged benign (signatures/catalogue/README.md).
func TestCatalogueMosquitto(t *testing.T) {
	checkCatalogue(t, "mosquitto", renderMosquitto)
}
