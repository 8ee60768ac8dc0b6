// Package clientauth decides who may use the index: HTTP basic users
// (bcrypt hashes, one "name:hash" per line as `htpasswd -B` writes them)
// and bearer tokens (one "name:sha256-hex-of-the-token" per line), each
// from a file read again when it changes. A verified credential is
// remembered by its sha256 for a few minutes, so bcrypt does not run on
// every request of an install.
package clientauth

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"airlock/authlimit"
)

// Authenticator is safe for concurrent use.
type Authenticator struct {
	usersFile, tokensFile string
	now                   func() time.Time
	// limiter counts failures per address; slots bound the bcrypt checks
	// running at once, and penalty the ones of addresses that failed too
	// often (they share one), so guessers cannot keep the cores busy.
	limiter        *authlimit.Limiter
	slots, penalty chan struct{}

	mu        sync.Mutex
	users     map[string][]byte // name -> bcrypt hash
	dummy     []byte            // a hash at the users' cost, for unknown names
	tokens    map[string]string // sha256 hex -> name
	stamps    [2]string         // files' size and mtime when read
	checkedAt time.Time
	verified  map[[32]byte]verified
	// OnReloadError is told when a changed file cannot be read; the
	// credentials read before stay in force.
	OnReloadError func(error)
}

type verified struct {
	name  string
	until time.Time
}

// verifiedFor is how long a verified credential is believed without
// bcrypt; a changed file forgets them all at once.
const verifiedFor = 5 * time.Minute

// reloadCheckEvery bounds how often the files are looked at.
const reloadCheckEvery = time.Second

// New reads the files (either may be empty, not both).
func New(usersFile, tokensFile string) (*Authenticator, error) {
	if usersFile == "" && tokensFile == "" {
		return nil, fmt.Errorf("clientauth: no users file and no tokens file")
	}
	a := &Authenticator{usersFile: usersFile, tokensFile: tokensFile, now: time.Now,
		limiter: authlimit.New(maxFailures, time.Minute, nil),
		slots:   make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)), penalty: make(chan struct{}, 1)}
	if err := a.load(); err != nil {
		return nil, err
	}
	return a, nil
}

// maxFailures is how many wrong credentials an address may send a minute
// before its attempts are answered 429 (a right one still passes).
const maxFailures = 20

// ErrThrottled: the address sent too many wrong credentials lately.
var ErrThrottled = authlimit.ErrThrottled

// Share counts failures in c (the store), so every replica throttles a
// guesser alike.
func (a *Authenticator) Share(c authlimit.Counter) { a.limiter.Share(c) }

func stamp(path string) string {
	if path == "" {
		return ""
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "missing"
	}
	return fmt.Sprintf("%d/%d", fi.Size(), fi.ModTime().UnixNano())
}

func (a *Authenticator) load() error {
	users, tokens := map[string][]byte{}, map[string]string{}
	if a.usersFile != "" {
		if err := readLines(a.usersFile, func(name, value string) error {
			// A whole hash or none: a file read while it is rewritten
			// may end in the middle of one.
			if _, err := bcrypt.Cost([]byte(value)); err != nil || len(value) != 60 {
				return fmt.Errorf("the password of %q is not a bcrypt hash (htpasswd -B)", name)
			}
			users[name] = []byte(value)
			return nil
		}); err != nil {
			return err
		}
	}
	if a.tokensFile != "" {
		if err := readLines(a.tokensFile, func(name, value string) error {
			if b, err := hex.DecodeString(value); err != nil || len(b) != sha256.Size {
				return fmt.Errorf("the token of %q is not a sha256 in hex (sha256sum of the token)", name)
			}
			tokens[strings.ToLower(value)] = name
			return nil
		}); err != nil {
			return err
		}
	}
	dummy, err := dummyFor(users, a.dummy)
	if err != nil {
		return err
	}
	a.users, a.tokens, a.dummy = users, tokens, dummy
	a.stamps = [2]string{stamp(a.usersFile), stamp(a.tokensFile)}
	a.verified = map[[32]byte]verified{}
	return nil
}

// dummyFor is a hash at the cost most of the users' hashes have: an
// unknown name then takes as long to refuse as a known one with a wrong
// password (htpasswd -B writes cost 5; bcrypt's default is 10).
func dummyFor(users map[string][]byte, old []byte) ([]byte, error) {
	counts := map[int]int{}
	cost := bcrypt.DefaultCost
	for _, h := range users {
		c, _ := bcrypt.Cost(h)
		if counts[c]++; counts[c] > counts[cost] || (counts[c] == counts[cost] && c > cost) {
			cost = c
		}
	}
	if c, err := bcrypt.Cost(old); err == nil && c == cost {
		return old, nil
	}
	return bcrypt.GenerateFromPassword([]byte("airlock-unknown-user"), cost)
}

// readLines reads "name:value" lines; blank lines and # comments are skipped.
// An empty file is taken for one being rewritten, and refused: emptying it
// on purpose is done with a comment line.
func readLines(path string, add func(name, value string) error) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("clientauth: %w", err)
	}
	if len(data) == 0 {
		return fmt.Errorf("clientauth: %s is empty (being rewritten?); to allow nobody, leave a # comment in it", path)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || value == "" {
			return fmt.Errorf("clientauth: %s line %d: want name:value", path, n)
		}
		if err := add(name, value); err != nil {
			return fmt.Errorf("clientauth: %s line %d: %v", path, n, err)
		}
	}
	return nil
}

// reloadIfChanged reads the files again when their size or time changed.
func (a *Authenticator) reloadIfChanged() {
	now := a.now()
	if now.Sub(a.checkedAt) < reloadCheckEvery {
		return
	}
	a.checkedAt = now
	if [2]string{stamp(a.usersFile), stamp(a.tokensFile)} == a.stamps {
		return
	}
	if err := a.load(); err != nil && a.OnReloadError != nil {
		a.OnReloadError(err)
	}
}

// Identify returns the name the request authenticates as, or why not.
func (a *Authenticator) Identify(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", fmt.Errorf("credentials required: put them in the index URL (https://USER:PASSWORD@host/simple/), in .netrc or a keyring")
	}
	key := sha256.Sum256([]byte(h))
	a.mu.Lock()
	a.reloadIfChanged()
	if v, ok := a.verified[key]; ok && a.now().Before(v.until) {
		a.mu.Unlock()
		return v.name, nil
	}
	users, tokens, dummy := a.users, a.tokens, a.dummy
	a.mu.Unlock()

	ctx := r.Context()
	remote := authlimit.Remote(r)
	blocked := a.limiter.Blocked(ctx, remote)
	slots := a.slots
	if blocked {
		slots = a.penalty
	}
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	name, err := check(r, users, tokens, dummy)
	<-slots
	if err != nil {
		a.limiter.Fail(ctx, remote)
		if blocked {
			return "", ErrThrottled
		}
		return "", err
	}
	a.mu.Lock()
	a.verified[key] = verified{name: name, until: a.now().Add(verifiedFor)}
	a.mu.Unlock()
	return name, nil
}

// bcryptRunning counts the checks in flight (for the test of the cap).
var bcryptRunning, bcryptPeak atomic.Int32

func compare(hash, password []byte) error {
	n := bcryptRunning.Add(1)
	defer bcryptRunning.Add(-1)
	for p := bcryptPeak.Load(); n > p && !bcryptPeak.CompareAndSwap(p, n); p = bcryptPeak.Load() {
	}
	return bcrypt.CompareHashAndPassword(hash, password)
}

func check(r *http.Request, users map[string][]byte, tokens map[string]string, dummy []byte) (string, error) {
	if user, password, ok := r.BasicAuth(); ok {
		hash, known := users[user]
		if !known {
			// Spend the same time as for a known user.
			compare(dummy, []byte(password))
			return "", fmt.Errorf("wrong user or password")
		}
		if compare(hash, []byte(password)) != nil {
			return "", fmt.Errorf("wrong user or password")
		}
		return user, nil
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		want := hex.EncodeToString(sum[:])
		for h, name := range tokens {
			if subtle.ConstantTimeCompare([]byte(h), []byte(want)) == 1 {
				return name, nil
			}
		}
		return "", fmt.Errorf("unknown token")
	}
	return "", fmt.Errorf("unsupported Authorization scheme: use HTTP basic or a bearer token")
}

// Token names the holder of a bearer token (a reviewer's, from a tokens
// file), or says it is unknown. Wrong tokens count against remote as
// wrong credentials do.
func (a *Authenticator) Token(r *http.Request, token string) (string, error) {
	req := r.Clone(r.Context())
	req.Header.Set("Authorization", "Bearer "+token)
	return a.Identify(req)
}
