// Command fakepypi runs the test upstream on loopback for benchmarks: the
// e2e dependency tree plus one large wheel. It prints one JSON line with its
// URLs and serves until killed.
package main

import (
	"encoding/json"
	"flag"
	"os"
	"os/signal"
	"syscall"
	"time"

	"airlock/internal/fakepypi"
)

func main() {
	bigMB := flag.Int("big-mb", 50, "size of the large wheel (project \"big\") in MiB")
	flag.Parse()
	fake := fakepypi.New()
	t := time.Date(2024, 10, 8, 0, 0, 0, 0, time.UTC)
	for _, spec := range []fakepypi.WheelSpec{
		{Name: "app", Version: "1.0", Requires: []string{"alpha>=1.0", "beta"}},
		{Name: "alpha", Version: "1.1", Requires: []string{"gamma>=1.0"}},
		{Name: "beta", Version: "2.0", Requires: []string{"delta", "gamma"}},
		{Name: "gamma", Version: "1.0"},
		{Name: "delta", Version: "0.5", Requires: []string{"epsilon==1.0"}},
		{Name: "epsilon", Version: "1.0"},
	} {
		fake.AddWheel(spec, t)
	}
	// A project page of realistic size for the page benchmark: 300 files.
	for i := 0; i < 150; i++ {
		v := "1." + itoa(i)
		fake.AddWheel(fakepypi.WheelSpec{Name: "popular", Version: v}, t)
		fake.AddSdist("popular", v, t)
	}
	big := fake.AddWheel(fakepypi.WheelSpec{Name: "big", Version: "1.0", PayloadBytes: *bigMB << 20}, t)
	json.NewEncoder(os.Stdout).Encode(map[string]string{
		"index": fake.Index.URL, "file_host": fake.FileHost(), "big_file": big.Filename,
		"pypistats": fake.Stats.URL, "github": fake.GitHub.URL,
	})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	fake.Close()
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
