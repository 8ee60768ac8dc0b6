package malcorpus

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runner is the held-out evaluator's question asked of every shape: does
// its payload really run when the wheel is installed and imported (or the
// interpreter starts), or the sdist is built? It installs the shape into
// a scratch directory as an installer would (a wheel unpacked into
// site-packages, .pth files processed by site), then imports the package
// under an audit hook that records what a payload does — exec or compile
// of code that is not a module file, a process, a network lookup, a
// credential file, unpickling — and refuses each (so nothing harmful can
// happen), and prints what it saw. "requests" is a stub that looks a host
// up, as the real one would. Bytecode shapes are compiled here by the
// running interpreter (their corpus bytes carry only the header that
// matters to inspection).
const runner = `
import json, os, sys, runpy
seen = []
BLOCK = ("subprocess.Popen", "os.system", "os.posix_spawn", "os.exec", "os.spawn", "socket.connect",
         "socket.getaddrinfo", "socket.gethostbyname", "urllib.Request", "ctypes.dlopen")
def hook(event, args):
    if event in BLOCK:
        seen.append(event)
        raise RuntimeError("refused by the evaluator: " + event)
    if event == "exec" and not str(getattr(args[0], "co_filename", "")).endswith((".py", ".pyc")):
        seen.append("exec")
    if event == "compile" and str(args[1]) in ("<string>", "<unknown>"):
        seen.append("compile")
    if event == "open" and any(s in str(args[0]) for s in (".aws", ".ssh", "credentials")):
        seen.append("open-credentials")
        raise RuntimeError("refused by the evaluator: " + str(args[0]))
    if event == "pickle.find_class":
        seen.append(event)
mode, target, stubs = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, stubs)
import atexit
atexit.register(lambda: print("EVENTS AT EXIT " + json.dumps(seen)))  # after the package's own exit hooks
sys.addaudithook(hook)
try:
    if mode == "setup":
        os.chdir(target)
        sys.argv = ["setup.py", "--version"]
        runpy.run_path(os.path.join(target, "setup.py"), run_name="__main__")
    elif mode == "build":
        # What a build frontend and the common backends run of an sdist
        # without setup.py: an in-tree backend's hooks, hatchling's custom
        # build hook, pdm-backend's hooks.
        import tomllib, importlib
        os.chdir(target)
        cfg = tomllib.load(open("pyproject.toml", "rb"))
        bs, tool = cfg.get("build-system", {}), cfg.get("tool", {})
        def attempt(fn, *args):
            try:
                fn(*args)
            except BaseException:
                pass
        if bs.get("backend-path"):
            for d in bs["backend-path"]:
                sys.path.insert(0, os.path.join(target, d))
            backend = importlib.import_module(bs["build-backend"].split(":")[0])
            for hook in ("get_requires_for_build_wheel", "prepare_metadata_for_build_wheel", "build_wheel"):
                if hasattr(backend, hook):
                    attempt(getattr(backend, hook), target)
        custom = tool.get("hatch", {}).get("build", {}).get("hooks", {}).get("custom")
        if custom is not None:
            ns = runpy.run_path(os.path.join(target, custom.get("path", "hatch_build.py")))
            for v in list(ns.values()):
                if isinstance(v, type) and "initialize" in vars(v):
                    attempt(object.__new__(v).initialize, "standard", {})
        if os.path.exists("pdm_build.py"):
            ns = runpy.run_path("pdm_build.py")
            for hook in ("pdm_build_initialize", "pdm_build_update_files", "pdm_build_finalize"):
                if hook in ns:
                    attempt(ns[hook], None)
    else:
        import site, importlib
        site.addsitedir(target)
        # Import the package and each of its modules, as users of it do.
        for root, dirs, files in os.walk(os.path.join(target, "pkg")):
            for f in sorted(files):
                if f.endswith((".py", ".pyc")) and "__pycache__" not in root:
                    rel = os.path.relpath(os.path.join(root, f), target)[:-3 if f.endswith(".py") else -4]
                    name = rel.replace(os.sep, ".").removesuffix(".__init__")
                    try:
                        importlib.import_module(name)
                    except BaseException:
                        pass
except BaseException as e:
    pass
print("EVENTS " + json.dumps(seen))
`

const requestsStub = "import socket\ndef post(url, **kw):\n    socket.getaddrinfo('example.invalid', 80)\nget = post\n"

// compilePyc writes real bytecode of a payload in place of a corpus .pyc
// (sourceless, or unchecked hash-based in __pycache__ under this
// interpreter's cache tag).
const compilePyc = `
import importlib.util, importlib._bootstrap_external as be, os, sys
path, payload = sys.argv[1], sys.argv[2]
code = compile(payload, path, "exec")
if "__pycache__" in path:
    src = os.path.join(os.path.dirname(os.path.dirname(path)), os.path.basename(path).split(".")[0] + ".py")
    data = be._code_to_hash_pyc(code, importlib.util.source_hash(open(src, "rb").read()), checked=False)
    path = importlib.util.cache_from_source(src)
else:
    data = be._code_to_timestamp_pyc(code, 0, 0)
os.makedirs(os.path.dirname(path), exist_ok=True)
open(path, "wb").write(data)
`

func TestEveryShapeRunsItsPayload(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Fatal("python3 not found")
	}
	stubs := t.TempDir()
	os.WriteFile(filepath.Join(stubs, "requests.py"), []byte(requestsStub), 0o644)
	// hatchling's hook interface, which a hatch_build.py subclasses.
	hooks := filepath.Join(stubs, "hatchling", "builders", "hooks", "plugin")
	os.MkdirAll(hooks, 0o755)
	os.WriteFile(filepath.Join(hooks, "interface.py"), []byte("class BuildHookInterface:\n    pass\n"), 0o644)
	for _, s := range Shapes {
		for kind, build := range s.Variants() {
			t.Run(s.Name+"/"+kind, func(t *testing.T) {
				dir := t.TempDir()
				_, data := build()
				mode, target := "import", dir
				hasData := false
				for p := range s.Files {
					hasData = hasData || strings.Contains(p, ".data/")
				}
				switch {
				case kind == "wheel" && hasData:
					// Data files go under the prefix: let pip put them there,
					// and use that prefix's site-packages.
					whl := filepath.Join(t.TempDir(), "corpus-1.0-py3-none-any.whl")
					os.WriteFile(whl, data, 0o644)
					prefix := filepath.Join(dir, "prefix")
					c := exec.Command(python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--prefix", prefix, whl)
					c.Env = append(os.Environ(), "PIP_CONFIG_FILE=/dev/null", "PIP_DISABLE_PIP_VERSION_CHECK=1")
					if out, err := c.CombinedOutput(); err != nil {
						t.Fatalf("pip install: %v\n%s", err, out)
					}
					site, _ := exec.Command(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib', vars={'base': '"+prefix+"', 'platbase': '"+prefix+"'}))").Output()
					target = strings.TrimSpace(string(site))
				case kind == "wheel":
					unzip(t, data, dir)
				default:
					untar(t, data, dir)
					target = filepath.Join(dir, "corpus-1.0")
					if _, err := os.Stat(filepath.Join(target, "setup.py")); err == nil {
						mode = "setup"
					} else if _, err := os.Stat(filepath.Join(target, "pyproject.toml")); err == nil {
						mode = "build"
					}
				}
				for p := range s.Files {
					if strings.HasSuffix(p, ".pyc") {
						c := exec.Command(python, "-c", compilePyc, filepath.Join(target, p), "import subprocess; subprocess.Popen(['sh', '-c', 'id'])")
						if out, err := c.CombinedOutput(); err != nil {
							t.Fatalf("compiling %s: %v\n%s", p, err, out)
						}
					}
				}
				cmd := exec.Command(python, "-I", "-c", runner, mode, target, stubs)
				cmd.Dir = dir
				if strings.Contains(s.Name, "sitecustomize") {
					// It runs at interpreter start, from sys.path: as a
					// site-packages directory gives it.
					cmd = exec.Command(python, "-c", runner, mode, target, stubs)
					cmd.Env = append(os.Environ(), "PYTHONPATH="+target)
				}
				out, _ := cmd.CombinedOutput()
				text := string(out)
				if !strings.Contains(text, "synthetic") && !strings.Contains(text, `EVENTS ["`) && !strings.Contains(text, `EVENTS AT EXIT ["`) {
					t.Errorf("the payload did not run: %s", text)
				}
			})
		}
	}
}

func unzip(t *testing.T, data []byte, dir string) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		p := filepath.Join(dir, f.Name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		os.WriteFile(p, b, 0o644)
	}
}

func untar(t *testing.T, data []byte, dir string) {
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err != nil {
			return
		}
		p := filepath.Join(dir, h.Name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		b, _ := io.ReadAll(tr)
		os.WriteFile(p, b, 0o644)
	}
}
