package packtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
)

// tlsBroker runs a broker whose second listener speaks TLS with the
// certificates of brokertest.WriteCerts, named relative to its directory.
func tlsBroker(t *testing.T, tlsConf ...string) (b *broker, tlsPort int, certs brokertest.Certs) {
	t.Helper()
	dir := t.TempDir()
	certs = brokertest.WriteCerts(t, dir)
	tlsPort = brokertest.FreePort(t)
	conf := append([]string{fmt.Sprintf("listener %d 127.0.0.1", tlsPort), "allow_anonymous true"}, tlsConf...)
	return startIn(t, dir, conf...), tlsPort, certs
}

// tlsPub runs mosquitto_pub against the TLS listener; it is expected to fail.
func tlsPub(t *testing.T, port int, id string, args ...string) {
	t.Helper()
	args = append([]string{"-h", "localhost", "-p", fmt.Sprint(port), "-i", id, "-t", "t/x", "-m", "x"}, args...)
	if out, err := brokertest.RunClient(t, "mosquitto_pub", args...); err == nil {
		t.Errorf("mosquitto_pub %v succeeded: %s", args, out)
	}
}

var tlsProvokers = []provoker{
	{
		id:     "mosquitto/tls-client-certificate-verify-failed",
		desc:   "require_certificate true: a client certificate from an unknown CA, and an expired client certificate",
		fields: map[string]string{"reason": "certificate verify failed"},
		also:   []string{"mosquitto/client-socket-error"},
		run: func(t *testing.T) output {
			b, port, c := tlsBroker(t, "certfile server.crt", "keyfile server.key", "cafile ca.crt", "require_certificate true")
			tlsPub(t, port, "foreign-cert", "--cafile", c.CA, "--cert", c.Foreign, "--key", c.ForeignKey)
			tlsPub(t, port, "expired-cert", "--cafile", c.CA, "--cert", c.ExpiredClient, "--key", c.ExpiredCKey)
			b.WaitCount(t, `certificate verify failed$`, 2)
			b.WaitCount(t, `Client <unknown> disconnected: Protocol error\.`, 2)
			return b.out()
		},
	},
	{
		id:     "mosquitto/tls-client-certificate-missing",
		desc:   "require_certificate true: a TLS client without a certificate",
		fields: map[string]string{"reason": "peer did not return a certificate"},
		also:   []string{"mosquitto/client-socket-error"},
		run: func(t *testing.T) output {
			b, port, c := tlsBroker(t, "certfile server.crt", "keyfile server.key", "cafile ca.crt", "require_certificate true")
			tlsPub(t, port, "no-cert", "--cafile", c.CA)
			b.Wait(t, `peer did not return a certificate$`)
			b.Wait(t, `Client <unknown> disconnected: Protocol error\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/tls-alert-unknown-ca",
		desc:   "a client that trusts another CA rejects the broker's certificate",
		fields: map[string]string{"reason": "tlsv1 alert unknown ca"},
		also:   []string{"mosquitto/client-socket-error"},
		run: func(t *testing.T) output {
			b, port, c := tlsBroker(t, "certfile server.crt", "keyfile server.key")
			tlsPub(t, port, "wrong-ca", "--cafile", c.ForeignCA)
			b.Wait(t, `tlsv1 alert unknown ca$`)
			b.Wait(t, `Client <unknown> disconnected: Protocol error\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/tls-alert-certificate-expired",
		desc:   "the broker's certfile expired yesterday; a client that checks it aborts the handshake",
		fields: map[string]string{"reason": "sslv3 alert certificate expired"},
		also:   []string{"mosquitto/client-socket-error"},
		run: func(t *testing.T) output {
			b, port, c := tlsBroker(t, "certfile expired-server.crt", "keyfile expired-server.key")
			tlsPub(t, port, "sees-expired", "--cafile", c.CA)
			b.Wait(t, `sslv3 alert certificate expired$`)
			b.Wait(t, `Client <unknown> disconnected: Protocol error\.`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/tls-plain-client-on-tls-listener",
		desc:   "mosquitto_pub without TLS, and a raw CONNECT, to the TLS listener",
		fields: map[string]string{"reason": "wrong version number"},
		also:   []string{"mosquitto/client-socket-error"},
		run: func(t *testing.T) output {
			b, port, _ := tlsBroker(t, "certfile server.crt", "keyfile server.key")
			if out, err := brokertest.RunClient(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", fmt.Sprint(port), "-i", "plain-on-tls", "-t", "t/x", "-m", "x"); err == nil {
				t.Errorf("plain mosquitto_pub on the TLS listener succeeded: %s", out)
			}
			b.Wait(t, `wrong version number`)
			c, err := brokertest.Dial(fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.Send(brokertest.Connect(brokertest.ConnectOpts{Level: 4, ClientID: "raw-plain-on-tls", CleanStart: true, KeepAlive: 60}))
			waitClosed(c)
			b.WaitCount(t, `wrong version number`, 2)
			// A browser or health check speaking plain HTTP, and an HTTP
			// proxy's CONNECT: OpenSSL names both (SSL_R_HTTP_REQUEST,
			// SSL_R_HTTPS_PROXY_REQUEST).
			for _, req := range []string{"GET / HTTP/1.1\r\nHost: broker\r\n\r\n", "CONNECT broker:8883 HTTP/1.1\r\n\r\n"} {
				httpOnTLS(t, port, req)
			}
			b.Wait(t, `SSL routines::http request`)
			b.Wait(t, `SSL routines::https proxy request`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/tls-unsupported-protocol",
		desc:   "listener with tls_version tlsv1.3, client limited to TLS 1.2",
		fields: map[string]string{"reason": "unsupported protocol"},
		also:   []string{"mosquitto/client-socket-error"},
		run: func(t *testing.T) output {
			b, port, _ := tlsBroker(t, "certfile server.crt", "keyfile server.key", "tls_version tlsv1.3")
			// A TLS 1.2-only client, as an old device would be; mosquitto_pub
			// cannot be limited to a maximum version.
			old := &tls.Config{MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true} //nolint:gosec // the point is an old client
			conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), old)
			if err == nil {
				conn.Close()
				t.Fatal("TLS 1.2 handshake with a tlsv1.3 listener succeeded")
			}
			b.Wait(t, `unsupported protocol`)
			// A ClientHello that arrives after the broker's first
			// SSL_accept fails on the read path instead, which logs
			// "OpenSSL Error[0]: ..." rather than "Client connection
			// from ... failed: ...".
			raw, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			// The broker logs "New connection" after its first SSL_accept
			// on the socket (src/net.c, net__socket_accept@v2.0.11), so
			// the handshake that follows is read by the loop.
			b.Wait(t, fmt.Sprintf(`New connection from 127\.0\.0\.1:%d on port `, raw.LocalAddr().(*net.TCPAddr).Port))
			if err := tls.Client(raw, old).Handshake(); err == nil {
				t.Fatal("delayed TLS 1.2 handshake with a tlsv1.3 listener succeeded")
			}
			b.Wait(t, `OpenSSL Error\[0\]: .*unsupported protocol`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/tls-alert-certificate-unknown",
		desc:   "clients that trust the CA but reject the broker's certificate: an explicit policy it lacks (OpenSSL), a host name it is not for (Go)",
		fields: map[string]string{"reason": "sslv3 alert certificate unknown"},
		also:   []string{"mosquitto/client-socket-error"},
		run: func(t *testing.T) output {
			b, port, c := tlsBroker(t, "certfile server.crt", "keyfile server.key")
			// OpenSSL sends certificate_unknown for a verify error with no
			// alert of its own (ssl_x509err2alert), such as a policy the
			// chain does not carry.
			openssl := brokertest.RequireTool(t, "openssl")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", fmt.Sprintf("127.0.0.1:%d", port), "-CAfile", c.CA,
				"-verify_return_error", "-policy", "1.2.3.4", "-explicit_policy")
			cmd.Stdin = strings.NewReader("")
			if out, err := cmd.CombinedOutput(); err == nil {
				t.Errorf("openssl s_client with an explicit policy succeeded: %s", out)
			}
			// Either line: 'OpenSSL Error[0]: ...' or, when the alert comes
			// inside accept, 'Client connection from ... failed: ....'.
			b.Wait(t, `sslv3 alert certificate unknown\.?$`)
			// Go sends bad_certificate for a name the certificate does not
			// hold.
			pool := x509.NewCertPool()
			pem, err := os.ReadFile(c.CA)
			if err != nil || !pool.AppendCertsFromPEM(pem) {
				t.Fatalf("CA %s: %v", c.CA, err)
			}
			if conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{RootCAs: pool, ServerName: "wrong.example"}); err == nil {
				conn.Close()
				t.Fatal("handshake with a certificate for another name succeeded")
			}
			b.Wait(t, `sslv3 alert bad certificate`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/tls-handshake-failure",
		desc:   "listener limited to one TLS 1.2 cipher (ciphers ECDHE-RSA-AES256-GCM-SHA384), client offering only another",
		fields: map[string]string{"reason": "no shared cipher"},
		also:   []string{"mosquitto/client-socket-error"},
		run: func(t *testing.T) output {
			b, port, _ := tlsBroker(t, "certfile server.crt", "keyfile server.key", "tls_version tlsv1.2", "ciphers ECDHE-RSA-AES256-GCM-SHA384")
			other := &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, InsecureSkipVerify: true} //nolint:gosec // the handshake must fail on ciphers, not on trust
			if conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", fmt.Sprintf("127.0.0.1:%d", port), other); err == nil {
				conn.Close()
				t.Fatal("handshake without a shared cipher succeeded")
			}
			b.Wait(t, `no shared cipher`)
			return b.out()
		},
	},
	{
		id:     "mosquitto/connack-bad-username-password",
		desc:   "use_identity_as_username true without require_certificate: TLS clients (MQTT 3.1.1 and 5) without a certificate",
		fields: map[string]string{"client_id": "no-identity", "reason_code": "4"},
		also:   []string{"mosquitto/client-not-authorised"},
		run: func(t *testing.T) output {
			b, port, c := tlsBroker(t, "certfile server.crt", "keyfile server.key", "cafile ca.crt", "use_identity_as_username true")
			tlsPub(t, port, "no-identity", "--cafile", c.CA)
			tlsPub(t, port, "no-identity-5", "--cafile", c.CA, "-V", "mqttv5")
			b.Wait(t, `Sending CONNACK to \S+ \(0, 134\)`)
			b.WaitCount(t, `disconnected, not authorised\.`, 2)
			return b.out()
		},
	},
	{
		id:     "mosquitto/tls-listener-file-load-failed",
		desc:   "listeners whose certfile is missing, whose keyfile belongs to another certificate, whose cafile is missing",
		fields: map[string]string{"option": "keyfile", "file": "client.key"},
		// OpenSSL's error queue follows on its own lines.
		also: []string{"mosquitto/tls-openssl-error-detail"},
		run: func(t *testing.T) output {
			var all output
			for _, files := range [][]string{
				{"certfile missing.crt", "keyfile server.key"},
				{"certfile server.crt", "keyfile client.key"},
				{"certfile server.crt", "keyfile server.key", "cafile missing-ca.crt"},
			} {
				dir := t.TempDir()
				brokertest.WriteCerts(t, dir)
				conf := append([]string{fmt.Sprintf("listener %d 127.0.0.1", brokertest.FreePort(t))}, files...)
				out := launchFailing(t, dir, conf...)
				all.Log += out.Log
				all.Stderr += out.Stderr
			}
			return all
		},
	},
	{
		id:     "mosquitto/tls-openssl-error-detail",
		desc:   "listeners whose certfile is not PEM, whose keyfile is not PEM, whose cafile is a directory",
		fields: map[string]string{"library": "PEM routines", "reason": "no start line"},
		also:   []string{"mosquitto/tls-listener-file-load-failed"},
		run: func(t *testing.T) output {
			var all output
			for _, files := range [][]string{
				{"certfile notpem.crt", "keyfile server.key"},
				{"certfile server.crt", "keyfile notpem.key"},
				{"certfile server.crt", "keyfile server.key", "cafile certs.d"},
			} {
				dir := t.TempDir()
				brokertest.WriteCerts(t, dir)
				write(t, dir, "notpem.crt", "not a certificate\n")
				write(t, dir, "notpem.key", "not a key\n")
				if err := os.Mkdir(filepath.Join(dir, "certs.d"), 0o755); err != nil {
					t.Fatal(err)
				}
				conf := append([]string{fmt.Sprintf("listener %d 127.0.0.1", brokertest.FreePort(t))}, files...)
				out := launchFailing(t, dir, conf...)
				all.Log += out.Log
				all.Stderr += out.Stderr
			}
			return all
		},
	},
}

// httpOnTLS writes req, plain, to the TLS listener and waits for the
// broker to close the connection.
func httpOnTLS(t *testing.T, port int, req string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 512)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}
