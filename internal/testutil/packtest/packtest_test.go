package packtest

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
)

var captureTo = flag.String("capture", "", "write every provoker's broker output to this file (make fault-log)")

// provoker makes a real mosquitto print the line of one signature.
type provoker struct {
	id   string // the signature that must fire
	desc string // what is done to the broker, for the capture file
	// fields are captures that at least one hit of id must carry, exactly.
	fields map[string]string
	// also are other signatures that may fire on the scenario's lines:
	// the faults that come with this one (a TLS failure is followed by a
	// socket error), never normal traffic.
	also []string
	run  func(t *testing.T) output
}

// output is what the scenario's broker(s) printed.
type output struct {
	Log    string // log file(s)
	Stderr string // stderr, where mosquitto writes before its log is open
}

var (
	packOnce sync.Once
	pack     *signatures.Pack
	match    *matcher.Matcher
	packErr  error
)

// builtin is the real matcher over the built-in pack, as mqttdiag runs it.
func builtin(t testing.TB) (*signatures.Pack, *matcher.Matcher) {
	t.Helper()
	packOnce.Do(func() {
		var sigs []*signatures.Signature
		if sigs, packErr = signatures.Builtin(); packErr != nil {
			return
		}
		if pack, packErr = signatures.NewPack(sigs); packErr != nil {
			return
		}
		match, packErr = matcher.New(pack.Signatures())
	})
	if packErr != nil {
		t.Fatal(packErr)
	}
	return pack, match
}

// hit is one signature firing on one line.
type hit struct {
	line   string
	id     string
	fields map[string]string
}

// diagnose runs the matcher over every line of text, as the pipeline does:
// the timestamp prefix is split off first.
func diagnose(t testing.TB, text string) []hit {
	_, m := builtin(t)
	var hits []hit
	for _, line := range strings.Split(text, "\n") {
		if line == "" {
			continue
		}
		msg, _, _ := brokerlog.Split(line)
		for _, h := range m.Match(msg) {
			hits = append(hits, hit{line: line, id: h.Signature.ID, fields: h.Fields})
		}
	}
	return hits
}

var (
	capMu    sync.Mutex
	captured = map[string]string{}
)

func TestProvokers(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range provokers {
		if seen[p.id] {
			t.Fatalf("two provokers for %s", p.id)
		}
		seen[p.id] = true
	}
	t.Run("group", func(t *testing.T) {
		for _, p := range provokers {
			t.Run(strings.TrimPrefix(p.id, "mosquitto/"), func(t *testing.T) {
				t.Parallel()
				out := p.run(t)
				checkHits(t, p, out)
				text := section(p, out)
				if *captureTo != "" {
					// Two independent runs, so that every example line of
					// a signature is backed by two real occurrences.
					text += section(p, p.run(t))
				}
				capMu.Lock()
				captured[p.id] = text
				capMu.Unlock()
			})
		}
	})
	// What the broker printed is real even when a check failed, so the
	// capture is written either way.
	if *captureTo == "" {
		return
	}
	ids := make([]string, 0, len(captured))
	for id := range captured {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	b.WriteString("# Real output of mosquitto for each fault of the built-in pack, one section per provoker.\n")
	b.WriteString("# Written by `make fault-log` (go test ./internal/testutil/packtest -run TestProvokers -args -capture=FILE).\n")
	b.WriteString("# '# -- stderr' sections are what mosquitto printed before its log file was open.\n")
	for _, id := range ids {
		b.WriteString(captured[id])
	}
	if err := os.WriteFile(*captureTo, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d sections to %s", len(ids), *captureTo)
}

func section(p provoker, out output) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# == %s: %s\n", p.id, p.desc)
	for _, part := range []struct{ name, text string }{{"log", out.Log}, {"stderr", out.Stderr}} {
		text := strings.TrimRight(part.text, "\n")
		if text == "" {
			continue
		}
		fmt.Fprintf(&b, "# -- %s\n%s\n", part.name, text)
	}
	return b.String()
}

// checkHits asserts that p's signature fired with p's fields, and that
// nothing fired that p does not expect.
func checkHits(t *testing.T, p provoker, out output) {
	t.Helper()
	allowed := map[string]bool{p.id: true}
	// Run as root, every broker of these tests has `user root` and prints
	// the root warning on stderr.
	if os.Geteuid() == 0 {
		allowed["mosquitto/startup-running-as-root"] = true
	}
	for _, id := range p.also {
		allowed[id] = true
	}
	pk, _ := builtin(t)
	waits := func(id string) bool { s, ok := pk.Lookup(id); return ok && s.Expects != nil }
	found := false
	var got []string
	for _, h := range diagnose(t, out.Log+"\n"+out.Stderr) {
		// A signature with expects does not diagnose its line: the line
		// starts a wait (a bridge's step 1 before its step 2).
		if !allowed[h.id] && !waits(h.id) {
			t.Errorf("unexpected %s on %q", h.id, h.line)
		}
		if h.id != p.id {
			continue
		}
		got = append(got, fmt.Sprintf("%q %v", h.line, h.fields))
		ok := true
		for k, v := range p.fields {
			if h.fields[k] != v {
				ok = false
			}
		}
		found = found || ok
	}
	if !found {
		t.Errorf("%s did not fire with fields %v; its hits: %v", p.id, p.fields, got)
	}
}

// Every Mosquitto signature verified on a real broker has a provoker, and
// every provoker names a signature of the pack.
func TestEveryVerifiedSignatureHasAProvoker(t *testing.T) {
	p, _ := builtin(t)
	have := map[string]bool{}
	for _, pr := range provokers {
		have[pr.id] = true
		if _, ok := p.Lookup(pr.id); !ok {
			t.Errorf("provoker for %s, which is not in the pack", pr.id)
		}
	}
	n := 0
	for _, s := range p.Signatures() {
		if s.Broker != signatures.BrokerMosquitto || s.VerificationTier != "verified_real_broker" {
			continue
		}
		n++
		if !have[s.ID] && !seedProvoked[s.ID] {
			t.Errorf("%s is verified_real_broker but has no provoker", s.ID)
		}
	}
	t.Logf("%d verified Mosquitto signatures, %d provokers", n, len(provokers))
}

// seedProvoked are the seed signatures, provoked by internal/brokertest's
// sample-log scenario (examples/logs/mosquitto-2.0.11.log).
var seedProvoked = map[string]bool{
	"communication/mqtt-packet-identifier-in-use":          true,
	"communication/mqtt-publish-identifier-already-in-use": true,
	"communication/mqtt-publish-identifier-in-use":         true,
}

// provokers is every scenario, by fault family.
var provokers = concat(clientProvokers, tlsProvokers, brokerProvokers, absenceProvokers)

func concat(groups ...[]provoker) []provoker {
	var all []provoker
	for _, g := range groups {
		all = append(all, g...)
	}
	return all
}
