package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate and key for 127.0.0.1.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "airlock-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	kb, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// TestTLSAndSecureCookie: with tls.cert_file/key_file Airlock serves HTTPS
// and the review page's session cookie is Secure.
func TestTLSAndSecureCookie(t *testing.T) {
	fake := newUpstream(t)
	cert, key := selfSigned(t)
	a := startAirlock(t, t.TempDir(), airlockEnv(fake, "AIRLOCK_TLS_CERT_FILE="+cert, "AIRLOCK_TLS_KEY_FILE="+key, "AIRLOCK_ADMIN_TOKEN="+tlsToken)...)
	loginCSRF, session := signIn(t, strings.Replace(a.URL, "http://", "https://", 1), tlsToken)
	if !loginCSRF.Secure || session == nil || !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
		t.Errorf("over TLS: login cookie %+v, session %+v", loginCSRF, session)
	}
	// A bad certificate path is a clear start-up error.
	if _, err := launch(t, t.TempDir(), airlockEnv(fake, "AIRLOCK_TLS_CERT_FILE=/nonexistent.pem", "AIRLOCK_TLS_KEY_FILE="+key)...); err == nil || !strings.Contains(err.Error(), "tls:") {
		t.Errorf("bad certificate: %v", err)
	}
}

const tlsToken = "tls-token-0123456789abcdefghijklmno"

// TestSecureCookieBehindTLSBalancer: behind nginx terminating TLS (the
// deployment the README shows), the review page's cookies are Secure when
// the balancer is in trusted_proxies and says the client came over HTTPS;
// a plain request to the same Airlock gets no Secure cookie (the browser
// would drop it), and an Airlock that does not trust the balancer ignores
// what it says.
func TestSecureCookieBehindTLSBalancer(t *testing.T) {
	fake := newUpstream(t)
	cert, key := selfSigned(t)
	trusting := startAirlock(t, t.TempDir(), airlockEnv(fake, "AIRLOCK_TRUSTED_PROXIES=127.0.0.1", "AIRLOCK_ADMIN_TOKEN="+tlsToken)...)
	front := tlsBalancer(t, cert, key, trusting.URL)
	loginCSRF, session := signIn(t, front, tlsToken)
	if !loginCSRF.Secure || !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
		t.Errorf("through the TLS balancer: login cookie %+v, session %+v", loginCSRF, session)
	}
	if loginCSRF, session := signIn(t, trusting.URL, tlsToken); loginCSRF.Secure || session.Secure {
		t.Errorf("plain HTTP straight to Airlock: Secure cookies (a browser would drop them)")
	}
	distrusting := startAirlock(t, t.TempDir(), airlockEnv(fake, "AIRLOCK_ADMIN_TOKEN="+tlsToken)...)
	if loginCSRF, session := signIn(t, tlsBalancer(t, cert, key, distrusting.URL), tlsToken); loginCSRF.Secure || session.Secure {
		t.Errorf("a balancer not in trusted_proxies was believed")
	}
}
