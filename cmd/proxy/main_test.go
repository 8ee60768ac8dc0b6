package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"airlock/config"
	"airlock/server"
)

func TestRunExitCodes(t *testing.T) {
	ctx := t.Context()
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("upstream:\n  urll: https://pypi.org\n"), 0o644)
	tests := []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"version"}, 0, "airlock "},
		{nil, 2, "usage"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"serve", "--config", bad}, 2, "urll"},
		{[]string{"serve", "--config", "/nonexistent.yaml"}, 2, "no such file"},
		{[]string{"serve", "--listen", "not-an-address"}, 2, "listen"},
		{[]string{"serve", "extra"}, 2, "unexpected argument"},
		{[]string{"serve", "--bogus"}, 2, "bogus"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(ctx, tt.args, &out, &errb)
		if code != tt.code || !strings.Contains(out.String()+errb.String(), tt.contains) {
			t.Errorf("airlock %v: exit %d, output %q; want exit %d containing %q", tt.args, code, out.String()+errb.String(), tt.code, tt.contains)
		}
	}
}

// Every command and subcommand explains itself: --help prints what it does,
// how it is called, its own flags and examples on stdout, and exits 0,
// with no token or server needed.
func TestHelpForEveryCommand(t *testing.T) {
	ctx := t.Context()
	t.Setenv("AIRLOCK_ADMIN_TOKEN", "")
	cases := []struct {
		args         []string
		want, absent []string
	}{
		{[]string{"--help"}, []string{"serve", "quarantine", "check", "score", "verify", "version", "examples:"}, nil},
		{[]string{"help"}, []string{"commands:"}, nil},
		{[]string{"help", "serve"}, []string{"usage: airlock serve", "-data-dir"}, nil},
		{[]string{"serve", "--help"}, []string{"Run the proxy", "-config", "-listen", "-data-dir", "examples:"}, nil},
		{[]string{"check", "-h"}, []string{"NAME==VERSION", "-config", "examples:"}, []string{"-json"}},
		{[]string{"score", "--help"}, []string{"-json", "-config", "examples:"}, nil},
		{[]string{"verify", "--help"}, []string{"-provenance", "-trusted-root", "-publisher", "examples:"}, []string{"-config"}},
		{[]string{"version", "--help"}, []string{"VCS revision"}, nil},
		{[]string{"health", "--help"}, []string{"-url", "/readyz", "examples:"}, nil},
		{[]string{"migrate", "--help"}, []string{"-config", "examples:"}, nil},
		{[]string{"store", "copy", "--help"}, []string{"-from", "-to", "sha256", "examples:"}, nil},
		{[]string{"downloads", "--help"}, []string{"-since", "-json", "-server", "MAL-", "examples:"}, []string{"-reason"}},
		{[]string{"quarantine", "override", "--help"}, []string{"-reason", "audited"}, []string{"-state"}},
		{[]string{"quarantine", "--help"}, []string{"list|show|approve|reject|reopen", "AIRLOCK_ADMIN_TOKEN", "examples:"}, nil},
		{[]string{"quarantine", "list", "--help"}, []string{"-state", "-project", "-check", "-json", "-server"}, []string{"-reason"}},
		{[]string{"quarantine", "show", "--help"}, []string{"-json", "-server", "TARGET"}, []string{"-reason", "-state", "-project", "-check"}},
		{[]string{"quarantine", "approve", "--help"}, []string{"-reason", "-server"}, []string{"-json", "-state"}},
		{[]string{"quarantine", "reject", "--help"}, []string{"-reason"}, []string{"-state"}},
		{[]string{"quarantine", "reopen", "--help"}, []string{"-reason"}, []string{"-state"}},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(ctx, c.args, &out, &errb)
		if code != 0 || errb.Len() != 0 {
			t.Errorf("airlock %v: exit %d, stderr %q; want 0 and help on stdout", c.args, code, errb.String())
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("airlock %v: help lacks %q:\n%s", c.args, w, out.String())
			}
		}
		for _, a := range c.absent {
			if strings.Contains(out.String(), a+" ") || strings.Contains(out.String(), a+"\n") {
				t.Errorf("airlock %v: help lists %q, which does not apply:\n%s", c.args, a, out.String())
			}
		}
	}
	// A bad invocation goes to stderr with exit 2 and says where help is.
	for _, args := range [][]string{{"quarantine"}, {"quarantine", "frob"}, {"quarantine", "show"}, {"quarantine", "approve", "x==1"}, {"check"}, {"score", "--bogus"}} {
		var out, errb bytes.Buffer
		if code := run(ctx, args, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--help") {
			t.Errorf("airlock %v: exit %d, stderr %q; want 2 pointing at --help", args, code, errb.String())
		}
	}
}

func TestVersionNamesTheModules(t *testing.T) {
	ctx := t.Context()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"version"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	// A test binary carries its dependencies' versions like the real one.
	for _, want := range []string{"airlock dev", "built with go1.", "go.etcd.io/bbolt v1.", "github.com/sigstore/sigstore-go v1.3.0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version lacks %q:\n%s", want, out.String())
		}
	}
}

func TestMisspeltEnvironmentVariableStopsServe(t *testing.T) {
	ctx := t.Context()
	t.Setenv("AIRLOCK_POLICY_COOLDOWNN", "1h")
	for _, args := range [][]string{{"serve", "--data-dir", t.TempDir()}, {"score", "requests"}, {"check", "requests==1.0"}} {
		var out, errb bytes.Buffer
		if code := run(ctx, args, &out, &errb); code != 2 || !strings.Contains(errb.String(), "did you mean AIRLOCK_POLICY_COOLDOWN?") {
			t.Errorf("airlock %v: exit %d, %q", args, code, errb.String())
		}
	}
}

func TestWelcomeTellsWhereAndHow(t *testing.T) {
	cfg, err := config.Load("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	server.Welcome(&b, "127.0.0.1:3180", cfg)
	for _, want := range []string{"http://127.0.0.1:3180/simple/", "index-url = http://127.0.0.1:3180/simple/",
		`url = "http://127.0.0.1:3180/simple/"`, "AIRLOCK_ADMIN_TOKEN", "https://pypi.org"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("welcome lacks %q:\n%s", want, b.String())
		}
	}
	cfg.Server.PublicURL = "https://pypi.corp.example/"
	if got := server.IndexURL("0.0.0.0:3180", cfg); got != "https://pypi.corp.example" {
		t.Errorf("public_url: %s", got)
	}
	cfg.Server.PublicURL = ""
	if got := server.IndexURL("0.0.0.0:3180", cfg); strings.Contains(got, "0.0.0.0") {
		t.Errorf("an address that listens everywhere is not one to give clients: %s", got)
	}
}

func TestHealthCommand(t *testing.T) {
	ctx := t.Context()
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		w.Write([]byte("ready\n"))
	}))
	defer ready.Close()
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"health", "--url", ready.URL + "/readyz"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "ready") {
		t.Errorf("ready server: exit %d %q %q", code, out.String(), errb.String())
	}
	if code := run(ctx, []string{"health", "--url", ready.URL + "/other"}, &out, &errb); code != 1 {
		t.Errorf("unready server: exit %d", code)
	}
	if code := run(ctx, []string{"health", "--url", "http://127.0.0.1:9/readyz"}, &out, &errb); code != 1 {
		t.Errorf("no server: exit %d", code)
	}
}
