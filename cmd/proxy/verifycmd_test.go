package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"airlock/config"
	"airlock/server/evidence"
)

func fixture(name string) string {
	dir := os.Getenv("PEP740_FIXTURES_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "fixtures", "pep740")
	}
	return filepath.Join(dir, name)
}

func TestVerifyCommand(t *testing.T) {
	ctx := t.Context()
	abi := fixture("abi3info-2024.10.3-py3-none-any.whl")
	gitlab := fixture("gitlab_oidc_project-0.0.3.tar.gz")
	staging := fixture("rfc8785-0.1.2-py3-none-any.whl")
	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"provenance beside the file", []string{abi}, 0, "publisher:       github:woodruffw/abi3info:release.yml"},
		{"log time printed", []string{abi}, 0, "log time:        2024-10-03T20:40:30Z"},
		{"matching publisher", []string{"--publisher", "github:woodruffw/abi3info:release.yml", abi}, 0, "OK"},
		{"other publisher", []string{"--publisher", "github:attacker/abi3info:release.yml", abi}, 1, "not github:attacker/abi3info:release.yml"},
		{"provenance of another release", []string{"--provenance", abi + ".provenance", fixture("abi3info-2024.10.8-py3-none-any.whl")}, 1, "digest"},
		{"bare attestation needs a publisher", []string{gitlab}, 2, "--publisher"},
		{"bare attestation, GitLab", []string{"--publisher", "gitlab:facutuesca/gitlab-oidc-project:.gitlab-ci.yml", gitlab}, 0, "//.gitlab-ci.yml@"},
		{"endless provenance is capped", []string{"--provenance", "/dev/zero", abi}, 2, "larger than 4 MiB"},
		{"endless trusted root is capped", []string{"--trusted-root", "/dev/zero", abi}, 2, "larger than 4 MiB"},
		{"staging against production", []string{"--publisher", "email:william@yossarian.net:https://github.com/login/oauth", staging}, 1, "FAIL"},
		{"staging against staging", []string{"--trusted-root", fixture("trusted_root.staging.json"), "--publisher", "email:william@yossarian.net:https://github.com/login/oauth", staging}, 0, "OK"},
		{"no such file", []string{"/nonexistent.whl"}, 2, "no such file"},
		{"bad publisher spec", []string{"--publisher", "svn:x", abi}, 2, "unknown kind"},
		{"no arguments", nil, 2, "usage"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			code := run(ctx, append([]string{"verify"}, tt.args...), &out, &out)
			if code != tt.code || !strings.Contains(out.String(), tt.want) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s", code, tt.code, tt.want, out.String())
			}
		})
	}
}

// TestCheckShowsVerifiedIdentity: `airlock check` verifies attestations as
// the server does and prints the verified identity.
func TestCheckShowsVerifiedIdentity(t *testing.T) {
	w := newCLIWorld(t)
	whl := fixture("abi3info-2024.10.3-py3-none-any.whl")
	if _, err := w.fake.AddFixture("abi3info", "2024.10.3", whl, whl+".provenance", time.Now().Add(-60*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.fake.AddFixture("abi3info", "2024.10.8", fixture("abi3info-2024.10.8-py3-none-any.whl"), "", time.Now().Add(-50*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	code, out := w.run("check", "abi3info==2024.10.3")
	if code != 0 || !strings.Contains(out, "attestation [allow]: attested by github:woodruffw/abi3info:release.yml") ||
		!strings.Contains(out, "cert_build_config_uri: https://github.com/woodruffw/abi3info/.github/workflows/release.yml@refs/tags/v2024.10.03") {
		t.Errorf("check 2024.10.3: %d\n%s", code, out)
	}
	code, out = w.run("check", "abi3info==2024.10.8")
	if code != 1 || !strings.Contains(out, "attestation missing; releases up to 2024.10.3 were attested by github:woodruffw/abi3info:release.yml") {
		t.Errorf("check 2024.10.8: %d\n%s", code, out)
	}
}

func TestTrustedRootConfig(t *testing.T) {
	if _, err := evidence.Verifier(config.Sigstore{TrustedRoot: fixture("trusted_root.staging.json")}, t.TempDir(), zerolog.Nop()); err != nil {
		t.Errorf("staging root: %v", err)
	}
	_, err := evidence.Verifier(config.Sigstore{TrustedRoot: "/nonexistent/root.json"}, t.TempDir(), zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), "sigstore.trusted_root") {
		t.Errorf("missing root: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "root.json")
	os.WriteFile(bad, []byte(`{"mediaType": "nope"}`), 0o644)
	if _, err := evidence.Verifier(config.Sigstore{TrustedRoot: bad}, t.TempDir(), zerolog.Nop()); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad root: %v", err)
	}
}
