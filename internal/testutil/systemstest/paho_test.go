package systemstest

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
)

// -capture DIR writes what the Paho clients logged to DIR/paho-*.log
// (make paho-log writes examples/logs/).
var captureDir = flag.String("capture", "", "write the Paho clients' logs to this directory (make paho-log)")

// Capture files, one per client library. The versions are Debian's
// packages the tests run: python3-paho-mqtt 1.6.1, libpaho-mqtt1.3 1.3.12
// (whose trace header says "Version: 1.3.11", the version string of its
// build).
const (
	pyCapture = "paho-mqtt-1.6.1-python.log"
	cCapture  = "paho-c-1.3.12.log"
)

var logs captures

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if *captureDir != "" && code == 0 {
		for name, b := range logs.files {
			if err := os.WriteFile(filepath.Join(*captureDir, name), b.Bytes(), 0o644); err != nil {
				fmt.Fprintln(os.Stderr, err)
				code = 1
			}
		}
	}
	os.Exit(code)
}

// pythonWithPaho returns a python3 that imports paho.mqtt.client. Debian's
// python3-paho-mqtt installs into /usr/bin/python3's dist-packages, which
// a python3 earlier on PATH (pyenv, a venv) may not see.
func pythonWithPaho(t *testing.T) string {
	t.Helper()
	cands := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	for _, p := range cands {
		if exec.Command(p, "-c", "import paho.mqtt.client").Run() == nil {
			return p
		}
	}
	skipOrFail(t, "no python3 that imports paho.mqtt.client (Debian package python3-paho-mqtt)")
	return ""
}

var (
	pahoCOnce sync.Once
	pahoCBin  string
	pahoCErr  error
	pahoCDir  string
)

// pahoC compiles testdata/pahoapp.c against Debian's libpaho-mqtt (the
// synchronous client with OpenSSL, -lpaho-mqtt3cs) once per test binary.
func pahoC(t *testing.T) string {
	t.Helper()
	gcc := brokertest.RequireTool(t, "gcc")
	pahoCOnce.Do(func() {
		pahoCDir, pahoCErr = os.MkdirTemp("", "pahoapp")
		if pahoCErr != nil {
			return
		}
		src, _ := filepath.Abs("testdata/pahoapp.c")
		bin := filepath.Join(pahoCDir, "pahoapp")
		out, err := exec.Command(gcc, "-O1", "-o", bin, src, "-lpaho-mqtt3cs").CombinedOutput()
		if err != nil {
			pahoCErr = fmt.Errorf("%v: %s", err, out)
			return
		}
		pahoCBin = bin
	})
	if pahoCErr != nil {
		skipOrFail(t, "cannot build a Paho C program (Debian packages libpaho-mqtt-dev and gcc): %v", pahoCErr)
	}
	return pahoCBin
}

// py starts the paho-mqtt application testdata/pahoapp.py with args and
// its log at logPath.
func py(t *testing.T, python, logPath string, args ...string) *client {
	t.Helper()
	script, _ := filepath.Abs("testdata/pahoapp.py")
	return start(t, exec.Command(python, append([]string{script, "--log", logPath}, args...)...), logPath)
}

// cApp starts the Paho C program with the library's trace at level on
// stdout, into logPath.
func cApp(t *testing.T, bin, level, logPath string, args ...string) *client {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "MQTT_C_CLIENT_TRACE=ON", "MQTT_C_CLIENT_TRACE_LEVEL="+level)
	return start(t, cmd, logPath)
}

func addr(b *broker, scheme string) string { return fmt.Sprintf("%s://127.0.0.1:%d", scheme, b.Port) }

// checkDetected fails unless the log's lines tell the Paho system.
func checkDetected(t *testing.T, system string) {
	t.Helper()
	if system != brokerlog.Paho {
		t.Errorf("the client's log was detected as %q, want %q", system, brokerlog.Paho)
	}
}

// TestPahoPython provokes faults with paho-mqtt 1.6.1 (client.py,
// connack_string and error_string at v1.6.1) against a real mosquitto and
// checks what the built-in pack makes of the application's log.
func TestPahoPython(t *testing.T) {
	python := pythonWithPaho(t)
	m := builtinMatcher(t)
	dir := t.TempDir()
	run := func(t *testing.T, name string, scenario func(t *testing.T, log string), wants []want, allowed ...string) {
		t.Run(name, func(t *testing.T) {
			log := filepath.Join(dir, name+".log")
			scenario(t, log)
			hits, system := diagnose(t, m, log)
			// paho-mqtt logs nothing when connect() fails before CONNECT
			// (a TLS error): only the application's line tells.
			if name != "tls-untrusted-server" {
				checkDetected(t, system)
			}
			checkHits(t, hits, wants, allowed...)
			if t.Failed() {
				b, _ := os.ReadFile(log)
				t.Logf("the client's log:\n%s", tail(b, 4000))
			}
			logs.add(t, pyCapture, name, log)
		})
	}

	// allow_anonymous false and no password file: every CONNECT is refused
	// with CONNACK 5 (MQTT 3.1.1) or 0x87 (MQTT 5).
	run(t, "refused", func(t *testing.T, log string) {
		b := startBroker(t, "allow_anonymous false")
		py(t, python, log, "--port", fmt.Sprint(b.Port), "--id", "py-refused", "--once").wait(t)
	}, []want{{"paho/connack-not-authorised", map[string]string{"reason": "Connection Refused: not authorised."}},
		{"paho/connack-not-authorised", map[string]string{"rc": "5"}},
		// _handle_connack returns MQTT_ERR_CONN_REFUSED for codes 1-5
		// (client.py:3210-3211@v1.6.1), which on_disconnect prints.
		{"paho/connection-refused", map[string]string{"reason": "The connection was refused."}}})
	run(t, "refused-mqtt5", func(t *testing.T, log string) {
		b := startBroker(t, "allow_anonymous false")
		py(t, python, log, "--port", fmt.Sprint(b.Port), "--id", "py-refused5", "--v5", "--once").wait(t)
	}, []want{{"paho/connack-not-authorised", map[string]string{"rc": "Not authorized"}},
		// paho-mqtt 1.6.1 returns MQTT_ERR_PROTOCOL for a refusal code of
		// 6 and above (client.py:3212-3213@v1.6.1).
		{"paho/protocol-error", map[string]string{"reason": "A network protocol error occurred when communicating with the broker."}}})

	// Two clients with one id take the session from each other in a loop;
	// with MQTT 3.1.1 each only sees its connection lost. The broker's own
	// log says it is a takeover.
	run(t, "takeover-loop", func(t *testing.T, log string) {
		b := startBroker(t, "allow_anonymous true")
		a := py(t, python, log, "--port", fmt.Sprint(b.Port), "--id", "py-dup")
		waitLines(t, log, `connected: Connection Accepted`, 1)
		other := py(t, python, log+".other", "--port", fmt.Sprint(b.Port), "--id", "py-dup")
		waitLines(t, log, `unexpected disconnect: The connection was lost\.`, 2)
		a.stop()
		other.stop()
		bh, _ := diagnose(t, m, b.Log)
		checkHits(t, bh, []want{{"communication/mqtt-publish-identifier-already-in-use", map[string]string{"client_id": "py-dup"}}},
			"mosquitto/client-connection-lost", "mosquitto/client-socket-error")
	}, []want{{"paho/connection-lost", map[string]string{"reason": "The connection was lost."}}})

	// The broker stops answering (SIGSTOP): the client's PINGREQ goes
	// unanswered and paho closes the connection with MQTT_ERR_KEEPALIVE.
	run(t, "keepalive", func(t *testing.T, log string) {
		b := startBroker(t, "allow_anonymous true")
		c := py(t, python, log, "--port", fmt.Sprint(b.Port), "--id", "py-ka", "--keepalive", "1")
		waitLines(t, log, `Received PINGRESP`, 1)
		b.pause(t)
		waitLines(t, log, `did not communicate in the keepalive interval`, 1)
		b.resume(t)
		c.stop()
	}, []want{{"paho/keepalive-timeout", nil}})

	// TLS: a server certificate signed by a CA the client does not trust,
	// and a plain client on the TLS port.
	run(t, "tls-untrusted-server", func(t *testing.T, log string) {
		b, certs := tlsBroker(t)
		py(t, python, log, "--port", fmt.Sprint(b.Port), "--id", "py-tls", "--ca", certs.ForeignCA, "--once").wait(t)
	}, []want{{"paho/tls-certificate-verify-failed", map[string]string{"reason": "self-signed certificate in certificate chain"}}})
	run(t, "tls-plain-client", func(t *testing.T, log string) {
		b, _ := tlsBroker(t)
		c := py(t, python, log, "--port", fmt.Sprint(b.Port), "--id", "py-plain")
		waitLines(t, log, `unexpected disconnect: The connection was lost\.`, 1)
		c.stop()
	}, []want{{"paho/connection-lost", map[string]string{"reason": "The connection was lost."}}})
}

// TestPahoC provokes faults with a program on Debian's Paho C library
// (MQTTClient, trace via MQTT_C_CLIENT_TRACE, src/Log.c and src/Messages.c
// of v1.3.12) against a real mosquitto.
func TestPahoC(t *testing.T) {
	bin := pahoC(t)
	m := builtinMatcher(t)
	dir := t.TempDir()
	run := func(t *testing.T, name string, scenario func(t *testing.T, log string), wants []want, allowed ...string) {
		t.Run(name, func(t *testing.T) {
			log := filepath.Join(dir, name+".log")
			scenario(t, log)
			hits, system := diagnose(t, m, log)
			checkDetected(t, system)
			checkHits(t, hits, wants, allowed...)
			if t.Failed() {
				b, _ := os.ReadFile(log)
				t.Logf("the client's log:\n%s", tail(b, 4000))
			}
			logs.add(t, cCapture, name, log)
		})
	}

	run(t, "refused", func(t *testing.T, log string) {
		b := startBroker(t, "allow_anonymous false")
		cApp(t, bin, "PROTOCOL", log, addr(b, "tcp"), "c-refused", "60", "1").wait(t)
	}, []want{{"paho/connack-not-authorised", map[string]string{"client_id": "c-refused", "rc": "5"}},
		{"paho/connack-not-authorised", map[string]string{"rc": "5", "reason": "Failed to connect, return code 5"}}})

	// At trace level MINIMUM the library names the client whose connection
	// was lost.
	run(t, "takeover-loop", func(t *testing.T, log string) {
		b := startBroker(t, "allow_anonymous true")
		a := cApp(t, bin, "MINIMUM", log, addr(b, "tcp"), "c-dup", "60", "60")
		waitLines(t, log, `c-dup <- CONNACK rc: 0`, 1)
		other := cApp(t, bin, "MINIMUM", log+".other", addr(b, "tcp"), "c-dup", "60", "60")
		waitLines(t, log, `Calling connectionLost for client c-dup`, 2)
		a.stop()
		other.stop()
	}, []want{{"paho/connection-lost", map[string]string{"client_id": "c-dup"}}})

	run(t, "keepalive", func(t *testing.T, log string) {
		b := startBroker(t, "allow_anonymous true")
		c := cApp(t, bin, "PROTOCOL", log, addr(b, "tcp"), "c-ka", "1", "60")
		waitLines(t, log, `c-ka <- PINGRESP`, 1)
		b.pause(t)
		waitLines(t, log, `PINGRESP not received in keepalive interval`, 1)
		b.resume(t)
		c.stop()
	}, []want{{"paho/keepalive-timeout", map[string]string{"client_id": "c-ka"}}},
		"paho/connection-lost")

	run(t, "tls-untrusted-server", func(t *testing.T, log string) {
		b, certs := tlsBroker(t)
		cApp(t, bin, "PROTOCOL", log, addr(b, "ssl"), "c-tls", "60", "1", certs.ForeignCA).wait(t)
	}, []want{{"paho/tls-certificate-verify-failed", map[string]string{"reason": "unknown CA"}}})
	// With TLS 1.3 the client's side of the handshake ends first; the
	// broker's alert and close race the client's CONNECT. Either the client
	// reads the alert, or its CONNECT write fails (-1) and it never does
	// (seen in CI on 2026-12-05). Both must be diagnosed, and at least one is.
	run(t, "tls-client-certificate-required", func(t *testing.T, log string) {
		b, certs := tlsBroker(t, "require_certificate true")
		cApp(t, bin, "PROTOCOL", log, addr(b, "ssl"), "c-nocert", "60", "1", certs.CA).wait(t)
	}, []want{{"paho/tls-handshake-refused-by-broker|paho/connect-write-failed", nil}})
}

// tlsBroker starts mosquitto with a TLS listener (brokertest's PKI) and
// anonymous access.
func tlsBroker(t *testing.T, extra ...string) (*broker, brokertest.Certs) {
	t.Helper()
	certs := brokertest.WriteCerts(t, t.TempDir())
	conf := append([]string{"allow_anonymous true", "cafile " + certs.CA, "certfile " + certs.Server, "keyfile " + certs.ServerKey}, extra...)
	return startBroker(t, conf...), certs
}
