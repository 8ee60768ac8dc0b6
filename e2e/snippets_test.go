package e2e

import (
	"bufio"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

// snippetEnv is a client environment with no configuration of its own:
// what a snippet leaves out is not made up by the machine.
func snippetEnv(t *testing.T) []string {
	home := t.TempDir()
	var env []string
	for _, kv := range cleanEnv() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "HOME" || k == "XDG_CONFIG_HOME" || k == "UV_NO_CONFIG" || k == "PIP_CONFIG_FILE" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "PIP_CONFIG_FILE=/dev/null",
		"PATH="+filepath.Join(venv, "bin")+":"+os.Getenv("PATH"))
}

// trySnippet runs the clients with one printed snippet and nothing else
// pointing them at an index: pip.conf and uv.toml as config files,
// pyproject.toml as a project that `uv lock` resolves, a shell line as
// written. Success means the snippet sent them to Airlock: the packages
// exist nowhere else, and nothing else is reachable.
func trySnippet(t *testing.T, where, file, text, airlockURL string) {
	t.Helper()
	dir := t.TempDir()
	env := snippetEnv(t)
	python := filepath.Join(venv, "bin", "python")
	var cmd *exec.Cmd
	switch file {
	case "pip.conf":
		p := filepath.Join(dir, "pip.conf")
		os.WriteFile(p, []byte(text+"\n"), 0o644)
		cmd = exec.Command(python, "-m", "pip", "install", "--no-cache-dir", "--target", filepath.Join(dir, "t"), "snipkg")
		env = append(env, "PIP_CONFIG_FILE="+p)
	case "uv.toml":
		p := filepath.Join(dir, "uv.toml")
		os.WriteFile(p, []byte(text+"\n"), 0o644)
		cmd = exec.Command(filepath.Join(venv, "bin", "uv"), "pip", "install", "--config-file", p, "--target", filepath.Join(dir, "t"), "--python", python, "snipkg")
	case "pyproject.toml":
		os.WriteFile(filepath.Join(dir, "pyproject.toml"), []byte("[project]\nname = \"app\"\nversion = \"0.1\"\nrequires-python = \">=3.8\"\ndependencies = [\"snipkg\"]\n\n"+text+"\n"), 0o644)
		cmd = exec.Command(filepath.Join(venv, "bin", "uv"), "lock", "--python", python)
		cmd.Dir = dir
	case "shell":
		// Each line as a person pastes it, into a virtual environment.
		for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
			target := filepath.Join(dir, "t"+strings.Fields(line)[1])
			line = strings.Replace(line, "pip install", "pip install --target "+target, 1)
			if strings.Contains(line, "uv pip install") {
				line = strings.Replace(line, "uv pip install --target", "uv pip install --python "+python+" --target", 1)
			}
			c := exec.Command("sh", "-c", line)
			c.Env = env
			if out, err := run(t, c); err != nil {
				t.Errorf("%s: the %q line does not install through Airlock: %v\n%s", where, line, err, out)
			}
		}
		return
	default:
		t.Errorf("%s: a snippet for %q that no test runs", where, file)
		return
	}
	cmd.Env = env
	out, err := run(t, cmd)
	if err != nil {
		t.Errorf("%s: the %s snippet does not install through Airlock: %v\n%s\n--- snippet ---\n%s", where, file, err, out, text)
		return
	}
	if file == "pyproject.toml" {
		lock, _ := os.ReadFile(filepath.Join(dir, "uv.lock"))
		if !strings.Contains(string(lock), airlockURL) {
			t.Errorf("%s: uv.lock from the pyproject.toml snippet does not resolve from Airlock:\n%s", where, lock)
		}
	}
}

// TestPrintedSnippetsInstallThroughAirlock: every snippet the landing page
// and the serve banner print, run with the client it is for. The landing
// page's uv snippet once said "under [tool.uv] in pyproject.toml", where
// [[index]] is a top-level table uv does not read: `uv lock` resolved from
// PyPI with no request to Airlock.
func TestPrintedSnippetsInstallThroughAirlock(t *testing.T) {
	requireVenv(t)
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	fake.AddWheel(fakepypi.WheelSpec{Name: "snipkg", Version: "1.0"}, uploaded)
	fake.AddWheel(fakepypi.WheelSpec{Name: "requests", Version: "1.0"}, uploaded)

	// serve on a terminal prints the banner: run it under script(1).
	dataDir := t.TempDir()
	shell := exec.Command("script", "-qfec", airlockBin+" serve --listen 127.0.0.1:0 --data-dir "+dataDir, "/dev/null")
	shell.Env = append(os.Environ(), airlockEnv(fake, "AIRLOCK_SIGNALS_ENABLED=false")...)
	stdout, _ := shell.StdoutPipe()
	if err := shell.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shell.Process.Kill(); shell.Wait() })
	banner, listen := make(chan string, 1), make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			var e struct{ Message, Listen string }
			if json.Unmarshal([]byte(line), &e) == nil && e.Message == "airlock serving" {
				listen <- e.Listen
				continue
			}
			b.WriteString(line + "\n")
			if strings.Contains(line, "Log lines (JSON) follow") {
				banner <- b.String()
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	var addr, text string
	select {
	case addr = <-listen:
	case <-time.After(30 * time.Second):
		t.Fatal("airlock under script(1) did not start")
	}
	select {
	case text = <-banner:
	case <-time.After(10 * time.Second):
		t.Fatal("no banner on a terminal")
	}
	base := "http://" + addr

	// The banner: indented blocks after "...:" lines, and the one-command line.
	blocks := regexp.MustCompile(`(?m)^.*(pip\.conf|uv\.toml|pyproject\.toml):\n((?:    .*\n)+)`).FindAllStringSubmatch(text, -1)
	if len(blocks) != 3 {
		t.Fatalf("banner: %d snippets, want pip.conf, uv.toml and pyproject.toml:\n%s", len(blocks), text)
	}
	for _, b := range blocks {
		body := regexp.MustCompile(`(?m)^    `).ReplaceAllString(b[2], "")
		trySnippet(t, "serve banner", b[1], strings.TrimSpace(body), base)
	}
	if m := regexp.MustCompile(`for one command:\s+(.*)`).FindStringSubmatch(text); m == nil {
		t.Errorf("banner lacks the one-command line:\n%s", text)
	} else {
		trySnippet(t, "serve banner", "shell", m[1], base)
	}

	// The landing page: every <code data-file=...> block.
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(resp.Body)
	resp.Body.Close()
	codes := regexp.MustCompile(`(?s)<code data-file="([^"]+)">(.*?)</code>`).FindAllStringSubmatch(page, -1)
	if len(codes) < 4 {
		t.Fatalf("landing page: %d snippets:\n%s", len(codes), page)
	}
	for _, c := range codes {
		trySnippet(t, "landing page", c[1], html.UnescapeString(c[2]), base)
	}

	// The README's marked snippets, with its address replaced by this one.
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	marked := regexp.MustCompile("(?s)<!-- snippet: ([a-z.]+) -->\n```[a-z]*\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
	if len(marked) < 4 {
		t.Fatalf("README: %d marked snippets, want the shell lines, pip.conf, uv.toml and pyproject.toml", len(marked))
	}
	for _, m := range marked {
		trySnippet(t, "README", m[1], strings.ReplaceAll(strings.TrimSpace(m[2]), "http://127.0.0.1:3180", base), base)
	}
}
