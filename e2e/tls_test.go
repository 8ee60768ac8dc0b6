package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
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
	a := startAirlock(t, t.TempDir(), airlockEnv(fake, "AIRLOCK_TLS_CERT_FILE="+cert, "AIRLOCK_TLS_KEY_FILE="+key, "AIRLOCK_ADMIN_TOKEN=tls-token-0123456789abcdefghijklmno")...)
	base := strings.Replace(a.URL, "http://", "https://", 1)
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Get(base + "/ui/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var loginCSRF *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "airlock_login_csrf" {
			loginCSRF = c
		}
	}
	_, rest, _ := strings.Cut(string(body), `name="csrf" value="`)
	csrf, _, _ := strings.Cut(rest, `"`)
	if loginCSRF == nil || !loginCSRF.Secure || csrf == "" {
		t.Fatalf("login page over TLS: cookie %+v", loginCSRF)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/ui/login", strings.NewReader(url.Values{"token": {"tls-token-0123456789abcdefghijklmno"}, "csrf": {csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: loginCSRF.Name, Value: loginCSRF.Value})
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "airlock_session" {
			session = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil || !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
		t.Errorf("session over TLS: %d %+v", resp.StatusCode, session)
	}
	// A bad certificate path is a clear start-up error.
	if _, err := launch(t, t.TempDir(), airlockEnv(fake, "AIRLOCK_TLS_CERT_FILE=/nonexistent.pem", "AIRLOCK_TLS_KEY_FILE="+key)...); err == nil || !strings.Contains(err.Error(), "tls:") {
		t.Errorf("bad certificate: %v", err)
	}
}
