package packtest

import (
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
)

// absenceProvokers make a real mosquitto print the line of a signature
// with expects and then not the line it expects: what they capture is the
// silence itself. The deadline is checked end to end on a real broker by
// cmd/mqttdiag's TestBridgeAbsenceRealBroker.
var absenceProvokers = []provoker{
	{
		id:     "mosquitto/bridge-resolve-stuck",
		desc:   "bridge to broker.invalid (RFC 2606), a name that never resolves: step 1 again every restart_timeout, never step 2",
		fields: map[string]string{"bridge": "br-stuck", "host": "broker.invalid"},
		also:   []string{"mosquitto/bridge-address-unresolvable"},
		run: func(t *testing.T) output {
			local := start(t, lines(
				"connection br-stuck",
				"address broker.invalid:1883",
				"local_clientid local.br-stuck",
				"remote_clientid br-stuck",
				"topic fwd/# out 0",
				"restart_timeout 1 2",
			))
			local.WaitCount(t, `Connecting bridge \(step 1\) br-stuck`, 2)
			out := local.out()
			noneFollows(t, out, `^Connecting bridge \(step 2\) br-stuck `)
			return out
		},
	},
	{
		id:     "mosquitto/bridge-connack-missing",
		desc:   "bridge to a TCP listener that accepts and never answers (log_type all): CONNECT sent, no CONNACK",
		fields: map[string]string{"client_id": "br-silent"},
		run: func(t *testing.T) output {
			port := silentRemote(t)
			local := start(t, bridgeConf(port, "br-silent", "mqttv311"))
			local.Wait(t, `Bridge br-silent sending CONNECT`)
			out := local.out()
			noneFollows(t, out, `^Received CONNACK on connection local\.br-silent\.$`)
			return out
		},
	},
}

// noneFollows fails when a line of out matches expr: the provoker's
// broker printed what should have been missing.
func noneFollows(t *testing.T, out output, expr string) {
	t.Helper()
	re := regexp.MustCompile(expr)
	for _, l := range strings.Split(out.Log, "\n") {
		if msg, _, _ := brokerlog.Split(l); re.MatchString(msg) {
			t.Errorf("%q followed: the fault did not happen", l)
		}
	}
}

// silentRemote is a bridge's remote end that accepts connections and
// never says a word.
func silentRemote(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return l.Addr().(*net.TCPAddr).Port
}
