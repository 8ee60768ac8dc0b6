package pep440

import (
	"sort"
	"testing"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"1.0": "1.0", "v1.2.3": "1.2.3", "1.0-RC1": "1.0rc1", "1.0alpha2": "1.0a2", "1.0.c3": "1.0rc3",
		"1.0-1": "1.0.post1", "1.0.rev2": "1.0.post2", "1.0.dev": "1.0.dev0", "1!2.0": "1!2.0",
		"1.0+Ubuntu-1": "1.0+ubuntu.1", "2024.10.3": "2024.10.3", "1.82.8": "1.82.8",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{"", "one", "1.0-foo", "1..0", "latest"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

func TestOrder(t *testing.T) {
	// PEP 440's own example ordering, plus epochs and locals.
	want := []string{
		"1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12", "1.0b1.dev456", "1.0b2",
		"1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456", "1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7",
		"1.0+5", "1.0.post456.dev34", "1.0.post456", "1.0.15", "1.1.dev1", "2.0", "1!0.5",
	}
	got := append([]string(nil), want...)
	sort.Slice(got, func(i, j int) bool { return Compare(mustParse(t, got[i]), mustParse(t, got[j])) < 0 })
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("order:\n got %v\nwant %v", got, want)
		}
	}
	if !Equal("1.0", "1.0.0") || !Equal("v1.2.3", "1.2.3") || Equal("1.0", "1.0.post1") {
		t.Error("Equal")
	}
}

func mustParse(t *testing.T, s string) Version {
	v, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1.0", "1!2.0rc1.post2.dev3+local.7", "v1", "1.0-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Parse(s)
		if err != nil {
			return
		}
		// The normalized form parses to the same version.
		w, err := Parse(v.String())
		if err != nil || Compare(v, w) != 0 {
			t.Fatalf("%q -> %q does not round-trip", s, v.String())
		}
	})
}
