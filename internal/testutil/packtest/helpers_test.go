package packtest

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
)

// broker is a running mosquitto with one plain listener on a free port of
// 127.0.0.1.
type broker struct {
	*brokertest.Proc
	port int
}

func (b *broker) addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

func (b *broker) out() output { return output{Log: b.Log(), Stderr: b.Stderr()} }

// start runs a broker in a new directory; see startIn.
func start(t *testing.T, conf ...string) *broker { return startIn(t, t.TempDir(), conf...) }

// startIn runs a broker in dir with log_type all, no persistence, and a
// listener on a free port that allows anonymous clients, followed by the
// given config lines (which therefore apply to that listener when they are
// per-listener options). It waits until the broker is running.
func startIn(t *testing.T, dir string, conf ...string) *broker {
	t.Helper()
	port := brokertest.FreePort(t)
	text := brokertest.LogConf() + "persistence false\n" +
		fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", port) + lines(conf...)
	p := brokertest.Launch(t, dir, text)
	p.Wait(t, `mosquitto version \S+ running`)
	return &broker{Proc: p, port: port}
}

// stopInLoop stops b with SIGTERM once its main loop is certainly
// running, so that it takes the clean way out (saving persistence on the
// way). Mosquitto 2.0.11 logs "running" and only then sets run = 1
// (src/mosquitto.c:556-561@v2.0.11): a SIGTERM in between is overwritten
// and lost, and the broker is killed after brokertest's stop deadline
// without saving. On a loaded machine the test hit that window. A CONNACK
// is sent from inside the loop, so one received proves the loop runs.
func (b *broker) stopInLoop(t *testing.T) {
	t.Helper()
	c := b.connect(t, brokertest.ConnectOpts{Level: 4, ClientID: "loop-probe", CleanStart: true})
	if err := c.Disconnect(); err != nil {
		t.Fatal(err)
	}
	waitClosed(c)
	b.Stop()
}

// launchFailing runs a broker from conf (the whole config, LogConf
// prepended) that is expected to exit at start-up, and returns what it
// printed once it has exited.
func launchFailing(t *testing.T, dir string, conf ...string) output {
	t.Helper()
	p := brokertest.Launch(t, dir, brokertest.LogConf()+lines(conf...))
	if code := p.WaitExit(t); code == 0 {
		t.Errorf("mosquitto exited with status 0, want a failure")
	}
	return output{Log: p.Log(), Stderr: p.Stderr()}
}

func lines(conf ...string) string {
	if len(conf) == 0 {
		return ""
	}
	return strings.Join(conf, "\n") + "\n"
}

// write creates a file in dir.
func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// passwd writes a mosquitto password file with mosquitto_passwd, so that
// the hashes are what the broker expects.
func passwd(t *testing.T, dir, name string, userPass ...string) {
	t.Helper()
	path := filepath.Join(dir, name)
	for i := 0; i+1 < len(userPass); i += 2 {
		args := []string{"-b", path, userPass[i], userPass[i+1]}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, err := brokertest.RunClient(t, "mosquitto_passwd", args...); err != nil {
			t.Fatalf("mosquitto_passwd: %v\n%s", err, out)
		}
	}
}

// pub runs mosquitto_pub against b; the error is returned, not fatal,
// because a refused client is what many scenarios provoke.
func (b *broker) pub(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return brokertest.RunClient(t, "mosquitto_pub", append([]string{"-h", "127.0.0.1", "-p", fmt.Sprint(b.port)}, args...)...)
}

// dial opens a raw MQTT connection to b.
func (b *broker) dial(t *testing.T) *brokertest.Raw {
	t.Helper()
	c, err := brokertest.Dial(b.addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// connect opens a raw connection and completes CONNECT/CONNACK.
func (b *broker) connect(t *testing.T, o brokertest.ConnectOpts) *brokertest.Raw {
	t.Helper()
	c := b.dial(t)
	if o.KeepAlive == 0 {
		o.KeepAlive = 60
	}
	if rc, err := c.ConnectAndWait(o); err != nil || rc != 0 {
		t.Fatalf("CONNECT %s: rc=%d err=%v", o.ClientID, rc, err)
	}
	return c
}

// send writes a packet, failing the test on error.
func send(t *testing.T, c *brokertest.Raw, p brokertest.Packet) {
	t.Helper()
	if err := c.Send(p); err != nil {
		t.Fatal(err)
	}
}

// waitClosed reads until the broker closes the connection.
func waitClosed(c *brokertest.Raw) {
	for {
		if _, err := c.Read(10 * time.Second); err != nil {
			return
		}
	}
}

// publish builds a PUBLISH. props is nil for MQTT 3.1.1, the raw
// properties (without their length) for MQTT 5.
func publish(topic string, qos byte, mid uint16, payload []byte, props []byte) brokertest.Packet {
	body := brokertest.Str(topic)
	if qos > 0 {
		body = binary.BigEndian.AppendUint16(body, mid)
	}
	if props != nil {
		body = append(body, byte(len(props)))
		body = append(body, props...)
	}
	return brokertest.Packet{Header: 0x30 | qos<<1, Body: append(body, payload...)}
}

// connectFlags is a CONNECT with extra bits or'ed into its flags byte and
// extra bytes appended to its payload, for the malformed CONNECTs no
// client library sends.
func connectFlags(o brokertest.ConnectOpts, or byte, tail []byte) brokertest.Packet {
	p := brokertest.Connect(o)
	name := o.ProtocolName
	if name == "" {
		name = "MQTT"
	}
	p.Body[2+len(name)+1] |= or
	p.Body = append(p.Body, tail...)
	return p
}

func str(s string) *string { return &s }
