package brokertest

import (
	"fmt"
	"regexp"
	"testing"
	"time"
)

// NormalTraffic runs what a healthy broker sees: subscribers at each QoS,
// publishers at QoS 0, 1 and 2, retained messages, a will, an unsubscribe
// and clean disconnects. It returns when the broker has logged the last
// publish. Nothing here is a fault.
func (m *Mosquitto) NormalTraffic(t testing.TB, publishes int) {
	t.Helper()
	// Client ids are unique per round: reusing a connected id would be a
	// takeover, which is a fault.
	m.rounds++
	r := m.rounds
	from := m.LogSize(t)
	for q := 0; q <= 2; q++ {
		m.Sub(t, "-i", fmt.Sprintf("dashboard-%d-q%d", r, q), "-t", "plant/#", "-q", fmt.Sprint(q), "-V", "mqttv311")
	}
	m.Sub(t, "-i", fmt.Sprintf("historian-%d-v5", r), "-t", "plant/+/temp", "-q", "2", "-V", "mqttv5")
	for q := 0; q <= 2; q++ {
		m.WaitLog(t, from, fmt.Sprintf(`New client connected .* as dashboard-%d-q%d `, r, q))
	}
	m.WaitLog(t, from, fmt.Sprintf(`New client connected .* as historian-%d-v5 `, r))
	for i := 0; i < publishes; i++ {
		m.Pub(t, "-i", fmt.Sprintf("line%d-sensor-%d", i%5, r), "-t", fmt.Sprintf("plant/line%d/temp", i%5),
			"-q", fmt.Sprint(i%3), "-m", fmt.Sprintf(`{"seq":%d,"temp":%d.%d}`, i, 20+i%7, i%10))
	}
	m.Pub(t, "-i", fmt.Sprintf("line-status-%d", r), "-t", "plant/status", "-r", "-q", "1", "-m", "online")
	m.Pub(t, "-i", fmt.Sprintf("gateway-%d", r), "-t", "plant/gateway/1", "-q", "1", "-m", "up",
		"--will-topic", "plant/gateway/1/state", "--will-payload", "offline", "--will-qos", "1")
	node := fmt.Sprintf("ütf8-ñode-%d", r)
	m.Pub(t, "-i", node, "-t", "plant/ÿard/temp", "-q", "0", "-m", "18.5")
	m.Sub(t, "-i", fmt.Sprintf("cleanup-%d", r), "-t", "plant/old", "-U", "plant/old", "-C", "1", "-W", "1")
	m.WaitLog(t, from, `Received PUBLISH from `+node)
}

// Takeover connects two clients with the same client id; the second
// takes the first's connection over. It returns the takeover line.
func (m *Mosquitto) Takeover(t testing.TB, clientID string) string {
	t.Helper()
	from := m.LogSize(t)
	m.Sub(t, "-i", clientID, "-t", "cmd/#")
	m.WaitLog(t, from, `New client connected .* as `+regexp.QuoteMeta(clientID)+` `)
	m.Sub(t, "-i", clientID, "-t", "cmd/#")
	return m.WaitLog(t, from, `Client `+regexp.QuoteMeta(clientID)+` already connected, closing old connection\.`)
}

// IdentifierRejected sends an MQTT 3.1.1 CONNECT with an empty client id
// and clean session off, which the spec requires the broker to refuse with
// return code 2. It returns the broker's CONNACK log line.
func (m *Mosquitto) IdentifierRejected(t testing.TB) string {
	t.Helper()
	from := m.LogSize(t)
	c, err := Dial(m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc, err := c.ConnectAndWait(ConnectOpts{Level: 4, ClientID: "", CleanStart: false, KeepAlive: 60})
	if err != nil {
		t.Fatal(err)
	}
	if rc != 2 {
		t.Fatalf("CONNACK return code %d, want 2 (identifier rejected)", rc)
	}
	return m.WaitLog(t, from, `Sending CONNACK to \S+ \(0, 2\)`)
}

// PacketIDInUse has an MQTT 5 subscriber answer a QoS 1 delivery with a
// PUBACK carrying reason code 0x91 (Packet Identifier in use). It returns
// the broker's log line for that PUBACK.
func (m *Mosquitto) PacketIDInUse(t testing.TB, clientID string) string {
	t.Helper()
	from := m.LogSize(t)
	c, err := Dial(m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Disconnect()
	if rc, err := c.ConnectAndWait(ConnectOpts{Level: 5, ClientID: clientID, CleanStart: true, KeepAlive: 60}); err != nil || rc != 0 {
		t.Fatalf("connect: rc=%d err=%v", rc, err)
	}
	topic := "pid/" + clientID
	if err := c.Subscribe(5, 1, topic, 1); err != nil {
		t.Fatal(err)
	}
	m.Pub(t, "-t", topic, "-q", "1", "-m", "x")
	p, err := c.Expect(3, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	id, err := PublishID(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(Packet{Header: 0x40, Body: []byte{byte(id >> 8), byte(id), 0x91}}); err != nil {
		t.Fatal(err)
	}
	return m.WaitLog(t, from, `Received PUBACK from `+regexp.QuoteMeta(clientID)+` \(Mid: \d+, RC:145\)`)
}
