package brokertest

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// Raw is a bare MQTT connection that sends hand-built packets, for faults
// no well-behaved client (mosquitto_pub, mosquitto_sub) can provoke:
// protocol violations, odd reason codes, silence after CONNECT.
type Raw struct {
	Conn net.Conn
	r    *bufio.Reader
}

// Dial opens a TCP connection to addr.
func Dial(addr string) (*Raw, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &Raw{Conn: c, r: bufio.NewReader(c)}, nil
}

// Close closes the connection without DISCONNECT.
func (r *Raw) Close() error { return r.Conn.Close() }

// Packet is one MQTT control packet.
type Packet struct {
	Header byte // packet type and flags
	Body   []byte
}

// Type is the packet type (1 CONNECT ... 14 DISCONNECT, 15 AUTH).
func (p Packet) Type() byte { return p.Header >> 4 }

// Encode returns the packet's bytes on the wire.
func (p Packet) Encode() []byte {
	out := []byte{p.Header}
	n := len(p.Body)
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		out = append(out, b)
		if n == 0 {
			break
		}
	}
	return append(out, p.Body...)
}

// Send writes a packet.
func (r *Raw) Send(p Packet) error {
	_ = r.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := r.Conn.Write(p.Encode())
	return err
}

// SendBytes writes arbitrary bytes.
func (r *Raw) SendBytes(b []byte) error {
	_ = r.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := r.Conn.Write(b)
	return err
}

// Read reads one packet, waiting at most timeout.
func (r *Raw) Read(timeout time.Duration) (Packet, error) {
	_ = r.Conn.SetReadDeadline(time.Now().Add(timeout))
	h, err := r.r.ReadByte()
	if err != nil {
		return Packet{}, err
	}
	var n int
	for i := 0; ; i++ {
		b, err := r.r.ReadByte()
		if err != nil {
			return Packet{}, err
		}
		n += int(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			break
		}
		if i == 3 {
			return Packet{}, fmt.Errorf("malformed remaining length")
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r.r, body); err != nil {
		return Packet{}, err
	}
	return Packet{Header: h, Body: body}, nil
}

// Expect reads packets until one of type typ arrives.
func (r *Raw) Expect(typ byte, timeout time.Duration) (Packet, error) {
	deadline := time.Now().Add(timeout)
	for {
		p, err := r.Read(time.Until(deadline))
		if err != nil {
			return p, fmt.Errorf("waiting for packet type %d: %w", typ, err)
		}
		if p.Type() == typ {
			return p, nil
		}
	}
}

// Str encodes an MQTT UTF-8 string (two-byte length prefix).
func Str(s string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(s)))
	return append(b, s...)
}

// ConnectOpts describes a CONNECT packet.
type ConnectOpts struct {
	ProtocolName  string // "MQTT" (3.1.1, 5) or "MQIsdp" (3.1); default by Level
	Level         byte   // 3, 4 or 5
	ClientID      string
	CleanStart    bool
	KeepAlive     uint16
	Username      *string
	Password      *string
	PropertiesRaw []byte // MQTT 5 CONNECT properties, without the length
}

// Connect builds a CONNECT packet.
func Connect(o ConnectOpts) Packet {
	name := o.ProtocolName
	if name == "" {
		name = "MQTT"
		if o.Level == 3 {
			name = "MQIsdp"
		}
	}
	var flags byte
	if o.CleanStart {
		flags |= 0x02
	}
	if o.Username != nil {
		flags |= 0x80
	}
	if o.Password != nil {
		flags |= 0x40
	}
	body := Str(name)
	body = append(body, o.Level, flags)
	body = binary.BigEndian.AppendUint16(body, o.KeepAlive)
	if o.Level == 5 {
		body = append(body, varint(len(o.PropertiesRaw))...)
		body = append(body, o.PropertiesRaw...)
	}
	body = append(body, Str(o.ClientID)...)
	if o.Username != nil {
		body = append(body, Str(*o.Username)...)
	}
	if o.Password != nil {
		body = append(body, Str(*o.Password)...)
	}
	return Packet{Header: 0x10, Body: body}
}

func varint(n int) []byte {
	var out []byte
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		out = append(out, b)
		if n == 0 {
			return out
		}
	}
}

// ConnectAndWait sends CONNECT and returns the CONNACK's reason code.
func (r *Raw) ConnectAndWait(o ConnectOpts) (byte, error) {
	if err := r.Send(Connect(o)); err != nil {
		return 0, err
	}
	p, err := r.Expect(2, 5*time.Second)
	if err != nil {
		return 0, err
	}
	if len(p.Body) < 2 {
		return 0, fmt.Errorf("short CONNACK")
	}
	return p.Body[1], nil
}

// Subscribe sends SUBSCRIBE for one topic and waits for SUBACK. level is
// the protocol level of the connection.
func (r *Raw) Subscribe(level byte, id uint16, topic string, qos byte) error {
	body := binary.BigEndian.AppendUint16(nil, id)
	if level == 5 {
		body = append(body, 0)
	}
	body = append(body, Str(topic)...)
	body = append(body, qos)
	if err := r.Send(Packet{Header: 0x82, Body: body}); err != nil {
		return err
	}
	_, err := r.Expect(9, 5*time.Second)
	return err
}

// PublishID returns the packet identifier of a received QoS 1/2 PUBLISH.
func PublishID(p Packet) (uint16, error) {
	if len(p.Body) < 2 {
		return 0, fmt.Errorf("short PUBLISH")
	}
	tl := int(binary.BigEndian.Uint16(p.Body))
	if len(p.Body) < 2+tl+2 {
		return 0, fmt.Errorf("short PUBLISH")
	}
	return binary.BigEndian.Uint16(p.Body[2+tl:]), nil
}

// Disconnect sends DISCONNECT and closes.
func (r *Raw) Disconnect() error {
	_ = r.Send(Packet{Header: 0xe0})
	return r.Close()
}
