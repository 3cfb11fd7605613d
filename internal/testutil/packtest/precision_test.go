package packtest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
)

// Healthy traffic at log_type all produces no diagnosis: 300 real clients
// (mosquitto_pub and raw MQTT 3.1.1 and 5 clients) connect, subscribe,
// publish at QoS 0, 1 and 2, retain, set wills, unsubscribe and disconnect
// cleanly, sequentially and concurrently.
func TestNormalTrafficHasNoDiagnosis(t *testing.T) {
	b := start(t)
	const subs, raws, pubs = 20, 180, 100
	// Subscribers first, each disconnecting cleanly at the end.
	var subConns []*brokertest.Raw
	for i := 0; i < subs; i++ {
		level := byte(4 + i%2)
		c := b.connect(t, brokertest.ConnectOpts{Level: level, ClientID: fmt.Sprintf("dashboard %d/ü", i), CleanStart: true})
		if err := c.Subscribe(level, 1, "plant/#", byte(i%3)); err != nil {
			t.Fatal(err)
		}
		subConns = append(subConns, c)
	}
	// Raw publishers, 12 at a time: QoS 0, 1 and 2 with their full flows,
	// some retained, some with a subscription and an unsubscribe.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 12)
	errs := make(chan error, raws)
	for i := 0; i < raws; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			errs <- rawClient(b.addr(), i)
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// mosquitto_pub, sequentially: every QoS, both protocol versions,
	// retained messages and wills.
	for i := 0; i < pubs; i++ {
		args := []string{"-i", fmt.Sprintf("line%d-sensor-%d", i%5, i), "-t", fmt.Sprintf("plant/line%d/temp", i%5),
			"-q", fmt.Sprint(i % 3), "-m", fmt.Sprintf(`{"seq":%d}`, i), "-V", []string{"mqttv311", "mqttv5"}[i%2]}
		if i%10 == 0 {
			args = append(args, "-r")
		}
		if i%7 == 0 {
			args = append(args, "--will-topic", "plant/gw/state", "--will-payload", "offline", "--will-qos", "1")
		}
		if out, err := b.pub(t, args...); err != nil {
			t.Fatalf("mosquitto_pub: %v %s", err, out)
		}
	}
	// Subscribers drain what they were sent (acknowledging QoS 1 and 2)
	// and disconnect.
	for _, c := range subConns {
		if err := drain(c); err != nil {
			t.Fatal(err)
		}
		_ = c.Disconnect()
	}
	b.WaitCount(t, `Client dashboard \d+/ü disconnected\.$`, subs)
	b.WaitCount(t, `Client raw-\d+ disconnected\.$`, raws)
	log := b.Log()
	for _, h := range diagnose(t, log) {
		t.Errorf("normal traffic diagnosed as %s: %q", h.id, h.line)
	}
	// The same through the whole pipeline, unexplained fault-looking lines
	// included: normal traffic must not look like a gap in the pack either.
	for _, d := range pipelineDiagnoses(t, log) {
		t.Errorf("normal traffic: the pipeline made a %s diagnosis of %q", d.SignatureID, d.Line)
	}
}

// rawClient is one well-behaved client: CONNECT, a publish at QoS i%3
// with the acknowledgements the spec requires, sometimes a retained
// message or a subscribe/unsubscribe, and DISCONNECT.
func rawClient(addr string, i int) error {
	c, err := brokertest.Dial(addr)
	if err != nil {
		return err
	}
	level := byte(4 + i%2)
	o := brokertest.ConnectOpts{Level: level, ClientID: fmt.Sprintf("raw-%d", i), CleanStart: true, KeepAlive: 30}
	if rc, err := c.ConnectAndWait(o); err != nil || rc != 0 {
		c.Close()
		return fmt.Errorf("raw-%d CONNECT: rc=%d %v", i, rc, err)
	}
	var props []byte
	if level == 5 {
		props = []byte{}
	}
	qos := byte(i % 3)
	p := publish(fmt.Sprintf("plant/raw/%d", i%7), qos, 1, []byte("21.5"), props)
	if i%11 == 0 {
		p.Header |= 0x01 // retain
	}
	if err := c.Send(p); err != nil {
		return err
	}
	switch qos {
	case 1:
		if _, err := c.Expect(4, 5*time.Second); err != nil {
			return err
		}
	case 2:
		if _, err := c.Expect(5, 5*time.Second); err != nil {
			return err
		}
		if err := c.Send(brokertest.Packet{Header: 0x62, Body: []byte{0, 1}}); err != nil {
			return err
		}
		if _, err := c.Expect(7, 5*time.Second); err != nil {
			return err
		}
	}
	if i%5 == 0 {
		if err := c.Subscribe(level, 2, "plant/status/#", 1); err != nil {
			return err
		}
		body := []byte{0, 3}
		if level == 5 {
			body = append(body, 0)
		}
		if err := c.Send(brokertest.Packet{Header: 0xa2, Body: append(body, brokertest.Str("plant/status/#")...)}); err != nil {
			return err
		}
		if _, err := c.Expect(11, 5*time.Second); err != nil {
			return err
		}
	}
	return c.Disconnect()
}

// drain reads what the broker sent a subscriber until it has been quiet
// for a moment, acknowledging QoS 1 and 2 deliveries as a client must.
func drain(c *brokertest.Raw) error {
	for {
		p, err := c.Read(300 * time.Millisecond)
		if err != nil {
			return nil // quiet: all delivered
		}
		switch p.Type() {
		case 3:
			qos := (p.Header >> 1) & 3
			if qos == 0 {
				continue
			}
			id, err := brokertest.PublishID(p)
			if err != nil {
				return err
			}
			typ := byte(0x40) // PUBACK
			if qos == 2 {
				typ = 0x50 // PUBREC
			}
			if err := c.Send(brokertest.Packet{Header: typ, Body: []byte{byte(id >> 8), byte(id)}}); err != nil {
				return err
			}
		case 6: // PUBREL
			if err := c.Send(brokertest.Packet{Header: 0x70, Body: p.Body[:2]}); err != nil {
				return err
			}
		}
	}
}
