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
		cfg.Upstream.MaxPageBytes != def.Upstream.MaxPageBytes || cfg.Upstream.FillTimeout != def.Upstream.FillTimeout {
		t.Errorf("config.example.yaml does not state the defaults: %+v", cfg)
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
