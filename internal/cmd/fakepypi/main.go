// Command fakepypi runs the test upstream on loopback for benchmarks: the
// e2e dependency tree plus one large wheel. It prints one JSON line with its
// URLs and serves until killed.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"airlock/internal/fakepypi"
)

func main() {
	bigMB := flag.Int("big-mb", 50, "size of the large wheel (project \"big\") in MiB")
	wideFiles := flag.Int("wide-files", 200, "files of 1 MiB in the newest release of project \"wide\"")
	hugeProjects := flag.Int("huge-projects", 0, "projects huge0, huge1, … with -huge-files files each (memory benchmark)")
	hugeFiles := flag.Int("huge-files", 199000, "files per huge project")
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
	now := time.Now()
	// Earlier releases of the tree (a cold install must not fetch them) and
	// newer ones still in their cooldown, on several platforms (the
	// background checks fetch those, within their budget).
	for _, name := range []string{"alpha", "beta", "gamma"} {
		fake.AddWheel(fakepypi.WheelSpec{Name: name, Version: "0.9", PayloadBytes: 1 << 20}, t.Add(-30*24*time.Hour))
	}
	for i, tag := range platformTags(5) {
		fake.AddWheel(fakepypi.WheelSpec{Name: "alpha", Version: "1.2", Tag: tag, PayloadBytes: 1 << 20}, now.Add(-48*time.Hour-time.Duration(i)*time.Minute))
	}
	// A cold project whose newest release has 200 files of 1 MiB, for the
	// first-page latency.
	for _, v := range []string{"1.0", "1.1"} {
		fake.AddWheel(fakepypi.WheelSpec{Name: "wide", Version: v}, t)
	}
	for _, tag := range platformTags(*wideFiles) {
		fake.AddWheel(fakepypi.WheelSpec{Name: "wide", Version: "2.0", Tag: tag, PayloadBytes: 1 << 20}, now.Add(-24*time.Hour))
	}
	for p := 0; p < *hugeProjects; p++ {
		name := fmt.Sprintf("huge%d", p)
		for i := 0; i < *hugeFiles; i++ {
			v := fmt.Sprintf("1.%d.%d", i/20, i%20)
			fake.Add(&fakepypi.Dist{Project: name, Version: v, Filename: fmt.Sprintf("%s-%s-cp312-cp312-manylinux_2_17_x86_64.whl", name, v),
				Data: []byte(name + v), UploadTime: t})
		}
	}
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

// platformTags returns n distinct wheel tags.
func platformTags(n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		py := []string{"cp310", "cp311", "cp312", "cp313", "cp314"}[i%5]
		plat := []string{"manylinux_2_17_x86_64", "manylinux_2_17_aarch64", "musllinux_1_2_x86_64", "macosx_11_0_arm64", "win_amd64"}[(i/5)%5]
		out = append(out, py+"-"+py+"-"+plat+"_"+itoa(i/25))
	}
	return out
}
