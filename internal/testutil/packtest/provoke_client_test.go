package packtest

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
)

// Faults of one client: refused CONNECTs, protocol violations, limits.
var clientProvokers = []provoker{
	{
		id:     "mosquitto/client-not-authorised",
		desc:   "password_file: wrong password (MQTT 3.1.1), unknown user (MQTT 5), anonymous client with allow_anonymous false",
		fields: map[string]string{"client_id": "<unknown>"},
		also:   []string{"mosquitto/connack-not-authorised"},
		run:    authRefused,
	},
	{
		id:     "mosquitto/connack-not-authorised",
		desc:   "password_file: wrong password (MQTT 3.1.1), unknown user (MQTT 5), anonymous client with allow_anonymous false",
		fields: map[string]string{"address": "127.0.0.1", "reason_code": "135"},
		also:   []string{"mosquitto/client-not-authorised"},
		run:    authRefused,
	},
	{
		id:     "mosquitto/connack-unsupported-protocol-version",
		desc:   "raw CONNECT with protocol level 9, and with protocol name MQIsdp at level 4",
		fields: map[string]string{"address": "127.0.0.1", "reason_code": "1"},
		also:   []string{"mosquitto/connect-invalid-protocol", "mosquitto/protocol-error-disconnect"},
		run:    badProtocolVersion,
	},
	{
		id:     "mosquitto/connect-invalid-protocol",
		desc:   "raw CONNECT with protocol level 9, with MQIsdp at level 4, and with protocol name MQTX",
		fields: map[string]string{"address": "127.0.0.1", "protocol_version": "9"},
		also:   []string{"mosquitto/connack-unsupported-protocol-version", "mosquitto/protocol-error-disconnect"},
		run: func(t *testing.T) output {
			b := start(t)
			badProtocolVersionOn(t, b)
			c := b.dial(t)
			send(t, c, brokertest.Connect(brokertest.ConnectOpts{ProtocolName: "MQTX", Level: 4, ClientID: "mqtx", CleanStart: true, KeepAlive: 60}))
			waitClosed(c)
			b.Wait(t, `Invalid protocol "MQTX" in CONNECT from 127\.0\.0\.1\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/connect-invalid-will-qos",
		desc:   "raw MQTT 3.1.1 CONNECT whose will QoS bits are 3",
		fields: map[string]string{"address": "127.0.0.1"},
		also:   []string{"mosquitto/protocol-error-disconnect"},
		run: func(t *testing.T) output {
			b := start(t)
			c := b.dial(t)
			o := brokertest.ConnectOpts{Level: 4, ClientID: "willqos3", CleanStart: true, KeepAlive: 60}
			send(t, c, connectFlags(o, 0x04|3<<3, append(brokertest.Str("will/t"), brokertest.Str("gone")...)))
			waitClosed(c)
			b.Wait(t, `Client <unknown> disconnected due to protocol error\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/connect-password-without-username",
		desc:   "raw MQTT 3.1.1 CONNECT with the password flag and no username",
		fields: map[string]string{"client_id": "pw-no-user"},
		also:   []string{"mosquitto/protocol-error-disconnect"},
		run: func(t *testing.T) output {
			b := start(t)
			c := b.dial(t)
			send(t, c, brokertest.Connect(brokertest.ConnectOpts{Level: 4, ClientID: "pw-no-user", CleanStart: true, KeepAlive: 60, Password: str("secret")}))
			waitClosed(c)
			b.Wait(t, `Client <unknown> disconnected due to protocol error\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/multiple-connect",
		desc:   "raw client sends a second CONNECT on an open connection",
		fields: map[string]string{"client_id": "twice"},
		also:   []string{"mosquitto/protocol-error-disconnect"},
		run: func(t *testing.T) output {
			b := start(t)
			c := b.connect(t, brokertest.ConnectOpts{Level: 4, ClientID: "twice", CleanStart: true})
			send(t, c, brokertest.Connect(brokertest.ConnectOpts{Level: 4, ClientID: "twice", CleanStart: true, KeepAlive: 60}))
			waitClosed(c)
			b.Wait(t, `Client twice disconnected due to protocol error\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/protocol-error-disconnect",
		desc:   "raw clients: PUBLISH before CONNECT, PUBLISH to a topic with a wildcard, QoS 1 PUBLISH with packet id 0",
		fields: map[string]string{"client_id": "wild-pub"},
		run: func(t *testing.T) output {
			b := start(t)
			c := b.dial(t)
			send(t, c, publish("a/b", 0, 0, []byte("x"), nil))
			waitClosed(c)
			c = b.connect(t, brokertest.ConnectOpts{Level: 4, ClientID: "wild-pub", CleanStart: true})
			send(t, c, publish("plant/+/temp", 0, 0, []byte("x"), nil))
			waitClosed(c)
			c = b.connect(t, brokertest.ConnectOpts{Level: 4, ClientID: "mid0-pub", CleanStart: true})
			send(t, c, publish("a/b", 1, 0, []byte("x"), nil))
			waitClosed(c)
			b.Wait(t, `Client mid0-pub disconnected due to protocol error\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/malformed-packet-disconnect",
		desc:   "raw clients: MQTT 5 CONNECT with unknown property 0x7f, SUBSCRIBE with an empty filter",
		fields: map[string]string{"client_id": "empty-sub"},
		also:   []string{"mosquitto/subscribe-invalid"},
		run: func(t *testing.T) output {
			b := start(t)
			c := b.dial(t)
			send(t, c, brokertest.Connect(brokertest.ConnectOpts{Level: 5, ClientID: "badprop5", CleanStart: true, KeepAlive: 60, PropertiesRaw: []byte{0x7f, 0x00, 0x01}}))
			waitClosed(c)
			c = b.connect(t, brokertest.ConnectOpts{Level: 4, ClientID: "empty-sub", CleanStart: true})
			send(t, c, brokertest.Packet{Header: 0x82, Body: append([]byte{0, 1}, append(brokertest.Str(""), 0)...)})
			waitClosed(c)
			b.Wait(t, `Client empty-sub disconnected due to malformed packet\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/publish-invalid-qos",
		desc:   "raw client sends a PUBLISH with both QoS bits set (QoS 3)",
		fields: map[string]string{"client_id": "qos3-pub"},
		also:   []string{"mosquitto/malformed-packet-disconnect"},
		run: func(t *testing.T) output {
			b := start(t)
			c := b.connect(t, brokertest.ConnectOpts{Level: 4, ClientID: "qos3-pub", CleanStart: true})
			p := publish("a/b", 1, 1, []byte("x"), nil)
			p.Header |= 0x06
			send(t, c, p)
			waitClosed(c)
			b.Wait(t, `Client qos3-pub disconnected due to malformed packet\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/subscribe-invalid",
		desc:   "raw clients: SUBSCRIBE to a/#/b, UNSUBSCRIBE from a/#/b, SUBSCRIBE with QoS 3",
		fields: map[string]string{"address": "127.0.0.1", "kind": "subscription"},
		also:   []string{"mosquitto/malformed-packet-disconnect"},
		run: func(t *testing.T) output {
			b := start(t)
			c := b.connect(t, brokertest.ConnectOpts{Level: 4, ClientID: "bad-filter-sub", CleanStart: true})
			send(t, c, brokertest.Packet{Header: 0x82, Body: append([]byte{0, 1}, append(brokertest.Str("a/#/b"), 0)...)})
			waitClosed(c)
			c = b.connect(t, brokertest.ConnectOpts{Level: 4, ClientID: "bad-filter-unsub", CleanStart: true})
			send(t, c, brokertest.Packet{Header: 0xa2, Body: append([]byte{0, 1}, brokertest.Str("a/#/b")...)})
			waitClosed(c)
			c = b.connect(t, brokertest.ConnectOpts{Level: 4, ClientID: "qos3-sub", CleanStart: true})
			send(t, c, brokertest.Packet{Header: 0x82, Body: append([]byte{0, 1}, append(brokertest.Str("a/b"), 3)...)})
			waitClosed(c)
			b.Wait(t, `Client qos3-sub disconnected due to malformed packet\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/reused-message-id",
		desc:   "raw client sends two different QoS 2 PUBLISHes with packet id 1 without completing the first",
		fields: map[string]string{"client_id": "reuse-mid", "mid": "1"},
		run: func(t *testing.T) output {
			b := start(t)
			c := b.connect(t, brokertest.ConnectOpts{Level: 4, ClientID: "reuse-mid", CleanStart: true})
			send(t, c, publish("a/reuse", 2, 1, []byte("first"), nil))
			if _, err := c.Expect(5, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			send(t, c, publish("a/reuse", 2, 1, []byte("second"), nil))
			b.Wait(t, `Reused message ID 1 from reuse-mid detected`)
			_ = c.Disconnect()
			b.Wait(t, `Client reuse-mid disconnected\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/disconnected-feature-not-supported",
		desc:   "raw MQTT 5 CONNECT with authentication method SCRAM-SHA-1, which no plugin handles",
		fields: map[string]string{"client_id": "<unknown>"},
		run: func(t *testing.T) output {
			b := start(t)
			c := b.dial(t)
			props := append([]byte{0x15}, brokertest.Str("SCRAM-SHA-1")...)
			send(t, c, brokertest.Connect(brokertest.ConnectOpts{Level: 5, ClientID: "authmeth5", CleanStart: true, KeepAlive: 60, PropertiesRaw: props}))
			waitClosed(c)
			b.Wait(t, `Client <unknown> disconnected due to`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/bad-socket-read-write",
		desc:   "raw MQTT 5 client publishes with topic alias 100, above the broker's topic alias maximum",
		fields: map[string]string{"client_id": "alias5", "reason": "Unknown error."},
		run: func(t *testing.T) output {
			b := start(t)
			c := b.connect(t, brokertest.ConnectOpts{Level: 5, ClientID: "alias5", CleanStart: true})
			send(t, c, publish("a/b", 0, 0, []byte("x"), []byte{0x23, 0, 100}))
			waitClosed(c)
			b.Wait(t, `Bad socket read/write on client alias5`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/keepalive-timeout",
		desc:   "raw client connects with keepalive 1 s and then sends nothing",
		fields: map[string]string{"client_id": "sleepy sensor"},
		run: func(t *testing.T) output {
			b := start(t)
			c := b.connect(t, brokertest.ConnectOpts{Level: 4, ClientID: "sleepy sensor", CleanStart: true, KeepAlive: 1})
			b.Wait(t, `Client sleepy sensor has exceeded timeout, disconnecting\.`)
			_ = c.Close()
			return b.out()
		},
	},
	{
		id:     "mosquitto/max-connections",
		desc:   "listener with max_connections 1: a second and a third client while the first is connected",
		fields: map[string]string{"address": "127.0.0.1"},
		run: func(t *testing.T) output {
			b := start(t, "max_connections 1")
			holder := b.connect(t, brokertest.ConnectOpts{Level: 4, ClientID: "holder", CleanStart: true})
			for i := 0; i < 2; i++ {
				c := b.dial(t)
				_ = c.Send(brokertest.Connect(brokertest.ConnectOpts{Level: 4, ClientID: fmt.Sprint("extra-", i), CleanStart: true, KeepAlive: 60}))
				waitClosed(c)
			}
			b.Wait(t, `denied: max_connections exceeded`)
			_ = holder.Disconnect()
			b.Wait(t, `Client holder disconnected\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/client-connection-lost",
		desc:   "raw clients: one closes its TCP connection without DISCONNECT, one resets it, one opens TCP and closes without CONNECT",
		fields: map[string]string{"client_id": "abrupt-fin"},
		run: func(t *testing.T) output {
			b := start(t)
			c := b.connect(t, brokertest.ConnectOpts{Level: 4, ClientID: "abrupt-fin", CleanStart: true})
			_ = c.Close()
			b.Wait(t, `Client abrupt-fin closed its connection\.`)
			c = b.connect(t, brokertest.ConnectOpts{Level: 4, ClientID: "abrupt-rst", CleanStart: true})
			_ = c.Conn.(*net.TCPConn).SetLinger(0)
			_ = c.Close()
			b.Wait(t, `Client abrupt-rst closed its connection\.`)
			c = b.dial(t)
			_ = c.Close()
			b.Wait(t, `Client <unknown> closed its connection\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/client-socket-error",
		desc:   "raw client sends 8 bytes of a CONNECT and closes",
		fields: map[string]string{"client_id": "<unknown>", "reason": "Success"},
		run: func(t *testing.T) output {
			b := start(t)
			c := b.dial(t)
			_ = c.SendBytes(brokertest.Connect(brokertest.ConnectOpts{Level: 4, ClientID: "halfconnect", CleanStart: true, KeepAlive: 60}).Encode()[:8])
			b.Wait(t, `New connection from`)
			_ = c.Close()
			b.Wait(t, `Client <unknown> disconnected: `)
			return b.out()
		},
	},
	{
		id:     "mosquitto/oversize-packet",
		desc:   "max_packet_size 5000: raw MQTT 3.1.1 and 5 clients and mosquitto_pub publish 70000 bytes",
		fields: map[string]string{"client_id": "big-pub-5"},
		run: func(t *testing.T) output {
			b := start(t, "max_packet_size 5000")
			for _, level := range []byte{4, 5} {
				id := fmt.Sprint("big-pub-", level)
				c := b.connect(t, brokertest.ConnectOpts{Level: level, ClientID: id, CleanStart: true})
				var props []byte
				if level == 5 {
					props = []byte{}
				}
				_ = c.Send(publish("big/t", 1, 1, make([]byte, 70000), props))
				waitClosed(c)
				b.Wait(t, `Client `+id+` disconnected due to oversize packet\.`)
			}
			_, _ = b.pub(t, "-i", "big-mosq-pub", "-t", "big/t", "-m", strings.Repeat("x", 70000))
			b.Wait(t, `Client big-mosq-pub disconnected due to oversize packet\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/message-size-limit-dropped",
		desc:   "message_size_limit 2000: QoS 1 publishes of 3000 bytes from MQTT 3.1.1 and 5 clients",
		fields: map[string]string{"client_id": "msgsize-v5", "topic": "big/t", "bytes": "3000"},
		// 2.0 notes at start-up that message_size_limit is superseded.
		also: []string{"mosquitto/config-deprecated-option"},
		run: func(t *testing.T) output {
			b := start(t, "message_size_limit 2000")
			for _, v := range []string{"mqttv311", "mqttv5"} {
				id := "msgsize-" + v[4:]
				if _, err := b.pub(t, "-i", id, "-V", v, "-q", "1", "-t", "big/t", "-m", strings.Repeat("x", 3000)); err != nil {
					t.Logf("mosquitto_pub %s: %v", v, err)
				}
				b.Wait(t, `Client `+id+` disconnected\.`)
			}
			return b.out()
		},
	},
	{
		id:     "mosquitto/outgoing-messages-dropped",
		desc:   "max_queued_messages 3: an offline persistent QoS 1 subscriber and 8 QoS 1 publishes",
		fields: map[string]string{"client_id": "slow-sub"},
		run: func(t *testing.T) output {
			b := start(t, "max_queued_messages 3")
			c := b.connect(t, brokertest.ConnectOpts{Level: 4, ClientID: "slow-sub", CleanStart: false})
			if err := c.Subscribe(4, 1, "q/#", 1); err != nil {
				t.Fatal(err)
			}
			_ = c.Disconnect()
			b.Wait(t, `Client slow-sub disconnected\.`)
			for i := 1; i <= 8; i++ {
				if out, err := b.pub(t, "-i", fmt.Sprint("q-pub-", i), "-t", "q/x", "-q", "1", "-m", fmt.Sprint("m", i)); err != nil {
					t.Fatalf("mosquitto_pub: %v %s", err, out)
				}
			}
			b.Wait(t, `Outgoing messages are being dropped for client slow-sub\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/client-out-of-memory",
		desc:   "memory_limit 200000 and a raw 150 kB PUBLISH",
		fields: map[string]string{"client_id": "big-pub"},
		run: func(t *testing.T) output {
			b := start(t, "memory_limit 200000")
			c := b.connect(t, brokertest.ConnectOpts{Level: 4, ClientID: "big-pub", CleanStart: true})
			_ = c.Send(publish("t/oom", 0, 0, make([]byte, 150000), nil))
			waitClosed(c)
			b.Wait(t, `Client big-pub disconnected due to out of memory\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/outgoing-publish-too-large",
		desc:   "MQTT 5 subscriber announcing Maximum Packet Size 100, then a 1000-byte publish to its topic",
		fields: map[string]string{"client_id": "tiny-sub", "bytes": "1008"},
		run: func(t *testing.T) output {
			b := start(t)
			props := binary.BigEndian.AppendUint32([]byte{0x27}, 100)
			c := b.connect(t, brokertest.ConnectOpts{Level: 5, ClientID: "tiny-sub", CleanStart: true, PropertiesRaw: props})
			if err := c.Subscribe(5, 1, "big/#", 0); err != nil {
				t.Fatal(err)
			}
			if out, err := b.pub(t, "-i", "big-sender", "-t", "big/t", "-m", strings.Repeat("x", 1000)); err != nil {
				t.Fatalf("mosquitto_pub: %v %s", err, out)
			}
			b.Wait(t, `Dropping too large outgoing PUBLISH for tiny-sub`)
			_ = c.Disconnect()
			b.Wait(t, `Client tiny-sub disconnected\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/session-expired",
		desc:   "MQTT 5 client with session expiry interval 1 s disconnects",
		fields: map[string]string{"client_id": "short-session"},
		run: func(t *testing.T) output {
			b := start(t)
			props := binary.BigEndian.AppendUint32([]byte{0x11}, 1)
			c := b.connect(t, brokertest.ConnectOpts{Level: 5, ClientID: "short-session", CleanStart: true, PropertiesRaw: props})
			if err := c.Subscribe(5, 1, "s/#", 1); err != nil {
				t.Fatal(err)
			}
			_ = c.Disconnect()
			b.Wait(t, `Expiring client short-session due to timeout\.`)
			return b.out()
		},
	},
}

// authRefused provokes refused CONNECTs against a password_file.
func authRefused(t *testing.T) output {
	dir := t.TempDir()
	passwd(t, dir, "passwd", "alice", "alice-secret")
	b := startIn(t, dir, "password_file passwd", "allow_anonymous false")
	for _, args := range [][]string{
		{"-i", "sensor-1", "-u", "alice", "-P", "wrong", "-V", "mqttv311"},
		{"-i", "sensor-2", "-u", "mallory", "-P", "x", "-V", "mqttv5"},
		{"-i", "anon-1"},
	} {
		if _, err := b.pub(t, append(args, "-t", "t/x", "-m", "x")...); err == nil {
			t.Errorf("mosquitto_pub %v was accepted", args)
		}
	}
	b.WaitCount(t, `disconnected, not authorised\.$`, 3)
	return b.out()
}

func badProtocolVersion(t *testing.T) output {
	b := start(t)
	badProtocolVersionOn(t, b)
	return b.out()
}

func badProtocolVersionOn(t *testing.T, b *broker) {
	for _, o := range []brokertest.ConnectOpts{
		{Level: 9, ClientID: "level9", CleanStart: true, KeepAlive: 60},
		{ProtocolName: "MQIsdp", Level: 4, ClientID: "mqisdp4", CleanStart: true, KeepAlive: 60},
	} {
		c := b.dial(t)
		send(t, c, brokertest.Connect(o))
		waitClosed(c)
	}
	b.Wait(t, `Invalid protocol version 4 in CONNECT`)
}
