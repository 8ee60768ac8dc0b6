// Command feedbench measures what a hostile or broken advisory feed costs
// the process: it writes feeds to a scratch directory (a zip of 1,000,000
// OSV records, a 501 MB zip, a real-sized feed of 20,000 records), serves
// them over HTTP on loopback (and the largest feed accepted, 100,000
// records), reads each with the feed as the server does
// (memory limit set as serve sets it), and prints the time, whether the
// source was taken, and the process's peak RSS after each. Run by
// bench/advisories.sh: -write makes a case's zip, then -read, in a process
// of its own, reads it (so the peak is the read's alone).
package main

import (
	"archive/zip"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/rs/zerolog"

	"airlock/advisories"
	"airlock/internal/procstat"
)

func record(i int) string {
	return fmt.Sprintf(`{"id":"MAL-2026-%d","published":"2026-03-24T10:00:00Z","summary":"Malicious code in pkg%d (PyPI)","affected":[{"package":{"ecosystem":"PyPI","name":"pkg%d"},"versions":["1.0"]}]}`, i, i, i)
}

func writeZip(path string, records int, padding int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	for i := range records {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("osv/malicious/pypi/pkg%d/MAL-2026-%d.json", i, i), Method: zip.Store})
		if err != nil {
			return err
		}
		io.WriteString(w, record(i))
	}
	if padding > 0 {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "padding.bin", Method: zip.Store})
		if err != nil {
			return err
		}
		if _, err := io.CopyN(w, rand.Reader, padding); err != nil {
			return err
		}
	}
	return zw.Close()
}

func main() {
	which := flag.String("case", "", "records-1m, zip-501mb or real-20k")
	dir := flag.String("dir", os.TempDir(), "scratch directory")
	write := flag.Bool("write", false, "write the case's zip and exit")
	limit := flag.Int64("memory-limit", 256<<20, "the soft memory limit serve sets (memory_limit)")
	flag.Parse()
	debug.SetMemoryLimit(*limit)
	path := filepath.Join(*dir, *which+".zip")
	if !*write {
		read(path, *which)
		return
	}
	var err error
	switch *which {
	case "records-1m":
		err = writeZip(path, 1_000_000, 0)
	case "zip-501mb":
		err = writeZip(path, 10, 501<<20)
	case "real-20k":
		err = writeZip(path, 20_000, 0)
	case "max-100k":
		err = writeZip(path, advisories.MaxRecords, 0) // the most a source may hold
	default:
		fmt.Fprintln(os.Stderr, "feedbench: -case records-1m|zip-501mb|real-20k|max-100k")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "feedbench:", err)
		os.Exit(1)
	}
}

func read(path, which string) {
	defer os.Remove(path)
	before := procstat.PeakRSS()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "feedbench:", err)
		os.Exit(1)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, path) }))
	fi, _ := os.Stat(path)
	feed := advisories.NewFeed([]string{"http://" + ln.Addr().String() + "/all.zip"}, nil, zerolog.Nop())
	start := time.Now()
	errs := feed.Refresh(context.Background())
	outcome := fmt.Sprintf("taken, %d records", feed.DB().Records)
	if len(errs) > 0 {
		outcome = "refused: " + errs[0].Error()
		if len(outcome) > 120 {
			outcome = outcome[:120] + "…"
		}
	}
	fmt.Printf("%-11s %5d MiB zip  %7.2f s  peak RSS %s (%s at start)  %s\n",
		which, fi.Size()>>20, time.Since(start).Seconds(), procstat.PeakRSS(), before, outcome)
}
