// Package loggen writes deterministic, realistic Mosquitto 2.x logs for
// benchmarks: a busy broker at `log_type all` with thousands of clients
// connecting, subscribing and publishing at QoS 0, 1 and 2, about 1 % of
// lines being faults and about 1 % carrying UTF-8 client ids or topics.
// Lines repeat with variation (message ids, ports, payload sizes), as on a
// real broker. The wording of every line is Mosquitto 2.0's, as captured
// from a real broker (examples/logs, and the research captures the mix was
// shaped on); the same seed gives the same bytes on every machine.
package loggen

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// Version changes whenever the output for a given seed changes, so that
// cached files are regenerated.
const Version = 1

type options struct {
	seed    uint64
	start   int64
	clients int
}

// Option configures the generator.
type Option func(*options)

// Seed sets the random seed (default 1).
func Seed(s uint64) Option { return func(o *options) { o.seed = s } }

// Clients sets the number of distinct clients (default 5000).
func Clients(n int) Option { return func(o *options) { o.clients = max(n, 10) } }

// Write writes n lines to w.
func Write(w io.Writer, n int, opts ...Option) error {
	o := options{seed: 1, start: 1_795_000_000, clients: 5000}
	for _, opt := range opts {
		opt(&o)
	}
	g := newGen(o)
	g.limit = n
	bw := bufio.NewWriterSize(w, 1<<16)
	for g.lines < n {
		g.event(bw)
	}
	return bw.Flush()
}

// Ensure returns the path of an n-line log in dir, generating it first if
// it is not there yet. The name carries Version and the seed.
func Ensure(dir string, n int, opts ...Option) (string, error) {
	o := options{seed: 1}
	for _, opt := range opts {
		opt(&o)
	}
	path := filepath.Join(dir, fmt.Sprintf("mosquitto-v%d-s%d-%d.log", Version, o.seed, n))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("benchmark log: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("benchmark log directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".gen-*")
	if err != nil {
		return "", fmt.Errorf("benchmark log: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := Write(tmp, n, opts...); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write benchmark log %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("write benchmark log %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("benchmark log: %w", err)
	}
	return path, nil
}

// DefaultDir is where benchmarks keep generated logs: $MQTTDIAG_BENCH_DIR,
// else mqttdiag-bench in the user's cache directory.
func DefaultDir() string {
	if d := os.Getenv("MQTTDIAG_BENCH_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "mqttdiag-bench")
	}
	return filepath.Join(os.TempDir(), "mqttdiag-bench")
}

type client struct {
	id        string
	addr      string
	proto     int // 4 (MQTT 3.1.1, "p2" in the log) or 5
	connected bool
	subs      []string
	mid       int
	pubTopic  string
	size      int // payload size: a device sends the same shape of payload
}

type gen struct {
	rng     *rand.Rand
	now     int64
	lines   int
	limit   int // lines to write; events are cut there
	clients []*client
	subs    []*client // connected subscribers
	topics  []string
}

var (
	utf8Words  = []string{"küche", "capteur-é", "датчик", "传感器", "sensör-ü", "niño", "größe", "ŁÓDŹ", "θερμό", "セン"}
	prefixes   = []string{"sensor", "gw", "meter", "plc", "dash", "edge", "hvac", "pump", "cam", "tracker"}
	sites      = []string{"plant", "site", "building", "farm", "fleet"}
	metrics    = []string{"temp", "humidity", "pressure", "state", "power", "telemetry", "status", "alarm"}
	faultLines = []func(g *gen, c *client) string{
		func(g *gen, c *client) string {
			return "Client " + c.id + " already connected, closing old connection."
		},
		func(g *gen, c *client) string { return "Client " + c.id + " disconnected, session taken over." },
		func(g *gen, c *client) string { return "Client " + c.id + " has exceeded timeout, disconnecting." },
		func(g *gen, c *client) string { return "Client <unknown> disconnected, not authorised." },
		func(g *gen, c *client) string { return "Sending CONNACK to " + c.id + " (0, 5)" },
		func(g *gen, c *client) string { return "Sending CONNACK to " + c.id + " (0, 2)" },
		func(g *gen, c *client) string { return "Client " + c.id + " disconnected due to protocol error." },
		func(g *gen, c *client) string { return "Client <unknown> disconnected due to protocol error." },
		func(g *gen, c *client) string { return "Client " + c.id + " disconnected due to oversize packet." },
		func(g *gen, c *client) string { return "Outgoing messages are being dropped for client " + c.id + "." },
		func(g *gen, c *client) string {
			return fmt.Sprintf("Denied PUBLISH from %s (d0, q%d, r0, m%d, 'denied/%s', ... (%d bytes))", c.id, g.rng.IntN(3), g.rng.IntN(65535)+1, c.id, g.rng.IntN(200))
		},
		func(g *gen, c *client) string {
			return "Client connection from " + strings.Split(c.addr, ":")[0] + " denied: max_connections exceeded."
		},
		func(g *gen, c *client) string {
			return "OpenSSL Error[0]: error:0A000086:SSL routines::certificate verify failed"
		},
		func(g *gen, c *client) string {
			return fmt.Sprintf("Received PUBACK from %s (Mid: %d, RC:145)", c.id, g.rng.IntN(65535)+1)
		},
		func(g *gen, c *client) string {
			return "Invalid protocol version 7 in CONNECT from " + strings.Split(c.addr, ":")[0] + "."
		},
		func(g *gen, c *client) string { return "Socket error on client " + c.id + ", disconnecting." },
		func(g *gen, c *client) string {
			return "Error saving in-memory database, unable to open /var/lib/mosquitto/mosquitto.db.new for writing."
		},
		func(g *gen, c *client) string { return "Client " + c.id + " disconnected: Protocol error." },
		func(g *gen, c *client) string { return "Connection Refused: not authorised" },
		func(g *gen, c *client) string {
			return fmt.Sprintf("Dropped too large PUBLISH from %s (d0, q1, r0, m%d, 'big/t', ... (%d bytes))", c.id, g.rng.IntN(65535)+1, 300000+g.rng.IntN(1000000))
		},
	}
)

func newGen(o options) *gen {
	g := &gen{rng: rand.New(rand.NewPCG(o.seed, 0x6d717474)), now: o.start}
	for i := 0; i < 200; i++ {
		t := fmt.Sprintf("%s/%d/%s/%s", sites[i%len(sites)], i/len(sites), prefixes[i%len(prefixes)], metrics[i%len(metrics)])
		if i%97 == 13 {
			t = fmt.Sprintf("%s/%s/%s", sites[i%len(sites)], utf8Words[i%len(utf8Words)], metrics[i%len(metrics)])
		}
		g.topics = append(g.topics, t)
	}
	for i := 0; i < o.clients; i++ {
		var id string
		switch {
		case i%101 == 7:
			id = fmt.Sprintf("%s-%d", utf8Words[g.rng.IntN(len(utf8Words))], i)
		case i%10 == 3:
			id = fmt.Sprintf("mqttjs_%08x", g.rng.Uint32())
		case i%10 == 5:
			id = fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", g.rng.Uint32(), g.rng.IntN(1<<16), g.rng.IntN(1<<12), g.rng.IntN(1<<16), g.rng.Uint64()&(1<<48-1))
		default:
			id = fmt.Sprintf("%s-%s-%04d", prefixes[g.rng.IntN(len(prefixes))], sites[g.rng.IntN(len(sites))], i)
		}
		c := &client{id: id, proto: 4, pubTopic: g.topics[g.rng.IntN(len(g.topics))], size: 8 + g.rng.IntN(120)}
		if g.rng.IntN(4) == 0 {
			c.proto = 5
		}
		// The log starts on a broker that has been up for a while: most
		// clients are connected and one in twenty is subscribed.
		if g.rng.IntN(10) != 0 {
			c.connected = true
			c.addr = fmt.Sprintf("10.%d.%d.%d:%d", g.rng.IntN(4), g.rng.IntN(256), 1+g.rng.IntN(254), 32768+g.rng.IntN(28000))
			if g.rng.IntN(20) == 0 {
				c.subs = []string{g.topics[g.rng.IntN(len(g.topics))]}
				g.subs = append(g.subs, c)
			}
		}
		g.clients = append(g.clients, c)
	}
	return g
}

func (g *gen) emit(w *bufio.Writer, msg string) {
	if g.lines >= g.limit {
		return
	}
	if g.rng.IntN(400) == 0 {
		g.now++
	}
	fmt.Fprintf(w, "%d: %s\n", g.now, msg)
	g.lines++
}

func (g *gen) event(w *bufio.Writer) {
	if g.lines == 0 {
		for _, l := range []string{
			"mosquitto version 2.0.18 starting",
			"Config loaded from /etc/mosquitto/mosquitto.conf.",
			"Opening ipv4 listen socket on port 1883.",
			"Opening ipv6 listen socket on port 1883.",
			"mosquitto version 2.0.18 running",
		} {
			g.emit(w, l)
		}
	}
	c := g.clients[g.rng.IntN(len(g.clients))]
	switch r := g.rng.IntN(1000); {
	case r < 40:
		g.emit(w, faultLines[g.rng.IntN(len(faultLines))](g, c))
	case !c.connected || r < 55:
		g.connect(w, c)
	case r < 70 && len(c.subs) < 3:
		g.subscribe(w, c)
	case r < 130:
		g.emit(w, "Received PINGREQ from "+c.id)
		g.emit(w, "Sending PINGRESP to "+c.id)
	case r < 140:
		g.disconnect(w, c)
	case r < 141:
		g.emit(w, "Saving in-memory database to /var/lib/mosquitto/mosquitto.db.")
	default:
		g.publish(w, c)
	}
}

func (g *gen) connect(w *bufio.Writer, c *client) {
	if c.connected {
		g.disconnect(w, c)
	}
	c.addr = fmt.Sprintf("10.%d.%d.%d:%d", g.rng.IntN(4), g.rng.IntN(256), 1+g.rng.IntN(254), 32768+g.rng.IntN(28000))
	g.emit(w, fmt.Sprintf("New connection from %s on port 1883.", c.addr))
	p := 2
	if c.proto == 5 {
		p = 5
	}
	g.emit(w, fmt.Sprintf("New client connected from %s as %s (p%d, c%d, k%d).", c.addr, c.id, p, g.rng.IntN(2), []int{30, 60, 60, 120}[g.rng.IntN(4)]))
	if g.rng.IntN(10) == 0 {
		g.emit(w, fmt.Sprintf("Will message specified (%d bytes) (r%d, q%d).", 5+g.rng.IntN(40), g.rng.IntN(2), g.rng.IntN(3)))
		g.emit(w, "\t"+c.pubTopic+"/will")
	} else {
		g.emit(w, "No will message specified.")
	}
	g.emit(w, "Sending CONNACK to "+c.id+" (0, 0)")
	c.connected = true
}

func (g *gen) disconnect(w *bufio.Writer, c *client) {
	if !c.connected {
		return
	}
	if g.rng.IntN(5) == 0 {
		g.emit(w, "Client "+c.id+" closed its connection.")
	} else {
		g.emit(w, "Received DISCONNECT from "+c.id)
		g.emit(w, "Client "+c.id+" disconnected.")
	}
	c.connected = false
	if len(c.subs) > 0 {
		for i, s := range g.subs {
			if s == c {
				g.subs = append(g.subs[:i], g.subs[i+1:]...)
				break
			}
		}
		c.subs = nil
	}
}

func (g *gen) subscribe(w *bufio.Writer, c *client) {
	t := g.topics[g.rng.IntN(len(g.topics))]
	if g.rng.IntN(3) == 0 {
		t = t[:strings.IndexByte(t, '/')] + "/#"
	}
	q := g.rng.IntN(3)
	g.emit(w, "Received SUBSCRIBE from "+c.id)
	g.emit(w, fmt.Sprintf("\t%s (QoS %d)", t, q))
	g.emit(w, fmt.Sprintf("%s %d %s", c.id, q, t))
	g.emit(w, "Sending SUBACK to "+c.id)
	if len(c.subs) == 0 {
		g.subs = append(g.subs, c)
	}
	c.subs = append(c.subs, t)
}

func (g *gen) nextMid(c *client) int {
	c.mid = c.mid%65535 + 1
	return c.mid
}

// publish is one PUBLISH with its QoS flow and its fan-out to up to four
// subscribers, each with its own QoS flow.
func (g *gen) publish(w *bufio.Writer, c *client) {
	q := []int{0, 0, 0, 1, 1, 2}[g.rng.IntN(6)]
	size := c.size
	if g.rng.IntN(10) == 0 {
		size += g.rng.IntN(20)
	}
	mid := 0
	if q > 0 {
		mid = g.nextMid(c)
	}
	topic := c.pubTopic
	g.emit(w, fmt.Sprintf("Received PUBLISH from %s (d0, q%d, r%d, m%d, '%s', ... (%d bytes))", c.id, q, b2i(g.rng.IntN(20) == 0), mid, topic, size))
	switch q {
	case 1:
		g.emit(w, fmt.Sprintf("Sending PUBACK to %s (m%d, rc0)", c.id, mid))
	case 2:
		g.emit(w, fmt.Sprintf("Sending PUBREC to %s (m%d, rc0)", c.id, mid))
		g.emit(w, fmt.Sprintf("Received PUBREL from %s (Mid: %d)", c.id, mid))
		g.emit(w, fmt.Sprintf("Sending PUBCOMP to %s (m%d)", c.id, mid))
	}
	for n := g.rng.IntN(5); n > 0 && len(g.subs) > 0; n-- {
		s := g.subs[g.rng.IntN(len(g.subs))]
		sq := min(q, g.rng.IntN(3))
		smid := 0
		if sq > 0 {
			smid = g.nextMid(s)
		}
		g.emit(w, fmt.Sprintf("Sending PUBLISH to %s (d0, q%d, r0, m%d, '%s', ... (%d bytes))", s.id, sq, smid, topic, size))
		switch sq {
		case 1:
			g.emit(w, fmt.Sprintf("Received PUBACK from %s (Mid: %d, RC:0)", s.id, smid))
		case 2:
			g.emit(w, fmt.Sprintf("Received PUBREC from %s (Mid: %d)", s.id, smid))
			g.emit(w, fmt.Sprintf("Sending PUBREL to %s (m%d)", s.id, smid))
			g.emit(w, fmt.Sprintf("Received PUBCOMP from %s (Mid: %d, RC:0)", s.id, smid))
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
