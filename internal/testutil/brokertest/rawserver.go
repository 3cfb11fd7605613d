package brokertest

import (
	"bufio"
	"net"
)

// Wrap makes a Raw of a connection the test accepted itself, for a fake
// peer (a bridge's remote end that answers CONNECT the way a test needs).
func Wrap(c net.Conn) *Raw { return &Raw{Conn: c, r: bufio.NewReader(c)} }
