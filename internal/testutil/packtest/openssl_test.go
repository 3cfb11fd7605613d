package packtest

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/mqttdiag/mqttdiag/internal/testutil/brokertest"
)

// opensslForms are, for each TLS signature, the OpenSSL 3 packed error
// codes of its reasons (ERR_LIB_SSL 20 << 23 | reason, ERR_LIB_SYS 2 for
// errno; reason numbers from /usr/include/openssl/sslerr.h, which agree
// with 1.0.2's ssl.h and 1.1.1's sslerr.h), and its OpenSSL 1.0.2 and
// 1.1.1 function-code lines, derived from those versions' sslerr.h/ssl.h
// and ssl_err.c (see the signatures' verification notes).
var opensslForms = []struct {
	id      string
	code3   string   // printed by the installed OpenSSL 3 with `openssl errstr`
	legacy  []string // 1.0.2 and 1.1.1 forms of the same reason
	address bool     // also reported on the connection line ("Client connection from ... failed: ...")
}{
	{"mosquitto/tls-client-certificate-verify-failed", "0A000086", []string{
		"error:14089086:SSL routines:ssl3_get_client_certificate:certificate verify failed",            // 1.0.2 server
		"error:1417C086:SSL routines:tls_process_client_certificate:certificate verify failed",         // 1.1.1 server
		"error:14090086:SSL routines:ssl3_get_server_certificate:certificate verify failed",            // 1.0.2 bridge
		"error:1416F086:SSL routines:tls_process_server_certificate:certificate verify failed"}, true}, // 1.1.1 bridge
	{"mosquitto/tls-client-certificate-missing", "0A0000C7", []string{
		"error:140890C7:SSL routines:ssl3_get_client_certificate:peer did not return a certificate",
		"error:1417C0C7:SSL routines:tls_process_client_certificate:peer did not return a certificate"}, true},
	{"mosquitto/tls-plain-client-on-tls-listener", "0A00010B", []string{
		"error:1408F10B:SSL routines:ssl3_get_record:wrong version number",
		"error:1408F10B:SSL routines:SSL3_GET_RECORD:wrong version number",
		"error:140760FC:SSL routines:SSL23_GET_CLIENT_HELLO:unknown protocol"}, true},
	{"mosquitto/tls-plain-client-on-tls-listener", "0A0000FC", nil, true},
	{"mosquitto/tls-plain-client-on-tls-listener", "0A00009C", []string{
		"error:1408F09C:SSL routines:ssl3_get_record:http request",
		"error:1407609C:SSL routines:SSL23_GET_CLIENT_HELLO:http request"}, true},
	{"mosquitto/tls-plain-client-on-tls-listener", "0A00009B", nil, true},
	{"mosquitto/tls-unsupported-protocol", "0A00042E", []string{
		"error:1409442E:SSL routines:SSL3_READ_BYTES:tlsv1 alert protocol version",
		"error:1409442E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol version"}, true},
	{"mosquitto/tls-alert-certificate-unknown", "0A000416", []string{
		"error:14094416:SSL routines:ssl3_read_bytes:sslv3 alert certificate unknown"}, true},
	{"mosquitto/tls-alert-certificate-unknown", "0A000412", []string{
		"error:14094412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate"}, true},
	{"mosquitto/tls-handshake-failure", "0A0000C1", []string{
		"error:1417A0C1:SSL routines:tls_post_process_client_hello:no shared cipher",
		"error:1408A0C1:SSL routines:SSL3_GET_CLIENT_HELLO:no shared cipher"}, true},
	{"mosquitto/tls-handshake-failure", "0A000410", []string{
		"error:14094410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure"}, true},
	{"mosquitto/tls-handshake-failure", "0A0000E5", []string{
		"error:140940E5:SSL routines:SSL3_READ_BYTES:ssl handshake failure"}, true},
	{"mosquitto/tls-unsupported-protocol", "0A000102", []string{
		"error:14209102:SSL routines:tls_early_post_process_client_hello:unsupported protocol"}, true},
	{"mosquitto/tls-alert-unknown-ca", "0A000418", []string{
		"error:14094418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca"}, true},
	{"mosquitto/tls-alert-certificate-expired", "0A000415", []string{
		"error:14094415:SSL routines:ssl3_read_bytes:sslv3 alert certificate expired"}, true},
	{"mosquitto/tls-openssl-error-detail", "80000002", []string{
		"error:02001002:system library:fopen:No such file or directory"}, false},
	{"mosquitto/tls-openssl-error-detail", "8000000D", []string{
		"error:0200100D:system library:fopen:Permission denied"}, false},
}

// TestOpenSSLWordingAcrossVersions: each TLS signature matches its error
// as the installed OpenSSL 3 prints it (`openssl errstr`, the string
// ERR_error_string_n gives Mosquitto) and in the 1.0.2 and 1.1.1
// function-code forms, on both lines Mosquitto prints it on: 'OpenSSL
// Error[n]: ' (2.0; 'OpenSSL Error: ' before 1.6.9) and, for handshake
// errors, 'Client connection from <address> failed: <e>.'.
func TestOpenSSLWordingAcrossVersions(t *testing.T) {
	bin := brokertest.RequireTool(t, "openssl")
	_, m := builtin(t)
	for _, f := range opensslForms {
		out, err := exec.Command(bin, "errstr", f.code3).Output()
		if err != nil {
			t.Fatalf("openssl errstr %s: %v", f.code3, err)
		}
		e3 := strings.TrimSpace(string(out))
		if !strings.HasPrefix(e3, "error:"+f.code3+":") {
			t.Fatalf("openssl errstr %s printed %q", f.code3, e3)
		}
		for _, e := range append([]string{e3}, f.legacy...) {
			lines := []string{"OpenSSL Error[0]: " + e, "OpenSSL Error: " + e}
			if f.address {
				lines = append(lines, fmt.Sprintf("Client connection from 10.0.0.7 failed: %s.", e))
			}
			for _, l := range lines {
				found := false
				for _, h := range m.MatchBroker("mosquitto", l) {
					found = found || h.Signature.ID == f.id
				}
				if !found {
					t.Errorf("%s does not match %q", f.id, l)
				}
			}
		}
	}
}
