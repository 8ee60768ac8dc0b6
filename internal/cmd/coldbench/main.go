// Command coldbench measures the cold path: a first install through a
// fresh Airlock next to the same install straight from the upstream, with
// pip and uv, on a fake upstream at a real network's pace (latency per
// answer, bandwidth per connection) whose projects look like real ones
// (each release one wheel this machine installs, eight for other
// platforms, an sdist, ~450 KB of real Python; a newer release in its
// cooldown), or (-real) on this machine's PyPI. It reports cold/direct,
// warm/direct, upstream bytes over client bytes, the time to the first
// byte of a large cold file, and Airlock's peak RSS. bench/coldpath.sh runs
// it.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"airlock/internal/fakepypi"
)

type options struct {
	airlock, venv, out string
	rounds             int
	latency            time.Duration
	coolingAge         time.Duration
	rate               int64
	projects           int
	bigMB              int
	noMetadata         bool
	real               bool
	realSet            []string
	settle             time.Duration
	clients            []string
	logLevel           string
	bigOnly            bool
	proxpi             string // a Python with proxpi installed, to measure it beside Airlock
	lockers            string // a venv with poetry and pdm
}

func main() {
	var o options
	flag.StringVar(&o.airlock, "airlock", "bench/out/airlock", "the airlock binary")
	flag.StringVar(&o.venv, "venv", ".venv-e2e", "a venv with pip and uv (scripts/setup-clients.sh)")
	flag.StringVar(&o.out, "out", "bench/out/coldpath", "scratch and results directory")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds (medians are reported)")
	flag.DurationVar(&o.latency, "latency", 40*time.Millisecond, "fake upstream: latency per answer")
	rateMB := flag.Float64("rate-mb", 25, "fake upstream: MB/s per connection")
	flag.DurationVar(&o.coolingAge, "cooling-age", 48*time.Hour, "fake upstream: age of each project's newest release, inside the 7-day cooldown (past 6 days it is within background.lead and checked ahead)")
	flag.IntVar(&o.projects, "projects", 13, "fake upstream: projects in the install")
	flag.IntVar(&o.bigMB, "big-mb", 200, "fake upstream: size of the large wheel for the time to first byte (MB)")
	flag.BoolVar(&o.noMetadata, "no-metadata", false, "fake upstream: publish no PEP 658 metadata (as this machine's PyPI mirror)")
	flag.BoolVar(&o.real, "real", false, "measure on this machine's PyPI instead of the fake")
	flag.BoolVar(&o.bigOnly, "big-only", false, "only the large cold file")
	set := flag.String("real-set", "boto3 requests django pandas fastapi pillow numpy", "-real: what to install")
	flag.DurationVar(&o.settle, "settle", 60*time.Second, "how long to wait for the background work to finish after an install")
	clients := flag.String("clients", "pip uv uv-lock", "clients to measure (pip, uv, uv-lock, poetry, pdm)")
	flag.StringVar(&o.lockers, "lockers", "", "a venv with poetry and pdm, for -clients poetry pdm (bench/coldpath.sh makes one)")
	flag.StringVar(&o.proxpi, "proxpi", "", "a Python with proxpi installed: measure a cold install through it too (bench/coldpath.sh sets it)")
	flag.StringVar(&o.logLevel, "log-level", "warn", "airlock's log level (its log: <out>/airlock.log)")
	flag.Parse()
	o.rate = int64(*rateMB * 1e6)
	o.realSet = strings.Fields(*set)
	o.clients = strings.Fields(*clients)
	// uv lock, poetry and pdm run in their project's folder.
	for _, p := range []*string{&o.venv, &o.lockers, &o.proxpi} {
		if *p != "" {
			if abs, err := filepath.Abs(*p); err == nil {
				*p = abs
			}
		}
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "coldbench:", err)
		os.Exit(1)
	}
}

// upstreamOf is where clients and Airlock read packages from.
type upstreamOf struct {
	index, fileHost, stats, github string
	fake                           *fakepypi.Server
	install                        []string // requirements
	bigURL                         string   // a large cold file through Airlock (fake only)
	bigFile                        string   // and straight from the file host
}

func run(o options) error {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	up, err := upstream(o)
	if err != nil {
		return err
	}
	type sample struct{ direct, cold, warm, upstream, background, client, rss, proxpi, cpu float64 }
	results := map[string][]sample{}
	if o.bigOnly {
		o.rounds, o.clients = 0, nil
	}
	for round := 0; round < o.rounds; round++ {
		for _, client := range o.clients {
			direct, _, err := install(o, client, up.index, up.install)
			if err != nil {
				return fmt.Errorf("%s direct: %w", client, err)
			}
			a, err := startAirlock(o, up)
			if err != nil {
				return err
			}
			cpu0 := a.cpuSeconds()
			cold, _, err := install(o, client, a.url+"/simple/", up.install)
			if err != nil {
				a.stop()
				return fmt.Errorf("%s through airlock: %w (log: %s)", client, err, a.logPath)
			}
			cpu := a.cpuSeconds() - cpu0
			clientBytes := a.metric("airlock_served_bytes_total")
			fetchedAtInstall := a.metric("airlock_upstream_fetched_bytes_total")
			a.settle(o.settle)
			warm, _, err := install(o, client, a.url+"/simple/", up.install)
			if err != nil {
				a.stop()
				return fmt.Errorf("%s warm: %w", client, err)
			}
			fetched := a.metric("airlock_upstream_fetched_bytes_total")
			bg := a.metric("airlock_background_fetched_bytes_total")
			rss := a.peakRSS()
			a.stop()
			s := sample{direct: direct, cold: cold, warm: warm, upstream: fetched, background: bg, client: clientBytes, rss: rss, cpu: cpu}
			if o.proxpi != "" {
				px, err := startProxpi(o, up)
				if err != nil {
					return err
				}
				s.proxpi, _, err = install(o, client, px.url, up.install)
				px.stop()
				if err != nil {
					return fmt.Errorf("%s through proxpi: %w (log: %s)", client, err, px.logPath)
				}
				fmt.Fprintf(os.Stderr, "round %d %s: proxpi cold %.2fs\n", round+1, client, s.proxpi)
			}
			results[client] = append(results[client], s)
			fmt.Fprintf(os.Stderr, "round %d %s: direct %.2fs cold %.2fs (Airlock's CPU meanwhile %.2fs) warm %.2fs; upstream %.1f MB (%.1f MB at the install's end, %.1f MB background) for %.1f MB to the client; peak RSS %.0f MiB\n",
				round+1, client, direct, cold, cpu, warm, fetched/1e6, fetchedAtInstall/1e6, bg/1e6, clientBytes/1e6, rss)
		}
	}
	var report strings.Builder
	mode := fmt.Sprintf("fake upstream: %d projects, %v per answer, %.0f MB/s per connection, PEP 658 metadata %v, newest release %v old", o.projects, o.latency, float64(o.rate)/1e6, !o.noMetadata, o.coolingAge)
	if o.real {
		mode = "this machine's PyPI: " + strings.Join(o.realSet, " ")
	}
	fmt.Fprintf(&report, "# cold path, %s, %d rounds (medians)\n\n", mode, o.rounds)
	if len(o.clients) > 0 {
		fmt.Fprintln(&report, "| client | direct | cold | cold/direct | Airlock CPU during cold | warm/direct | proxpi cold/direct | upstream MB | of it background | client MB | upstream/client | peak RSS |")
		fmt.Fprintln(&report, "|---|---|---|---|---|---|---|---|---|---|---|---|")
	}
	for _, client := range o.clients {
		ss := results[client]
		med := func(f func(sample) float64) float64 {
			v := make([]float64, len(ss))
			for i, s := range ss {
				v[i] = f(s)
			}
			sort.Float64s(v)
			return v[len(v)/2]
		}
		d, c, w := med(func(s sample) float64 { return s.direct }), med(func(s sample) float64 { return s.cold }), med(func(s sample) float64 { return s.warm })
		u, b, cl, r := med(func(s sample) float64 { return s.upstream }), med(func(s sample) float64 { return s.background }), med(func(s sample) float64 { return s.client }), med(func(s sample) float64 { return s.rss })
		px := "—"
		if o.proxpi != "" {
			px = fmt.Sprintf("%.2f×", med(func(s sample) float64 { return s.proxpi })/d)
		}
		ratio := fmt.Sprintf("%.2f×", u/cl)
		if client == "uv-lock" || cl == 0 {
			ratio = "— (resolves only)"
		}
		cpu := med(func(s sample) float64 { return s.cpu })
		fmt.Fprintf(&report, "| %s | %.2f s | %.2f s | %.2f× | %.2f s | %.2f× | %s | %.1f | %.1f | %.1f | %s | %.0f MiB |\n", client, d, c, c/d, cpu, w/d, px, u/1e6, b/1e6, cl/1e6, ratio, r)
	}
	if up.bigURL != "" {
		line, err := firstByte(o, up)
		if err != nil {
			return err
		}
		fmt.Fprintf(&report, "\n%s\n", line)
	}
	fmt.Print(report.String())
	return os.WriteFile(filepath.Join(o.out, "results.md"), []byte(report.String()), 0o644)
}

// upstream is the fake (or, with -real, PyPI as this machine reaches it).
func upstream(o options) (upstreamOf, error) {
	if o.real {
		return upstreamOf{index: "https://pypi.org/simple/", install: o.realSet}, nil
	}
	fake := fakepypi.New()
	py, err := pythonSources(o)
	if err != nil {
		return upstreamOf{}, err
	}
	now := time.Now()
	var deps []string
	names := make([]string, o.projects)
	for i := range names {
		names[i] = fmt.Sprintf("cold%02d", i)
	}
	for i, name := range names {
		var requires []string
		if i == 0 {
			for _, d := range names[1:] {
				requires = append(requires, d+"==1.0")
			}
		}
		for _, rel := range []struct {
			version string
			age     time.Duration
		}{{"0.9", 60 * 24 * time.Hour}, {"1.0", 30 * 24 * time.Hour}, {"1.1", o.coolingAge}} {
			files := py(i, rel.version)
			for j, tag := range platforms {
				extra := map[string]string{}
				for p, body := range files {
					extra[fakepypi.ModuleName(name)+"/"+p] = body
				}
				d := fake.AddWheel(fakepypi.WheelSpec{Name: name, Version: rel.version, Requires: requires, Tag: tag, Extra: extra},
					now.Add(-rel.age-time.Duration(j)*time.Minute))
				if o.noMetadata {
					d.Metadata = nil
				}
			}
			sd := map[string]string{}
			for p, body := range files {
				sd[fakepypi.ModuleName(name)+"/"+p] = body
			}
			fake.AddSdistWith(name, rel.version, sd, now.Add(-rel.age-time.Hour))
		}
	}
	deps = append(deps, names[0]+"==1.0")
	big := fake.AddWheel(fakepypi.WheelSpec{Name: "coldbig", Version: "1.0", PayloadBytes: o.bigMB * 1_000_000}, now.Add(-30*24*time.Hour))
	fake.SetPace(fakepypi.Pace{Latency: o.latency, BytesPerSecond: o.rate})
	return upstreamOf{index: fake.Index.URL + "/simple/", fileHost: fake.FileHost(), stats: fake.Stats.URL, github: fake.GitHub.URL,
		fake: fake, install: deps, bigURL: "/files/coldbig/" + big.Filename, bigFile: fake.FileURL(big)}, nil
}

// pipUA is what pip 26.3 says on this machine.
const pipUA = `pip/26.3 {"cpu":"x86_64","distro":{"libc":{"lib":"glibc","version":"2.36"}},"implementation":{"name":"CPython","version":"3.11.7"},"installer":{"name":"pip","version":"26.3"},"python":"3.11.7","system":{"name":"Linux","release":"6.1"}}`

// platforms: the first is this machine's (CPython 3.11 on x86_64 Linux);
// the other eight are what real projects also publish.
var platforms = []string{
	"cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
	"cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64",
	"cp311-cp311-musllinux_1_2_x86_64",
	"cp311-cp311-macosx_11_0_arm64",
	"cp311-cp311-win_amd64",
	"cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64",
	"cp312-cp312-macosx_11_0_arm64",
	"cp313-cp313-manylinux_2_17_x86_64.manylinux2014_x86_64",
	"cp313-cp313-win_amd64",
}

// pythonSources gives each project ~450 KB of real Python from this
// machine's standard library (modules that do nothing when imported),
// mostly the same from one release to the next, as real releases are.
func pythonSources(o options) (func(project int, version string) map[string]string, error) {
	out, err := exec.Command(filepath.Join(o.venv, "bin", "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])").Output()
	if err != nil {
		return nil, fmt.Errorf("finding the standard library: %w", err)
	}
	lib := strings.TrimSpace(string(out))
	var pool []string
	for _, rel := range benign {
		b, err := os.ReadFile(filepath.Join(lib, rel))
		if err == nil {
			pool = append(pool, string(b))
		}
	}
	if len(pool) < 10 {
		return nil, fmt.Errorf("only %d standard library modules found in %s", len(pool), lib)
	}
	return func(project int, version string) map[string]string {
		files := map[string]string{}
		size := 0
		for k := 0; size < 450_000; k++ {
			// Each project's code is its own (real projects share little):
			// no analysis of one is reused for another.
			body := fmt.Sprintf("# project %d\n", project) + pool[(project*7+k)%len(pool)]
			files["mod_"+strconv.Itoa(k)+".py"] = body
			size += len(body)
		}
		// A new release changes one module.
		files["_release.py"] = "VERSION = " + strconv.Quote(version) + "\n"
		return files
	}, nil
}

var benign = []string{"argparse.py", "difflib.py", "textwrap.py", "string.py", "fractions.py", "statistics.py", "calendar.py",
	"pprint.py", "csv.py", "configparser.py", "heapq.py", "bisect.py", "_pydecimal.py", "dataclasses.py", "enum.py",
	"functools.py", "inspect.py", "ipaddress.py", "json/decoder.py", "json/encoder.py", "email/message.py",
	"email/_header_value_parser.py", "html/parser.py", "typing.py", "datetime.py", "collections/__init__.py",
	"graphlib.py", "gettext.py", "locale.py", "numbers.py", "operator.py", "colorsys.py", "shlex.py"}

// install runs a cold install (fresh environment, no client cache) and
// returns its seconds.
func install(o options, client, index string, reqs []string) (float64, string, error) {
	dir, err := os.MkdirTemp(o.out, client+"-")
	if err != nil {
		return 0, "", err
	}
	defer os.RemoveAll(dir)
	py := filepath.Join(o.venv, "bin", "python")
	var cmd *exec.Cmd
	switch client {
	case "pip":
		args := append([]string{"-m", "pip", "install", "-q", "--no-cache-dir", "--target", filepath.Join(dir, "t"), "--index-url", index}, reqs...)
		cmd = exec.Command(py, args...)
	case "uv":
		if b, err := exec.Command(filepath.Join(o.venv, "bin", "uv"), "venv", "-q", "-p", py, filepath.Join(dir, "v")).CombinedOutput(); err != nil {
			return 0, "", fmt.Errorf("uv venv: %v: %s", err, b)
		}
		args := append([]string{"pip", "install", "-q", "--no-cache", "-p", filepath.Join(dir, "v", "bin", "python"), "--index-url", index}, reqs...)
		cmd = exec.Command(filepath.Join(o.venv, "bin", "uv"), args...)
	case "uv-lock":
		// A resolution only: uv reads metadata (PEP 658, or the wheel's
		// own by range requests), installs nothing.
		quoted := make([]string, len(reqs))
		for i, r := range reqs {
			quoted[i] = strconv.Quote(r)
		}
		project := "[project]\nname = \"bench\"\nversion = \"0\"\nrequires-python = \">=3.11\"\ndependencies = [" + strings.Join(quoted, ", ") + "]\n"
		if err := os.WriteFile(filepath.Join(dir, "pyproject.toml"), []byte(project), 0o644); err != nil {
			return 0, "", err
		}
		cmd = exec.Command(filepath.Join(o.venv, "bin", "uv"), "lock", "-q", "--no-cache", "--python", py, "--default-index", index)
		cmd.Dir = dir
	case "poetry", "pdm":
		// Lock, then install the lock into a new environment: what a
		// project's CI does.
		if o.lockers == "" {
			return 0, "", fmt.Errorf("%s: no -lockers venv (bench/coldpath.sh makes one)", client)
		}
		return lockAndInstall(o, client, index, reqs, dir)
	default:
		return 0, "", fmt.Errorf("unknown client %q (pip, uv, uv-lock, poetry, pdm)", client)
	}
	cmd.Env = clientEnv()
	start := time.Now()
	b, err := cmd.CombinedOutput()
	if err != nil {
		return 0, "", fmt.Errorf("%v: %s", err, b)
	}
	return time.Since(start).Seconds(), string(b), nil
}

// lockAndInstall runs poetry or pdm on a project that needs reqs, from
// index only.
func lockAndInstall(o options, client, index string, reqs []string, dir string) (float64, string, error) {
	quoted := make([]string, len(reqs))
	for i, r := range reqs {
		quoted[i] = strconv.Quote(r)
	}
	project := "[project]\nname = \"bench\"\nversion = \"0\"\nrequires-python = \">=3.11\"\ndependencies = [" + strings.Join(quoted, ", ") + "]\n"
	env := append(clientEnv(), "PATH="+filepath.Join(o.venv, "bin")+":"+os.Getenv("PATH"))
	var steps [][]string
	switch client {
	case "poetry":
		project += "\n[tool.poetry]\npackage-mode = false\n\n[[tool.poetry.source]]\nname = \"bench\"\nurl = " + strconv.Quote(index) + "\npriority = \"primary\"\n"
		env = append(env, "POETRY_CACHE_DIR="+filepath.Join(dir, "cache"), "POETRY_VIRTUALENVS_IN_PROJECT=true", "POETRY_NO_INTERACTION=1")
		poetry := filepath.Join(o.lockers, "bin", "poetry")
		steps = [][]string{{poetry, "lock"}, {poetry, "install"}}
	case "pdm":
		project += "\n[tool.pdm]\ndistribution = false\n\n[[tool.pdm.source]]\nname = \"pypi\"\nurl = " + strconv.Quote(index) + "\n"
		env = append(env, "PDM_CACHE_DIR="+filepath.Join(dir, "cache"), "PDM_CHECK_UPDATE=false", "PDM_IGNORE_SAVED_PYTHON=1", "PDM_HOME="+filepath.Join(dir, "home"))
		pdm := filepath.Join(o.lockers, "bin", "pdm")
		steps = [][]string{{pdm, "lock", "-q"}, {pdm, "install", "-q", "--no-self"}}
	}
	if err := os.WriteFile(filepath.Join(dir, "pyproject.toml"), []byte(project), 0o644); err != nil {
		return 0, "", err
	}
	start := time.Now()
	var out []byte
	for _, step := range steps {
		cmd := exec.Command(step[0], step[1:]...)
		cmd.Dir, cmd.Env = dir, env
		b, err := cmd.CombinedOutput()
		out = append(out, b...)
		if err != nil {
			return 0, "", fmt.Errorf("%s: %v: %s", strings.Join(step, " "), err, out)
		}
	}
	return time.Since(start).Seconds(), string(out), nil
}

// clientEnv is the clients' defaults: no configuration of this machine's
// (its pip time-out, find-links) changes what is measured.
func clientEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PIP_") || strings.HasPrefix(kv, "UV_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PIP_CONFIG_FILE=/dev/null", "PIP_DISABLE_PIP_VERSION_CHECK=1")
}

// airlock is a proxy process under measurement (Airlock, or proxpi).
type airlock struct {
	cmd     *exec.Cmd
	url     string
	data    string
	logPath string
}

var starts int // proxy processes started, for their logs' names

// freeAddr is a loopback address nothing listens on.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// launch starts the proxy's command, its output to its log, and waits
// until ready answers.
func (a *airlock) launch(ready string) error {
	logf, err := os.Create(a.logPath)
	if err != nil {
		return err
	}
	a.cmd.Stdout, a.cmd.Stderr = logf, logf
	if err := a.cmd.Start(); err != nil {
		return err
	}
	for range 300 {
		if resp, err := http.Get(ready); err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	a.stop()
	return fmt.Errorf("%s did not start (log: %s)", filepath.Base(a.cmd.Path), a.logPath)
}

func startAirlock(o options, up upstreamOf) (*airlock, error) {
	data, err := os.MkdirTemp(o.out, "data-")
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	starts++
	a := &airlock{url: "http://" + addr, data: data, logPath: filepath.Join(o.out, fmt.Sprintf("airlock-%d.log", starts))}
	a.cmd = exec.Command(o.airlock, "serve", "--listen", addr, "--data-dir", data)
	env := append(os.Environ(), "AIRLOCK_LOG_LEVEL="+o.logLevel)
	if !o.real {
		env = append(env, "AIRLOCK_UPSTREAM_URL="+strings.TrimSuffix(up.index, "/simple/"), "AIRLOCK_UPSTREAM_FILE_HOSTS="+up.fileHost,
			"AIRLOCK_SIGNALS_PYPISTATS_URL="+up.stats, "AIRLOCK_SIGNALS_GITHUB_API_URL="+up.github,
			// Nothing but the loopback fakes.
			"HTTP_PROXY=http://127.0.0.1:9", "HTTPS_PROXY=http://127.0.0.1:9")
	}
	a.cmd.Env = env
	if err := a.launch(a.url + "/readyz"); err != nil {
		return nil, err
	}
	return a, nil
}

// startProxpi runs proxpi (its Flask server, a fresh cache) in front of
// the same upstream, for comparison: it verifies nothing and, past its
// download time-out (0.9 s), sends clients to the upstream's file URL.
func startProxpi(o options, up upstreamOf) (*airlock, error) {
	cache, err := os.MkdirTemp(o.out, "proxpi-")
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	starts++
	px := &airlock{url: "http://" + addr + "/index/", data: cache, logPath: filepath.Join(o.out, fmt.Sprintf("proxpi-%d.log", starts))}
	px.cmd = exec.Command(o.proxpi, "-m", "flask", "--app", "proxpi.server", "run", "--host", host, "--port", port)
	px.cmd.Env = append(os.Environ(), "PROXPI_INDEX_URL="+up.index, "PROXPI_CACHE_DIR="+cache, "PROXPI_LOGGING_LEVEL=WARNING")
	if err := px.launch(px.url); err != nil {
		return nil, err
	}
	return px, nil
}

func (a *airlock) stop() {
	a.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { a.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		a.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(a.data)
}

// metric reads one unlabelled counter or gauge from /metrics.
func (a *airlock) metric(name string) float64 {
	resp, err := http.Get(a.url + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	total := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && (f[0] == name || strings.HasPrefix(f[0], name+"{")) {
			v, _ := strconv.ParseFloat(f[1], 64)
			total += v
		}
	}
	return total
}

// settle waits for the background queue to empty (at most max).
func (a *airlock) settle(max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		if a.metric("airlock_queue_depth") == 0 {
			time.Sleep(2 * time.Second) // an item taken is no longer in the depth
			if a.metric("airlock_queue_depth") == 0 {
				return
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// cpuSeconds is the CPU time the process has used (user and system).
func (a *airlock) cpuSeconds() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", a.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command's closing parenthesis: utime and stime
	// are the 12th and 13th, in clock ticks (100 per second on Linux).
	rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100
}

// peakRSS is the process's VmHWM in MiB.
func (a *airlock) peakRSS() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", a.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return -1
}

// firstByte times a large cold file: straight from the upstream, and
// through a fresh Airlock (its first byte waits for the download, the hash
// and the checks).
func firstByte(o options, up upstreamOf) (string, error) {
	// Python's HTTP client, as pip reads (it is kept waiting with 100
	// Continue, which it skips), saying it is pip.
	ttfb := func(url string) (first, total time.Duration, err error) {
		script := `import sys, time, urllib.request
req = urllib.request.Request(sys.argv[1], headers={"User-Agent": sys.argv[2]})
start = time.monotonic()
with urllib.request.urlopen(req, timeout=15) as r:
    r.read(1)
    first = time.monotonic() - start
    while r.read(1 << 20):
        pass
print(first, time.monotonic() - start)`
		out, err := exec.Command(filepath.Join(o.venv, "bin", "python"), "-c", script, url, pipUA).CombinedOutput()
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %v: %s", url, err, out)
		}
		var f, t float64
		if _, err := fmt.Sscan(string(out), &f, &t); err != nil {
			return 0, 0, fmt.Errorf("%s: %q", url, out)
		}
		return time.Duration(f * float64(time.Second)), time.Duration(t * float64(time.Second)), nil
	}
	df, dt, err := ttfb(up.bigFile)
	if err != nil {
		return "", err
	}
	a, err := startAirlock(o, up)
	if err != nil {
		return "", err
	}
	defer a.stop()
	// A client reads the page first (the file is listed, so decided).
	if resp, err := http.Get(a.url + "/simple/coldbig/"); err == nil {
		resp.Body.Close()
	}
	af, at, err := ttfb(a.url + up.bigURL)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("large cold file (%d MB, read as pip reads, 15 s time-out): direct first byte %.2f s, whole %.2f s; through a fresh Airlock first byte %.2f s, whole %.2f s",
		o.bigMB, df.Seconds(), dt.Seconds(), af.Seconds(), at.Seconds()), nil
}
