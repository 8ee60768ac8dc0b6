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
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Authenticator is safe for concurrent use.
type Authenticator struct {
	usersFile, tokensFile string
	now                   func() time.Time

	mu        sync.Mutex
	users     map[string][]byte // name -> bcrypt hash
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
	a := &Authenticator{usersFile: usersFile, tokensFile: tokensFile, now: time.Now}
	if err := a.load(); err != nil {
		return nil, err
	}
	return a, nil
}

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
			if !strings.HasPrefix(value, "$2") {
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
	a.users, a.tokens = users, tokens
	a.stamps = [2]string{stamp(a.usersFile), stamp(a.tokensFile)}
	a.verified = map[[32]byte]verified{}
	return nil
}

// readLines reads "name:value" lines; blank lines and # comments are skipped.
func readLines(path string, add func(name, value string) error) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("clientauth: %w", err)
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
	users, tokens := a.users, a.tokens
	a.mu.Unlock()

	name, err := check(r, users, tokens)
	if err != nil {
		return "", err
	}
	a.mu.Lock()
	a.verified[key] = verified{name: name, until: a.now().Add(verifiedFor)}
	a.mu.Unlock()
	return name, nil
}

func check(r *http.Request, users map[string][]byte, tokens map[string]string) (string, error) {
	if user, password, ok := r.BasicAuth(); ok {
		hash, known := users[user]
		if !known {
			// Spend the same time as for a known user.
			bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
			return "", fmt.Errorf("wrong user or password")
		}
		if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
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

var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("airlock"), bcrypt.DefaultCost)
