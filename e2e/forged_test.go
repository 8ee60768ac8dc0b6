package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

// TestForgedRowsAndEscapes: text from archives and upstreams cannot draw
// on the terminals and chats Airlock writes to. A member named with a
// newline and tabs does not print an aligned fake row ("released …
// approved by alice") in `airlock quarantine list` or a new line in the
// webhook text; an upstream's yank reason and a hold reason made from a
// member name reach pip's terminal without raw ESC or line breaks.
func TestForgedRowsAndEscapes(t *testing.T) {
	requireVenv(t)
	pip := pipClient("pinned-pip", filepath.Join(venv, "bin", "python"))
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	forgedName := "forge/x\n3ea0a10d95ee\treleased\tforge-9.9.tar.gz\t\tapproved by alice\x1b]0;pwned\x07.pth"
	fake.AddWheel(fakepypi.WheelSpec{Name: "forge", Version: "1.0"}, uploaded)
	forge := fake.AddWheel(fakepypi.WheelSpec{Name: "forge", Version: "1.1", Extra: map[string]string{forgedName: "import os; os.system('id')\n"}}, uploaded.Add(time.Hour))
	yanky := fake.AddWheel(fakepypi.WheelSpec{Name: "yanky", Version: "1.0"}, uploaded)
	fake.SetYanked(yanky, "\x1b]0;owned\x07\x1b[2J\x1b[31mbroken\nWARNING: fake line")
	hookURL, hooks := webhookRecorder(t)
	const token = "forged-rows-token-0123456789abcdefg"
	a := startAirlock(t, t.TempDir(), airlockEnv(fake, "AIRLOCK_ADMIN_TOKEN="+token, "AIRLOCK_SIGNALS_ENABLED=false",
		"AIRLOCK_NOTIFY_WEBHOOKS="+hookURL, "AIRLOCK_BACKGROUND_WORKERS=0")...)

	clean := func(what, out string) {
		t.Helper()
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("%s: raw control characters reach the terminal:\n%q", what, out)
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "3ea0a10d95ee") || strings.HasPrefix(strings.TrimSpace(line), "WARNING: fake line") {
				t.Errorf("%s: a forged line:\n%s", what, out)
			}
		}
	}
	out, err := run(t, pip.install(a.URL+"/simple/", t.TempDir(), "forge==1.1"))
	if err == nil || !strings.Contains(out, "Held by Airlock (content)") || !strings.Contains(out, "approved by alice") {
		t.Fatalf("forge 1.1 must be held for its content, naming the member: %v\n%s", err, out)
	}
	clean("pip refused", out)
	// Pinned again: the page marks it yanked with the hold, which pip prints.
	out, _ = run(t, pip.install(a.URL+"/simple/", t.TempDir(), "forge==1.1"))
	clean("pip on the held page", out)
	out, err = run(t, pip.install(a.URL+"/simple/", t.TempDir(), "yanky==1.0"))
	if err != nil || !strings.Contains(out, "broken") {
		t.Errorf("yanky 1.0 (yanked upstream, pinned): %v\n%s", err, out)
	}
	clean("pip with an upstream yank reason", out)

	list := exec.Command(airlockBin, "quarantine", "list", "--server", a.URL, "--state", "all")
	list.Env = append(cleanEnv(), "AIRLOCK_ADMIN_TOKEN="+token)
	out, err = run(t, list)
	if err != nil || !strings.Contains(out, forge.Filename) {
		t.Fatalf("quarantine list: %v\n%s", err, out)
	}
	clean("quarantine list", out)
	show := exec.Command(airlockBin, "quarantine", "show", "--server", a.URL, forge.SHA256()[:12])
	show.Env = list.Env
	out, _ = run(t, show)
	clean("quarantine show", out)

	var held map[string]any
	for deadline := time.Now().Add(10 * time.Second); held == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, h := range hooks() {
			if h["sha256"] == forge.SHA256() {
				held = h
			}
		}
	}
	text, _ := held["text"].(string)
	if held == nil || strings.ContainsAny(text, "\n\t\x1b\x07") || !strings.Contains(text, "approved by alice") {
		t.Errorf("webhook text: %q", text)
	}
}
