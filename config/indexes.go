package config

import (
	"airlock/index"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"airlock/upstream"
)

// PrivateIndex is one entry of `indexes:`: a further upstream, usually an
// organisation's own index, that alone answers for the projects it owns.
type PrivateIndex struct {
	// Name identifies the index in policy.indexes, logs and the review page.
	Name string `yaml:"name"`
	// URL is the base under which its /simple/ lives, like upstream.url.
	URL string `yaml:"url"`
	// FileHosts are origins its files may come from besides its own.
	FileHosts []string `yaml:"file_hosts"`
	// Projects are names and globs it owns. The names its /simple/ list
	// shows are owned too.
	Projects []string `yaml:"projects"`
	// Credentials: basic auth (Username with a password from PasswordEnv
	// or PasswordFile) or a bearer token (TokenEnv or TokenFile). Values
	// are read at start and never logged; they are sent only to the
	// index's own origin.
	Username     string `yaml:"username"`
	PasswordEnv  string `yaml:"password_env"`
	PasswordFile string `yaml:"password_file"`
	TokenEnv     string `yaml:"token_env"`
	TokenFile    string `yaml:"token_file"`
	// ListRefresh is how often its /simple/ list is read to learn the
	// names it serves.
	ListRefresh Duration `yaml:"list_refresh"`
}

// IndexPolicy is `policy.indexes.<name>`: which checks apply to a private
// index's files. By default only the hash check and content inspection do
// (an organisation's own releases install at once); each key turns a
// family of checks back on.
type IndexPolicy struct {
	Cooldown          bool `yaml:"cooldown"`            // cooldown, risk-adaptive cooldown, not_after
	MissingUploadTime bool `yaml:"missing_upload_time"` // hold files without an upload time
	Attestations      bool `yaml:"attestations"`        // PEP 740, from the index's Integrity API
	Behaviour         bool `yaml:"behaviour"`           // score, flags, source release
}

// Credentials reads an index's credentials: a user and password for basic
// auth, or a bearer token; all empty when it has none.
func (ix PrivateIndex) Credentials(getenv func(string) string) (user, password, token string, err error) {
	read := func(env, file, what string) (string, error) {
		if env != "" {
			v := getenv(env)
			if v == "" {
				return "", fmt.Errorf("config: indexes[%s].%s_env: %s is empty or unset", ix.Name, what, env)
			}
			return v, nil
		}
		if file != "" {
			b, err := os.ReadFile(file)
			if err != nil {
				return "", fmt.Errorf("config: indexes[%s].%s_file: %w", ix.Name, what, err)
			}
			return strings.TrimSpace(string(b)), nil
		}
		return "", nil
	}
	if password, err = read(ix.PasswordEnv, ix.PasswordFile, "password"); err != nil {
		return
	}
	if token, err = read(ix.TokenEnv, ix.TokenFile, "token"); err != nil {
		return
	}
	return ix.Username, password, token, nil
}

// BaseURL parses the index's URL.
func (ix PrivateIndex) BaseURL() *url.URL {
	u, _ := url.Parse(strings.TrimRight(ix.URL, "/"))
	return u
}

func (c Config) validateIndexes() error {
	seen := map[string]bool{}
	for i, ix := range c.Indexes {
		key := fmt.Sprintf("config: indexes[%d]", i)
		if ix.Name == "" || strings.ContainsAny(ix.Name, " /\\\"'<>&") {
			return fmt.Errorf("%s.name: %q: give each index a short name (letters, digits, - _ .)", key, ix.Name)
		}
		key = "config: indexes[" + ix.Name + "]"
		if seen[ix.Name] {
			return fmt.Errorf("%s: the name is used twice", key)
		}
		seen[ix.Name] = true
		u, err := url.Parse(ix.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("%s.url: %q is not an http(s) URL without query", key, ix.URL)
		}
		if u.User != nil {
			return fmt.Errorf("%s.url: put credentials in username/password_env (or token_env), not in the URL", key)
		}
		for _, h := range ix.FileHosts {
			if _, err := upstream.ParseOrigin(h); err != nil {
				return fmt.Errorf("%s.file_hosts: %v", key, err)
			}
		}
		for _, p := range ix.Projects {
			if _, err := index.NormalizeGlob(p); err != nil {
				return fmt.Errorf("%s.projects: %q is not a name or glob", key, p)
			}
		}
		if (ix.PasswordEnv != "" && ix.PasswordFile != "") || (ix.TokenEnv != "" && ix.TokenFile != "") {
			return fmt.Errorf("%s: give a credential from the environment or a file, not both", key)
		}
		if (ix.PasswordEnv != "" || ix.PasswordFile != "") && ix.Username == "" {
			return fmt.Errorf("%s: a password needs a username", key)
		}
		if ix.Username != "" && (ix.TokenEnv != "" || ix.TokenFile != "") {
			return fmt.Errorf("%s: basic auth or a token, not both", key)
		}
		if ix.ListRefresh != 0 && time.Duration(ix.ListRefresh) < time.Second {
			return fmt.Errorf("%s.list_refresh: at least 1s", key)
		}
	}
	for name, ip := range c.Policy.Indexes {
		if !seen[name] {
			return fmt.Errorf("config: policy.indexes.%s: no index of that name in indexes", name)
		}
		// Their inputs would come from public sources (PyPI's Integrity
		// API, pypistats, GitHub), which must not learn private names.
		if ip.Attestations || ip.Behaviour {
			return fmt.Errorf("config: policy.indexes.%s: attestations and behaviour cannot be turned on for a private index yet (only cooldown and missing_upload_time)", name)
		}
	}
	return nil
}

// Patterns are the index's projects spelled as names are normalized
// ("Acme_*" is "acme-*"), as the router matches them.
func (ix PrivateIndex) Patterns() []string {
	out := make([]string, 0, len(ix.Projects))
	for _, p := range ix.Projects {
		if n, err := index.NormalizeGlob(p); err == nil {
			out = append(out, n)
		}
	}
	return out
}
