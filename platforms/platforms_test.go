package platforms

import (
	"testing"
	"time"
)

// What pip 26.3 and uv 0.13.9 send on this machine (captured), and on
// others.
const (
	pipUA = `pip/26.3 {"ci":null,"cpu":"x86_64","distro":{"id":"bookworm","libc":{"lib":"glibc","version":"2.36"},"name":"Debian GNU/Linux","version":"12"},"implementation":{"name":"CPython","version":"3.11.7"},"installer":{"name":"pip","version":"26.3"},"openssl_version":"OpenSSL 3.0.19 27 Jan 2026","python":"3.11.7","rustc_version":"1.95.0","setuptools_version":"65.5.0","system":{"name":"Linux","release":"6.18.44-fc-v1147"}}`
	uvUA  = `uv/0.13.9 {"installer":{"name":"uv","version":"0.13.9","subcommand":["pip","install"]},"python":"3.11.7","implementation":{"name":"CPython","version":"3.11.7"},"distro":{"name":"Debian GNU/Linux","version":"12","id":"bookworm","libc":{"lib":"glibc","version":"2.36"}},"system":{"name":"Linux","release":"6.18.44-fc-v1147"},"cpu":"x86_64","openssl_version":null,"setuptools_version":null,"rustc_version":null,"ci":null}`
	macUA = `uv/0.13.9 {"installer":{"name":"uv","version":"0.13.9"},"python":"3.13.1","implementation":{"name":"CPython","version":"3.13.1"},"distro":{"name":"macOS","version":"15.1"},"system":{"name":"Darwin","release":"24.1.0"},"cpu":"arm64"}`
	winUA = `pip/25.0 {"cpu":"AMD64","implementation":{"name":"CPython","version":"3.12.4"},"installer":{"name":"pip","version":"25.0"},"python":"3.12.4","system":{"name":"Windows","release":"10"}}`
	alpUA = `pip/24.0 {"cpu":"aarch64","distro":{"id":"alpine","libc":{"lib":"musl","version":"1.2.4"}},"implementation":{"name":"CPython","version":"3.12.1"},"python":"3.12.1","system":{"name":"Linux","release":"6.1"}}`
)

func TestFromUserAgent(t *testing.T) {
	for ua, want := range map[string]string{pipUA: "linux-x86_64-glibc-cp3.11", uvUA: "linux-x86_64-glibc-cp3.11",
		macUA: "macos-arm64-cp3.13", winUA: "windows-x86_64-cp3.12", alpUA: "linux-aarch64-musl-cp3.12"} {
		c, ok := FromUserAgent(ua)
		if !ok || c.String() != want {
			t.Errorf("%.40s…: %v %v, want %s", ua, c, ok, want)
		}
		back, err := Parse(want)
		if err != nil || back != c {
			t.Errorf("Parse(%q) = %v %v, want %v", want, back, err, c)
		}
	}
	for _, ua := range []string{"curl/8.5.0", "poetry/2.1.0 python/3.12", `pip/1 {"system":{"name":"Plan9"}}`, `pip/1 {not json`, ""} {
		if c, ok := FromUserAgent(ua); ok {
			t.Errorf("%q read as %v", ua, c)
		}
	}
	for _, bad := range []string{"linux-x86_64-cp3.11", "beos-x86_64-cp3.11", "macos-arm64-jy3.1", "windows", "linux-x86_64-glibc-cp3"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestFits(t *testing.T) {
	linux311, _ := FromUserAgent(pipUA)
	mac313, _ := FromUserAgent(macUA)
	win312, _ := FromUserAgent(winUA)
	musl312, _ := FromUserAgent(alpUA)
	cases := []struct {
		file string
		fits []Client
		not  []Client
	}{
		{"pkg-1.0.tar.gz", []Client{linux311}, nil},
		{"pkg-1.0-py3-none-any.whl", []Client{linux311, mac313, win312}, nil},
		{"pkg-1.0-py2.py3-none-any.whl", []Client{linux311}, nil},
		{"pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", []Client{linux311}, []Client{mac313, win312, musl312}},
		{"pkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", nil, []Client{linux311}},
		{"pkg-1.0-cp38-abi3-manylinux_2_17_x86_64.whl", []Client{linux311}, []Client{musl312}},
		{"pkg-1.0-cp312-cp312-musllinux_1_2_aarch64.whl", []Client{musl312}, []Client{linux311}},
		{"pkg-1.0-cp313-cp313-macosx_11_0_arm64.whl", []Client{mac313}, []Client{linux311}},
		{"pkg-1.0-cp313-cp313-macosx_10_13_universal2.whl", []Client{mac313}, nil},
		{"pkg-1.0-cp312-cp312-win_amd64.whl", []Client{win312}, []Client{linux311, mac313}},
		{"pkg-1.0-1-cp311-cp311-linux_x86_64.whl", []Client{linux311}, nil}, // a build tag
		{"pkg-1.0-pp310-pypy310_pp73-manylinux_2_17_x86_64.whl", nil, []Client{linux311}},
		{"strange.whl", []Client{linux311}, nil}, // unreadable: checked rather than skipped
	}
	for _, c := range cases {
		for _, cl := range c.fits {
			if !Fits(c.file, []Client{cl}) {
				t.Errorf("%s should fit %s", c.file, cl)
			}
		}
		for _, cl := range c.not {
			if Fits(c.file, []Client{cl}) {
				t.Errorf("%s should not fit %s", c.file, cl)
			}
		}
	}
	if Fits("pkg-1.0-cp311-cp311-win_amd64.whl", nil) {
		t.Error("no client known: a platform wheel fits nobody")
	}
	// A pure wheel or an sdist is one file for every client, known or not
	// (poetry names no platform): always checked.
	for _, f := range []string{"pkg-1.0-py3-none-any.whl", "pkg-1.0-py2.py3-none-any.whl", "pkg-1.0.tar.gz"} {
		if !Fits(f, nil) || !NewSeen(time.Hour, time.Now).Fits(f) {
			t.Errorf("%s with no client known: not checked", f)
		}
	}
}

func TestSeen(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	fixed, _ := Parse("windows-x86_64-cp3.12")
	s := NewSeen(30*24*time.Hour, func() time.Time { return now }, fixed)
	if !s.Saw(pipUA) || s.Saw(uvUA) || s.Saw("curl/8") {
		t.Error("first pip request is new, the same platform from uv is not, curl says none")
	}
	if got := s.Active(); len(got) != 2 {
		t.Errorf("active: %v", got)
	}
	now = now.Add(31 * 24 * time.Hour)
	if got := s.Active(); len(got) != 1 || got[0] != fixed {
		t.Errorf("after a month without linux clients: %v", got)
	}
	if !s.Saw(pipUA) {
		t.Error("a client back after it was forgotten is new again")
	}
}

func TestChoose(t *testing.T) {
	files := []string{"pkg-1.0.tar.gz", "pkg-1.0-py3-none-any.whl", "pkg-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "pkg-1.0-cp311-cp311-win_amd64.whl"}
	if i := Choose(pipUA, files); i != 2 {
		t.Errorf("linux pip: %d, want its platform wheel", i)
	}
	if i := Choose(winUA, files); i != 1 {
		t.Errorf("windows 3.12: %d, want the pure wheel", i)
	}
	if i := Choose(pipUA, files[:1]); i != 0 {
		t.Errorf("sdist only: %d", i)
	}
	if i := Choose("curl/8", files); i != -1 {
		t.Errorf("no platform named: %d", i)
	}
	if i := Choose(pipUA, []string{"pkg-1.0-cp311-cp311-win_amd64.whl"}); i != -1 {
		t.Errorf("nothing it could install: %d", i)
	}
}
