package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "airlock.yaml")
	os.WriteFile(p, []byte(body), 0o644)
	return p
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	cfg, err := Load("", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != DefaultListen || cfg.DataDir != "./airlock-data" || cfg.Upstream.URL != "https://pypi.org" ||
		time.Duration(cfg.Index.TTL) != 10*time.Minute || cfg.Upstream.FileHosts[0] != "files.pythonhosted.org" {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestFileThenEnv(t *testing.T) {
	p := write(t, "listen: 127.0.0.1:9999\nupstream:\n  url: http://mirror.internal/root\n  timeout: 5s\n  file_hosts: [a.example]\nindex:\n  ttl: 1d\n")
	cfg, err := Load(p, env(map[string]string{
		"AIRLOCK_UPSTREAM_TIMEOUT":    "P1DT2H",
		"AIRLOCK_UPSTREAM_FILE_HOSTS": "b.example, c.example:8443",
		"AIRLOCK_DATA_DIR":            "/var/lib/airlock",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9999" || cfg.Upstream.URL != "http://mirror.internal/root" || time.Duration(cfg.Index.TTL) != 24*time.Hour {
		t.Errorf("file values: %+v", cfg)
	}
	if time.Duration(cfg.Upstream.Timeout) != 26*time.Hour || strings.Join(cfg.Upstream.FileHosts, ",") != "b.example,c.example:8443" || cfg.DataDir != "/var/lib/airlock" {
		t.Errorf("env overrides: %+v", cfg)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	tests := []struct{ yaml, env, want string }{
		{"upstrem:\n  url: x\n", "", "upstrem"},
		{"upstream:\n  tiemout: 5s\n", "", "tiemout"},
		{"index:\n  ttl: soon\n", "", "soon"},
		{"upstream:\n  url: ftp://x\n", "", "upstream.url"},
		{"listen: nowhere\n", "", "listen"},
		{"index:\n  ttl: 0s\n", "", "index.ttl"},
		{"upstream:\n  max_file_bytes: 12 parsecs\n", "", "parsecs"},
		{"log:\n  level: loud\n", "", "log.level"},
		{"", "AIRLOCK_INDEX_TTL=forever", "AIRLOCK_INDEX_TTL"},
		{"[not: a mapping", "", "yaml"},
	}
	for _, tt := range tests {
		e := map[string]string{}
		if k, v, ok := strings.Cut(tt.env, "="); ok {
			e[k] = v
		}
		_, err := Load(write(t, tt.yaml), env(e))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q %q: error %v does not name %q", tt.yaml, tt.env, err, tt.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"72h": 72 * time.Hour, "7d": 7 * 24 * time.Hour, "P7D": 7 * 24 * time.Hour,
		"PT12H": 12 * time.Hour, "P1DT30M": 24*time.Hour + 30*time.Minute, "0.5d": 12 * time.Hour,
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "P", "PT", "7 days", "-1d", "P1W"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

// TestExampleConfigLoads keeps config.example.yaml honest: it must load and
// state the defaults.
func TestExampleConfigLoads(t *testing.T) {
	cfg, err := Load("../config.example.yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	def := Default()
	if cfg.Listen != def.Listen || cfg.Upstream.URL != def.Upstream.URL || cfg.Index.TTL != def.Index.TTL ||
		cfg.Upstream.Timeout != def.Upstream.Timeout || cfg.Upstream.MaxFileBytes != def.Upstream.MaxFileBytes ||
		cfg.Upstream.MaxPageBytes != def.Upstream.MaxPageBytes || cfg.Upstream.FillTimeout != def.Upstream.FillTimeout ||
		cfg.Index.HeldFiles != def.Index.HeldFiles || cfg.Notify.Timeout != def.Notify.Timeout || cfg.Notify.Retries != def.Notify.Retries {
		t.Errorf("config.example.yaml does not state the defaults: %+v", cfg)
	}
	exampleRules, err := cfg.Policy.Rules()
	if err != nil {
		t.Fatal(err)
	}
	defaultRules, _ := def.Policy.Rules()
	if cfg.Policy.SweepInterval != def.Policy.SweepInterval ||
		exampleRules.Mode != defaultRules.Mode || exampleRules.Default.Cooldown != defaultRules.Default.Cooldown ||
		exampleRules.Default.OnMissingUploadTime != defaultRules.Default.OnMissingUploadTime {
		t.Errorf("config.example.yaml policy differs from the defaults: %+v", exampleRules)
	}
}

func TestPolicySection(t *testing.T) {
	p := write(t, `
policy:
  mode: audit
  cooldown: P3D
  not_after: "2026-03-24T10:00:00Z"
  exempt: [Setuptools, "LiteLLM==1.82.6"]
  actions: {cooldown: warn}
  projects:
    "mycompany-*": {cooldown: 0s, on_missing_upload_time: allow}
    "NumPy": {actions: {not_after: block}}
  attestations:
    require: always
    projects:
      numpy: {publisher: "github:numpy/numpy:wheels.yml"}
      "mycompany-*": {require: never}
sigstore:
  trusted_root: /etc/airlock/root.json
index:
  held_files: hide
admin:
  token: from-file-0123456789abcdefghijklmn
notify:
  webhooks: ["http://127.0.0.1:9/hook"]
`)
	cfg, err := Load(p, env(map[string]string{"AIRLOCK_ADMIN_TOKEN": "from-env-0123456789abcdefghijklmno", "AIRLOCK_POLICY_EXEMPT": "Setuptools,LiteLLM==1.82.6"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Admin.Token != "from-env-0123456789abcdefghijklmno" || cfg.Index.HeldFiles != "hide" || len(cfg.Notify.Webhooks) != 1 {
		t.Errorf("sections: %+v", cfg)
	}
	r, err := cfg.Policy.Rules()
	if err != nil {
		t.Fatal(err)
	}
	if r.Mode != "audit" || r.Default.Cooldown != 72*time.Hour || r.Default.NotAfter.IsZero() || r.Default.Actions["cooldown"] != "warn" {
		t.Errorf("rules: %+v", r)
	}
	if r.Default.RequireAttestation != "always" || *r.Overrides[1].Publisher != "github:numpy/numpy:wheels.yml" || *r.Overrides[0].RequireAttestation != "never" || cfg.Sigstore.TrustedRoot != "/etc/airlock/root.json" {
		t.Errorf("attestations: %+v %+v", r.Default, r.Overrides)
	}
	if strings.Join(r.Exempt, ",") != "setuptools,litellm==1.82.6" {
		t.Errorf("exempt not normalized: %v", r.Exempt)
	}
	if len(r.Overrides) != 2 || r.Overrides[0].Pattern != "mycompany-*" || *r.Overrides[0].Cooldown != 0 || r.Overrides[1].Pattern != "numpy" || r.Overrides[1].Actions["not_after"] != "block" {
		t.Errorf("overrides: %+v", r.Overrides)
	}
}

func TestPolicyErrorsNameTheKey(t *testing.T) {
	for body, want := range map[string]string{
		"policy:\n  mode: strict\n":                                "policy.mode",
		"policy:\n  cooldown: a week\n":                            "a week",
		"policy:\n  on_missing_upload_time: maybe\n":               "policy.on_missing_upload_time",
		"policy:\n  not_after: yesterday\n":                        "policy.not_after",
		"policy:\n  exempt: ['bad name!']\n":                       "policy.exempt",
		"policy:\n  actions: {coldown: hold}\n":                    "coldown",
		"policy:\n  actions: {cooldown: quarantine}\n":             "cooldown",
		"policy:\n  projects: {'[x': {cooldown: 1d}}\n":            "policy.projects.[x",
		"policy:\n  projects: {x: {cooldwn: 1d}}\n":                "cooldwn",
		"policy:\n  projects: {x: {actions: {not_after: nope}}}\n": "policy.projects.x.actions.not_after",
		"index:\n  held_files: shown\n":                            "index.held_files",
		"notify:\n  webhooks: ['ftp://x']\n":                       "notify.webhooks",
		"policy:\n  sweep_interval: 0s\n":                          "policy.sweep_interval",
		"policy:\n  cooldown: 99999999999d\n":                      "too long (at most 36500d)",
		"policy:\n  cooldown: P99999999D\n":                        "too long",
		"admin:\n  token: short\n":                                 "admin.token: 5 characters; use at least 32",
		"admin:\n  listen: nowhere\n":                              "admin.listen",
		"trusted_proxies: ['10.0.0.0/8', 'not-an-ip']\n":           "trusted_proxies",
	} {
		_, err := Load(write(t, body), env(nil))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v does not name %q", body, err, want)
		}
	}
}

func FuzzLoad(f *testing.F) {
	f.Add("listen: 127.0.0.1:1\n")
	f.Add("upstream: {url: 'http://x', timeout: P1D}\n")
	f.Fuzz(func(t *testing.T, body string) {
		p := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(p, []byte(body), 0o644)
		cfg, err := Load(p, env(nil))
		if err == nil {
			if verr := cfg.Validate(); verr != nil {
				t.Fatalf("Load accepted a config Validate rejects: %v", verr)
			}
		}
	})
}

// A config error names the key by its full path and line, and the key that
// was probably meant; never a Go type name.
func TestUnknownKeysAreNamedWithTheirPathAndLine(t *testing.T) {
	for body, want := range map[string]string{
		"listen: 127.0.0.1:3180\npolcy:\n  cooldown: 24h\n":   "unknown key polcy (line 2); did you mean policy?",
		"policy:\n  cooldown: 24h\n  cooldwn: 24h\n":          "unknown key policy.cooldwn (line 3); did you mean cooldown?",
		"upstream:\n  urll: https://pypi.org\n":               "unknown key upstream.urll (line 2); did you mean url?",
		"signals:\n  weights:\n    agee: 3\n":                 "unknown key signals.weights.agee (line 3); did you mean age?",
		"zzzzzzzz: 1\n":                                       "unknown key zzzzzzzz (line 1)",
		"policy: 3\n":                                         "policy (line 1): expected a mapping",
		"notify:\n  webhooks:\n    - url: http://x.example\n": "notify.webhooks[0] (line 3): expected a single value",
	} {
		_, err := Load(write(t, body), env(nil))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want it to contain %q", body, err, want)
			continue
		}
		if strings.Contains(err.Error(), "config.") && !strings.Contains(err.Error(), "config ") || strings.Contains(err.Error(), "type ") {
			t.Errorf("%q: error %q shows Go internals", body, err)
		}
	}
	if _, err := Load(write(t, "zzzzzzzz: 1\n"), env(nil)); strings.Contains(err.Error(), "did you mean") {
		t.Errorf("a key near nothing got a suggestion: %v", err)
	}
}

func TestUnknownEnvironmentVariableIsAnError(t *testing.T) {
	err := CheckEnvironment([]string{"PATH=/bin", "AIRLOCK_UPSTREAM_URL=https://x.example", "AIRLOCK_POLICY_COOLDOWNN=1h"})
	if err == nil || !strings.Contains(err.Error(), "AIRLOCK_POLICY_COOLDOWNN; did you mean AIRLOCK_POLICY_COOLDOWN?") {
		t.Errorf("misspelt variable: %v", err)
	}
	// Every key's variable, and the commands' own, are accepted.
	var all []string
	for _, n := range EnvNames() {
		all = append(all, n+"=x")
	}
	if err := CheckEnvironment(all); err != nil {
		t.Errorf("known variables refused: %v", err)
	}
	for _, want := range []string{"AIRLOCK_POLICY_COOLDOWN", "AIRLOCK_SERVER_READ_TIMEOUT", "AIRLOCK_ADMIN_TOKEN", "AIRLOCK_SERVER", "AIRLOCK_GITHUB_TOKEN", "AIRLOCK_SIGNALS_WEIGHTS_AGE"} {
		if err := CheckEnvironment([]string{want + "=1"}); err != nil {
			t.Errorf("%s refused: %v", want, err)
		}
	}
}

// Globs written with other separators or capitals ("acme_*", "Acme.*")
// are spelled as names are normalized, in policy.projects and in an
// index's projects, so they match what they were written for.
func TestGlobsAreNormalized(t *testing.T) {
	p := write(t, `
policy:
  projects:
    "Acme_*": {cooldown: 1h}
indexes:
  - name: internal
    url: http://127.0.0.1:9/
    projects: ["Corp.*", "acme_*", "Torch_Triton"]
`)
	cfg, err := Load(p, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	r, err := cfg.Policy.Rules()
	if err != nil {
		t.Fatal(err)
	}
	if pr, _ := r.For("acme-tools"); pr.Cooldown != time.Hour {
		t.Errorf("policy.projects Acme_* does not apply to acme-tools: %v", pr.Cooldown)
	}
	if got := strings.Join(cfg.Indexes[0].Patterns(), ","); got != "corp-*,acme-*,torch-triton" {
		t.Errorf("index patterns: %s", got)
	}
	bad := write(t, "indexes:\n  - name: internal\n    url: http://127.0.0.1:9/\n    projects: [\"acme[\"]\n")
	if cfg, err := Load(bad, env(nil)); err == nil && cfg.Validate() == nil {
		t.Error("a pattern that is not a glob was accepted")
	}
}

// trusted_proxies wider than a few balancers are named for the warning.
func TestWideProxyRanges(t *testing.T) {
	cfg := Default()
	cfg.TrustedProxies = []string{"10.0.3.10", "10.0.3.0/24", "10.0.0.0/8", "fd00::/64", "fd00::1"}
	if got := strings.Join(cfg.WideProxyRanges(), ","); got != "10.0.0.0/8,fd00::/64" {
		t.Errorf("wide ranges: %s", got)
	}
}
