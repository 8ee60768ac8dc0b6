package clientauth

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func files(t *testing.T) (users, tokens string) {
	dir := t.TempDir()
	h, _ := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	users = filepath.Join(dir, "users")
	os.WriteFile(users, []byte("# CI runners\nci:"+string(h)+"\n"), 0o600)
	sum := sha256.Sum256([]byte("tok-0123456789"))
	tokens = filepath.Join(dir, "tokens")
	os.WriteFile(tokens, []byte("bot:"+hex.EncodeToString(sum[:])+"\n"), 0o600)
	return users, tokens
}

func request(set func(*http.Request)) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "http://airlock/simple/", nil)
	if set != nil {
		set(r)
	}
	return r
}

func TestBasicUsersAndTokens(t *testing.T) {
	users, tokens := files(t)
	a, err := New(users, tokens)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		set  func(*http.Request)
		want string
	}{
		"basic":         {func(r *http.Request) { r.SetBasicAuth("ci", "s3cret") }, "ci"},
		"bearer":        {func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok-0123456789") }, "bot"},
		"wrong pass":    {func(r *http.Request) { r.SetBasicAuth("ci", "nope") }, ""},
		"unknown user":  {func(r *http.Request) { r.SetBasicAuth("eve", "s3cret") }, ""},
		"wrong token":   {func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok-x") }, ""},
		"none":          {nil, ""},
		"other scheme":  {func(r *http.Request) { r.Header.Set("Authorization", "Digest x") }, ""},
		"basic, cached": {func(r *http.Request) { r.SetBasicAuth("ci", "s3cret") }, "ci"},
	} {
		got, err := a.Identify(request(c.set))
		if got != c.want || (c.want == "") != (err != nil) {
			t.Errorf("%s: %q, %v; want %q", name, got, err, c.want)
		}
	}
	if _, err := a.Identify(request(nil)); err == nil || !strings.Contains(err.Error(), "netrc") {
		t.Errorf("no credentials: %v should say where they go", err)
	}
}

// A changed file is read again: a removed user is refused at once, even
// one whose credential was remembered; a broken file keeps the old users.
func TestFilesAreReloaded(t *testing.T) {
	users, tokens := files(t)
	a, err := New(users, tokens)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a.now = func() time.Time { return now }
	basic := func(r *http.Request) { r.SetBasicAuth("ci", "s3cret") }
	if name, _ := a.Identify(request(basic)); name != "ci" {
		t.Fatal("ci refused")
	}
	h, _ := bcrypt.GenerateFromPassword([]byte("other"), bcrypt.MinCost)
	os.WriteFile(users, []byte("dev:"+string(h)+"\n"), 0o600)
	os.Chtimes(users, now.Add(time.Minute), now.Add(time.Minute))
	now = now.Add(2 * time.Second)
	if name, err := a.Identify(request(basic)); err == nil {
		t.Errorf("removed user still accepted as %q", name)
	}
	if name, _ := a.Identify(request(func(r *http.Request) { r.SetBasicAuth("dev", "other") })); name != "dev" {
		t.Error("added user refused")
	}
	var reloadErr error
	a.OnReloadError = func(err error) { reloadErr = err }
	os.WriteFile(users, []byte("dev:plaintext\n"), 0o600)
	os.Chtimes(users, now.Add(2*time.Minute), now.Add(2*time.Minute))
	now = now.Add(2 * time.Second)
	if name, _ := a.Identify(request(func(r *http.Request) { r.SetBasicAuth("dev", "other") })); name != "dev" || reloadErr == nil {
		t.Errorf("a broken file: %q, reload error %v; want the old users kept and the error reported", name, reloadErr)
	}
	if _, err := New(users, ""); err == nil || !strings.Contains(err.Error(), "bcrypt") {
		t.Errorf("plaintext password accepted: %v", err)
	}
}
