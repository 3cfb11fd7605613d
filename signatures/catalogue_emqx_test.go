package signatures_test

import (
	"strings"
	"testing"

	"github.com/mqttdiag/mqttdiag/internal/catalogue"
)

// Lines as EMQX writes them are rendered by catalogue.RenderEMQX.
var (
	emqx42Stamp   = catalogue.EMQX42Stamp
	emqx43Stamp   = catalogue.EMQX43Stamp
	emqx5Stamp    = catalogue.EMQX5Stamp
	emqx5JSONTime = catalogue.EMQX5JSONTime
	emqx4Client   = catalogue.EMQX4Client
	renderEMQX    = catalogue.RenderEMQX
)

// TestCatalogueEMQX: every log format and report msg EMQX 4.2-4.4 and
// 5.0-5.8 writes at notice and above, and the lower-level ones that reveal
// a fault, is explained by a signature or judged benign
// (signatures/catalogue/README.md).
func TestCatalogueEMQX(t *testing.T) {
	checkCatalogue(t, "emqx", renderEMQX)
}

func TestRenderEMQX(t *testing.T) {
	lines, err := renderEMQX(catalogue.Entry{Format: "msg: failed_to_start_listener", Level: "error", Versions: []string{"5.8"},
		Args: []string{"listener: tcp:default", "reason: eaddrinuse"}})
	want := []string{
		emqx5Stamp + "[error] msg: failed_to_start_listener, listener: tcp:default, reason: eaddrinuse",
		`{"time":` + emqx5JSONTime + `,"level":"error","msg":"failed_to_start_listener","listener":"tcp:default","reason":"eaddrinuse"}`,
	}
	if err != nil || strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("report: %q, %v\nwant %q", lines, err, want)
	}
	lines, err = renderEMQX(catalogue.Entry{Format: "[Channel] Client ~s refused:~n~p~n", Level: "warning", Versions: []string{"4.2", "4.4"}})
	want = []string{
		emqx42Stamp + "[warning] [Channel] Client sensor-1 refused:",
		"econnrefused",
		emqx43Stamp + "[warning] " + emqx4Client + "[Channel] Client sensor-1 refused:, econnrefused",
	}
	if err != nil || strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("format: %q, %v\nwant %q", lines, err, want)
	}
	if _, err := renderEMQX(catalogue.Entry{Format: "x", Level: "error", Versions: []string{"3.2"}}); err == nil {
		t.Error("a 3.x version rendered")
	}
}
