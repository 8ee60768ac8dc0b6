package clientauth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

func from(remote string, set func(*http.Request)) *http.Request {
	r := request(set)
	r.RemoteAddr = remote + ":40000"
	return r
}

// Wrong credentials from one address are throttled after maxFailures a
// minute (429, ErrThrottled), another address is not, and the right
// credential from the throttled address still passes.
func TestFailuresThrottledPerAddress(t *testing.T) {
	users, tokens := files(t)
	a, err := New(users, tokens)
	if err != nil {
		t.Fatal(err)
	}
	throttled := 0
	for range 300 {
		_, err := a.Identify(from("203.0.113.9", func(r *http.Request) { r.SetBasicAuth("ci", "guess") }))
		if errors.Is(err, ErrThrottled) {
			throttled++
		} else if err == nil {
			t.Fatal("a wrong password passed")
		}
	}
	if throttled != 300-maxFailures {
		t.Errorf("%d of 300 wrong attempts throttled, want %d", throttled, 300-maxFailures)
	}
	if _, err := a.Identify(from("198.51.100.7", func(r *http.Request) { r.SetBasicAuth("ci", "guess") })); errors.Is(err, ErrThrottled) {
		t.Error("another address is throttled")
	}
	if name, err := a.Identify(from("203.0.113.9", func(r *http.Request) { r.SetBasicAuth("ci", "s3cret") })); err != nil || name != "ci" {
		t.Errorf("the right password from a throttled address: %q, %v", name, err)
	}
}

// Guessers with unknown names, many at once, never run more bcrypt checks
// at a time than the slots allow (half the cores, and one for every
// throttled address together).
func TestConcurrentChecksCapped(t *testing.T) {
	users, tokens := files(t)
	a, err := New(users, tokens)
	if err != nil {
		t.Fatal(err)
	}
	bcryptPeak.Store(0)
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				a.Identify(from(fmt.Sprintf("192.0.2.%d", i), func(r *http.Request) { r.SetBasicAuth(fmt.Sprintf("u%d-%d", i, j), "x") }))
			}
		}()
	}
	wg.Wait()
	if peak, limit := bcryptPeak.Load(), int32(cap(a.slots)+cap(a.penalty)); peak > limit || peak == 0 {
		t.Errorf("%d bcrypt checks at once, limit %d", peak, limit)
	}
}

// An unknown name costs what a known one does: the dummy hash has the
// users' cost (htpasswd -B writes 5; bcrypt's default is 10).
func TestUnknownUserCostsTheSame(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i, cost := range []int{5, 5, 7} {
		h, _ := bcrypt.GenerateFromPassword([]byte("pw"), cost)
		lines = append(lines, fmt.Sprintf("u%d:%s", i, h))
	}
	p := filepath.Join(dir, "users")
	os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	a, err := New(p, "")
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := bcrypt.Cost(a.dummy); c != 5 {
		t.Errorf("dummy hash cost %d, want the users' 5", c)
	}
}

// A users file read while it is rewritten (empty, or cut in the middle
// of a hash) is not taken as "no users": the credentials read before stay
// in force, and the operator is told.
func TestFileMidRewriteKeepsCredentials(t *testing.T) {
	users, tokens := files(t)
	a, err := New(users, tokens)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	a.now = func() time.Time { return clock }
	var reloadErrs []error
	a.OnReloadError = func(err error) { reloadErrs = append(reloadErrs, err) }
	whole, _ := os.ReadFile(users)
	for i, content := range [][]byte{{}, whole[:len(whole)-20]} {
		os.WriteFile(users, content, 0o600)
		clock = clock.Add(2 * time.Second)
		os.Chtimes(users, clock, clock)
		if name, err := a.Identify(from("192.0.2.1", func(r *http.Request) { r.SetBasicAuth("ci", "s3cret") })); err != nil || name != "ci" {
			t.Errorf("rewrite %d: the user is refused: %v", i, err)
		}
		a.mu.Lock()
		a.verified = map[[32]byte]verified{} // the next check reads the hashes, not the cache
		a.mu.Unlock()
	}
	if len(reloadErrs) != 2 {
		t.Errorf("reload errors: %v", reloadErrs)
	}
	// A comment alone is "nobody", on purpose.
	os.WriteFile(users, []byte("# nobody for now\n"), 0o600)
	clock = clock.Add(2 * time.Second)
	os.Chtimes(users, clock, clock)
	if _, err := a.Identify(from("192.0.2.1", func(r *http.Request) { r.SetBasicAuth("ci", "s3cret") })); err == nil {
		t.Error("a file emptied on purpose still lets the user in")
	}
}
