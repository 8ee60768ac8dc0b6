package gate_test

import (
	"testing"
	"time"

	"airlock/gate"
	"airlock/internal/fakepypi"
	"airlock/platforms"
)

const linuxPip = `pip/26.3 {"cpu":"x86_64","distro":{"id":"bookworm","libc":{"lib":"glibc","version":"2.36"},"name":"Debian GNU/Linux","version":"12"},"implementation":{"name":"CPython","version":"3.11.7"},"installer":{"name":"pip","version":"26.3"},"python":"3.11.7","system":{"name":"Linux","release":"6.1.0"}}`

// Without PEP 658 metadata pip downloads each wheel to read what it
// depends on, one after the other. A served wheel's Requires-Dist says
// which files come next: each is fetched and decided before it is asked
// for — the release pip would pick (the newest the specifier allows, past
// its cooldown), the file for the client's platform, and nothing else.
func TestDependenciesFetchedAhead(t *testing.T) {
	ctx := t.Context()
	fake := fakepypi.New()
	t.Cleanup(fake.Close)
	old := time.Now().Add(-60 * 24 * time.Hour)
	var noMeta []*fakepypi.Dist
	add := func(spec fakepypi.WheelSpec, at time.Time) *fakepypi.Dist {
		d := fake.AddWheel(spec, at)
		d.Metadata = nil
		noMeta = append(noMeta, d)
		return d
	}
	app := add(fakepypi.WheelSpec{Name: "app", Version: "1.0",
		Requires: []string{"lib>=1.0,<2", "other", `winonly; sys_platform == "win32"`}}, old)
	add(fakepypi.WheelSpec{Name: "lib", Version: "0.9"}, old)
	libNative := add(fakepypi.WheelSpec{Name: "lib", Version: "1.1", Tag: "cp311-cp311-manylinux_2_17_x86_64"}, old)
	add(fakepypi.WheelSpec{Name: "lib", Version: "1.1", Tag: "cp311-cp311-win_amd64"}, old) // another platform
	add(fakepypi.WheelSpec{Name: "lib", Version: "1.1"}, old)                               // pure: the native one comes first
	add(fakepypi.WheelSpec{Name: "lib", Version: "2.0"}, old)                               // excluded by <2
	other := add(fakepypi.WheelSpec{Name: "other", Version: "3.0"}, old)
	add(fakepypi.WheelSpec{Name: "other", Version: "3.1"}, time.Now().Add(-time.Hour)) // in its cooldown
	add(fakepypi.WheelSpec{Name: "winonly", Version: "1.0"}, old)                      // behind a marker: the resolver decides

	g := newGate(t, fake, time.Now, func(o *gate.Options) { o.Platforms = platforms.NewSeen(time.Hour, time.Now) })
	ans, err := g.File(ctx, gate.FileRequest{Project: "app", Filename: app.Filename, UserAgent: linuxPip})
	if err != nil || !ans.View.Serve {
		t.Fatalf("app: %+v %v", ans.View, err)
	}
	hits := func(d *fakepypi.Dist) int { return fake.Hits("/packages/" + d.SHA256()[:8] + "/" + d.Filename) }
	deadline := time.Now().Add(20 * time.Second)
	for hits(libNative) == 0 || hits(other) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("dependencies not fetched ahead: lib %d, other %d", hits(libNative), hits(other))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Fetched is not yet decided: asking now joins the decision under way
	// or finds it stored; either way the upstream is not asked again.
	for _, d := range []*fakepypi.Dist{libNative, other} {
		ans, err := g.File(ctx, gate.FileRequest{Project: d.Project, Filename: d.Filename, UserAgent: linuxPip})
		if err != nil || !ans.View.Serve || ans.Record.SHA256 != d.SHA256() {
			t.Errorf("%s asked after it was fetched ahead: %+v %v", d.Filename, ans.View, err)
		}
		if n := hits(d); n != 1 {
			t.Errorf("%s fetched %d times, want once", d.Filename, n)
		}
	}
	for _, d := range noMeta {
		if d == app || d == libNative || d == other {
			continue
		}
		if n := hits(d); n != 0 {
			t.Errorf("%s fetched ahead (%d), though pip would not install it here", d.Filename, n)
		}
	}
}
