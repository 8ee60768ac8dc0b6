// Command inspectbench measures content inspection: throughput on a large
// generated wheel, and peak memory while inspecting a zip bomb that inflates
// to 2 GiB — once with the default limits (stopped early) and once with the
// limits lifted, so the whole 2 GiB streams through. Run by bench/run.sh.
//
// Given distributions as arguments (bench/inspection.sh fetches real
// ones), it inspects each once, as a cold file is (nothing remembered),
// and reports MB/s of the archive, of its Python source and the findings.
package main

import (
	"archive/zip"
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"airlock/inspect"
	"airlock/internal/procstat"
)

func main() {
	dir := flag.String("dir", os.TempDir(), "where to write the generated archives")
	parsers := flag.Int("parsers", 0, "source files analysed at once (0: one per core)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run here (go tool pprof)")
	flag.Parse()
	if *cpuProfile != "" {
		out, err := os.Create(*cpuProfile)
		if err != nil {
			fail(err)
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	if flag.NArg() > 0 {
		lim := inspect.DefaultLimits()
		lim.Parsers = *parsers
		for _, path := range flag.Args() {
			real(path, lim)
		}
		return
	}
	wheel := filepath.Join(*dir, "big-1.0-py3-none-any.whl")
	if err := writeWheel(wheel); err != nil {
		fail(err)
	}
	defer os.Remove(wheel)
	bomb := filepath.Join(*dir, "bomb-1.0-py3-none-any.whl")
	if err := writeBomb(bomb, 2<<30); err != nil {
		fail(err)
	}
	defer os.Remove(bomb)

	rep, secs := run(wheel, inspect.DefaultLimits())
	st, _ := os.Stat(wheel)
	fmt.Printf("  large wheel: %d MiB compressed, %d MiB uncompressed, %d members, %d findings: %.0f MiB/s (uncompressed), %.2f s\n",
		st.Size()>>20, rep.Bytes>>20, len(rep.Files), len(rep.Findings), float64(rep.Bytes)/(1<<20)/secs, secs)

	bst, _ := os.Stat(bomb)
	_, secs, err := runErr(bomb, inspect.DefaultLimits())
	fmt.Printf("  2 GiB bomb (%d KiB on disk), default limits: %v after %.3f s; peak RSS so far %s\n", bst.Size()>>10, err, secs, procstat.PeakRSS())
	lifted := inspect.DefaultLimits()
	lifted.MaxRatio, lifted.MaxTotalBytes = 1<<40, 8<<30
	rep, secs, err = runErr(bomb, lifted)
	if err != nil {
		fail(err)
	}
	fmt.Printf("  2 GiB bomb, limits lifted: streamed %d MiB in %.1f s (%.0f MiB/s); peak RSS of the whole run %s\n",
		rep.Bytes>>20, secs, float64(rep.Bytes)/(1<<20)/secs, procstat.PeakRSS())
}

// real inspects one distribution and reports its throughput.
func real(path string, lim inspect.Limits) {
	rep, secs := run(path, lim)
	st, _ := os.Stat(path)
	var py int64
	if zr, err := zip.OpenReader(path); err == nil {
		for _, f := range zr.File {
			if strings.HasSuffix(f.Name, ".py") {
				py += int64(f.UncompressedSize64)
			}
		}
		zr.Close()
	}
	fmt.Printf("  %s: %.1f MB, %.1f MB uncompressed, %d files, %.1f MB Python: %.2f s, %.1f MB/s of archive, %.1f MB/s of Python; %d findings\n",
		filepath.Base(path), float64(st.Size())/1e6, float64(rep.Bytes)/1e6, len(rep.Files), float64(py)/1e6, secs,
		float64(st.Size())/1e6/secs, float64(py)/1e6/secs, len(rep.Findings))
}

func run(path string, lim inspect.Limits) (*inspect.Report, float64) {
	rep, secs, err := runErr(path, lim)
	if err != nil {
		fail(err)
	}
	return rep, secs
}

func runErr(path string, lim inspect.Limits) (*inspect.Report, float64, error) {
	f, err := os.Open(path)
	if err != nil {
		fail(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	start := time.Now()
	rep, err := inspect.File(f, st.Size(), filepath.Base(path), lim)
	return rep, time.Since(start).Seconds(), err
}

// writeWheel writes ~3000 Python modules (scanned; a quarter parsed) and 150 MiB of
// incompressible data files (hashed), with a correct RECORD.
func writeWheel(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw := zip.NewWriter(bw)
	var record strings.Builder
	src := strings.Repeat("def f(x):\n    return x * 2  # a line of ordinary code\n", 400)
	// Every fourth module has words that make the Python parser look at it
	// (a process started inside a function, an environment lookup).
	parsed := "import os, subprocess\n\n" + strings.Repeat("def g(x):\n    return subprocess.run(['ls', os.environ.get('HOME', x)])\n", 200) + src[:len(src)/2]
	r := rand.New(rand.NewPCG(1, 2))
	blob := make([]byte, 1<<20)
	add := func(name string, data []byte, method uint16) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method})
		if err != nil {
			return err
		}
		w.Write(data)
		fmt.Fprintf(&record, "%s,,%d\n", name, len(data))
		return nil
	}
	for i := 0; i < 3000; i++ {
		body := src
		if i%4 == 0 {
			body = parsed
		}
		if err := add(fmt.Sprintf("big/mod%04d.py", i), []byte(body), zip.Deflate); err != nil {
			return err
		}
	}
	for i := 0; i < 150; i++ {
		for j := 0; j+8 <= len(blob); j += 8 {
			v := r.Uint64()
			for k := 0; k < 8; k++ {
				blob[j+k] = byte(v >> (8 * k))
			}
		}
		if err := add(fmt.Sprintf("big/data/chunk%03d.bin", i), blob, zip.Store); err != nil {
			return err
		}
	}
	add("big-1.0.dist-info/WHEEL", []byte("Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"), zip.Deflate)
	record.WriteString("big-1.0.dist-info/RECORD,,\n")
	w, _ := zw.Create("big-1.0.dist-info/RECORD")
	w.Write([]byte(record.String()))
	if err := zw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

// writeBomb writes one member of n zero bytes, deflated.
func writeBomb(path string, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	w, err := zw.Create("bomb/zeros.bin")
	if err != nil {
		return err
	}
	zero := make([]byte, 1<<20)
	for written := int64(0); written < n; written += int64(len(zero)) {
		if _, err := w.Write(zero); err != nil {
			return err
		}
	}
	return zw.Close()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "inspectbench:", err)
	os.Exit(1)
}
