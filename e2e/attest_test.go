package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"airlock/internal/fakepypi"
)

// TestAttestationGateWithPip: abi3info 2024.10.3 is attested; 2024.10.8 is
// served without provenance. Airlock holds 2024.10.8 and pip installs
// 2024.10.3. Then the upstream turns into a compromised mirror: a changed
// 2024.10.3 whose index hash was changed to match. The attestation catches
// it.
func TestAttestationGateWithPip(t *testing.T) {
	requireVenv(t)
	pip := pipClient("pinned-pip", filepath.Join(venv, "bin", "python"))
	fake, attested := abi3infoUpstream(t)
	a := startAirlock(t, t.TempDir(), airlockEnv(fake)...)
	index := a.URL + "/simple/"

	target := t.TempDir()
	out, err := run(t, pip.install(index, target, "abi3info"))
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	assertInstalled(t, target, map[string]string{"abi3info": "2024.10.3"})

	out, err = run(t, pip.install(index, t.TempDir(), "abi3info==2024.10.8"))
	if err == nil || !strings.Contains(out, "Held by Airlock (attestation): attestation missing; releases up to 2024.10.3 were attested by github:woodruffw/abi3info:release.yml") {
		t.Errorf("unattested release not held with its reason (err %v):\n%s", err, out)
	}

	// A compromised mirror: new bytes for 2024.10.3, index hash to match.
	evil := append([]byte(nil), attested.Data...)
	evil[len(evil)-200] ^= 0x20
	fake.Replace(attested.Filename, evil)
	b := startAirlock(t, t.TempDir(), airlockEnv(fake)...)
	out, err = run(t, pip.install(b.URL+"/simple/", t.TempDir(), "abi3info==2024.10.3"))
	if err == nil || !strings.Contains(out, "Blocked by Airlock (attestation_invalid)") {
		t.Errorf("compromised mirror not caught (err %v):\n%s", err, out)
	}
}

// abi3infoUpstream serves the real abi3info fixtures: 2024.10.3 with its
// PEP 740 provenance, 2024.10.8 without.
func abi3infoUpstream(t *testing.T) (*fakepypi.Server, *fakepypi.Dist) {
	t.Helper()
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	fx := fixturesDir()
	old := filepath.Join(fx, "abi3info-2024.10.3-py3-none-any.whl")
	attested, err := fake.AddFixture("abi3info", "2024.10.3", old, old+".provenance", uploaded)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fake.AddFixture("abi3info", "2024.10.8", filepath.Join(fx, "abi3info-2024.10.8-py3-none-any.whl"), "", uploaded); err != nil {
		t.Fatal(err)
	}
	return fake, attested
}
