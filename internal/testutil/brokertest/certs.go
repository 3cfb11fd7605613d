package brokertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Certs names PEM files written by WriteCerts. They are generated in Go at
// test time so that no openssl binary is needed and nothing expires in the
// repository.
type Certs struct {
	CA            string // CA certificate that signed everything below except Foreign*
	Server        string // server certificate for localhost and 127.0.0.1
	ServerKey     string
	ExpiredServer string // server certificate that expired yesterday
	ExpiredKey    string
	Client        string // client certificate, CN "device-1"
	ClientKey     string
	ExpiredClient string // client certificate that expired yesterday
	ExpiredCKey   string
	ForeignCA     string // a second CA that signed nothing the broker trusts
	Foreign       string // client certificate signed by ForeignCA
	ForeignKey    string
}

// WriteCerts generates a small PKI into dir with fixed file names
// (ca.crt, server.crt, server.key, ...).
func WriteCerts(t testing.TB, dir string) Certs {
	t.Helper()
	now := time.Now()
	valid := [2]time.Time{now.Add(-time.Hour), now.Add(24 * time.Hour)}
	expired := [2]time.Time{now.Add(-48 * time.Hour), now.Add(-24 * time.Hour)}
	p := func(name string) string { return filepath.Join(dir, name) }
	c := Certs{
		CA: p("ca.crt"), Server: p("server.crt"), ServerKey: p("server.key"),
		ExpiredServer: p("expired-server.crt"), ExpiredKey: p("expired-server.key"),
		Client: p("client.crt"), ClientKey: p("client.key"),
		ExpiredClient: p("expired-client.crt"), ExpiredCKey: p("expired-client.key"),
		ForeignCA: p("foreign-ca.crt"), Foreign: p("foreign-client.crt"), ForeignKey: p("foreign-client.key"),
	}
	ca, caKey := newCert(t, "mqttdiag test CA", valid, nil, nil, true, false)
	writePEM(t, c.CA, ca, nil)
	fca, fcaKey := newCert(t, "somebody else's CA", valid, nil, nil, true, false)
	writePEM(t, c.ForeignCA, fca, nil)
	for _, x := range []struct {
		crt, key, cn string
		when         [2]time.Time
		server       bool
		parent       *x509.Certificate
		parentKey    *ecdsa.PrivateKey
	}{
		{c.Server, c.ServerKey, "localhost", valid, true, ca, caKey},
		{c.ExpiredServer, c.ExpiredKey, "localhost", expired, true, ca, caKey},
		{c.Client, c.ClientKey, "device-1", valid, false, ca, caKey},
		{c.ExpiredClient, c.ExpiredCKey, "device-expired", expired, false, ca, caKey},
		{c.Foreign, c.ForeignKey, "device-foreign", valid, false, fca, fcaKey},
	} {
		crt, key := newCert(t, x.cn, x.when, x.parent, x.parentKey, false, x.server)
		writePEM(t, x.crt, crt, nil)
		writePEM(t, x.key, nil, key)
	}
	return c
}

func newCert(t testing.TB, cn string, when [2]time.Time, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA, server bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sn, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"mqttdiag tests"}},
		NotBefore:    when[0],
		NotAfter:     when[1],
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if isCA {
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		parent, parentKey = tmpl, key
	} else if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	crt, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return crt, key
}

func writePEM(t testing.TB, path string, crt *x509.Certificate, key *ecdsa.PrivateKey) {
	t.Helper()
	var block *pem.Block
	if crt != nil {
		block = &pem.Block{Type: "CERTIFICATE", Bytes: crt.Raw}
	} else {
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
}
