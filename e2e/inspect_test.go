package e2e

import (
	"bytes"
	"strings"
	"testing"

	"airlock/internal/fakepypi"
)

// TestPillowLikeWheelServedEvasionHeld: a platform wheel carrying a 2.1 MB
// shared library that compresses over 200:1 (pillow 13.0.0's manylinux
// wheels were held as bombs) installs with pip and uv; a release whose
// payload hides exec behind a computed name in a class body is refused
// with the content reason.
func TestPillowLikeWheelServedEvasionHeld(t *testing.T) {
	cls := clients(t)
	fake := newUpstream(t)
	lib := append([]byte("\x7fELF\x02\x01\x01"), bytes.Repeat([]byte{0}, 2_100_000)...)
	fake.AddWheel(fakepypi.WheelSpec{Name: "imaging", Version: "13.0.0", Tag: "py3-none-manylinux_2_17_x86_64",
		Extra: map[string]string{"imaging.libs/libjpeg-0c2a1c1e.so.62.4.0": string(lib)}}, uploaded)
	fake.AddWheel(fakepypi.WheelSpec{Name: "evasive", Version: "1.0"}, uploaded)
	fake.AddWheel(fakepypi.WheelSpec{Name: "evasive", Version: "1.1", Extra: map[string]string{
		"evasive/config.py": "import base64\n\nclass Settings:\n    debug = False\n    getattr(__builtins__, 'ex' + 'ec')(base64.b64decode('cHJpbnQoMSk='))\n",
	}}, uploaded.Add(24*60*60*1e9))
	a := startAirlock(t, t.TempDir(), airlockEnv(fake)...)
	for _, c := range cls {
		t.Run(c.name, func(t *testing.T) {
			target := t.TempDir()
			out, err := run(t, c.install(a.URL+"/simple/", target, "imaging"))
			if err != nil {
				t.Fatalf("pillow-like wheel refused: %v\n%s", err, out)
			}
			assertInstalled(t, target, map[string]string{"imaging": "13.0.0"})
			out, err = run(t, c.install(a.URL+"/simple/", t.TempDir(), "evasive==1.1"))
			if err == nil || !strings.Contains(out, "high obfuscated-exec in evasive/config.py:5") {
				t.Errorf("evasive payload not refused with its reason (err %v):\n%s", err, out)
			}
		})
	}
}
