package reviewauth

import (
	"airlock/clientauth"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// The admin token names nobody, a reviewer's own token names them, a
// wrong token is refused and counted per address until that address is
// throttled; the right token still signs in from it, and another address
// is not throttled.
func TestCheck(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	sum := sha256.Sum256([]byte("alice-secret"))
	file := filepath.Join(dir, "reviewers")
	if err := os.WriteFile(file, []byte("alice:"+hex.EncodeToString(sum[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reviewers, err := clientauth.New("", file)
	if err != nil {
		t.Fatal(err)
	}
	c := New(Options{Token: "admin-secret", Reviewers: reviewers})
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "192.0.2.1:1000"
	if who, err := c.Check(ctx, req, "admin-secret"); err != nil || who.Own() {
		t.Errorf("admin token: %+v %v", who, err)
	}
	if who, err := c.Check(ctx, req, "alice-secret"); err != nil || who.Reviewer != "alice" {
		t.Errorf("own token: %+v %v", who, err)
	}
	var last error
	for range 12 {
		_, last = c.Check(ctx, req, "guess")
	}
	if !errors.Is(last, ErrThrottled) {
		t.Errorf("after 12 wrong tokens: %v, want throttled", last)
	}
	if _, err := c.Check(ctx, req, "admin-secret"); err != nil {
		t.Errorf("the right token refused while throttled: %v", err)
	}
	other := httptest.NewRequest("GET", "/", nil)
	other.RemoteAddr = "192.0.2.2:1000"
	if _, err := c.Check(ctx, other, "guess"); !errors.Is(err, ErrWrong) {
		t.Errorf("another address: %v, want wrong, not throttled", err)
	}
	if New(Options{}).Enabled() || (*Checker)(nil).Enabled() {
		t.Error("no admin token: nobody signs in")
	}
	if _, err := New(Options{}).Check(ctx, req, ""); !errors.Is(err, ErrWrong) {
		t.Errorf("no admin token, empty token: %v", err)
	}
}
