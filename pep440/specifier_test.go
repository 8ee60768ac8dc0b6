package pep440

import "testing"

func TestSpecifiers(t *testing.T) {
	cases := []struct {
		spec    string
		allowed []string
		refused []string
	}{
		{"", []string{"1.0", "2.3.4", "0.1.post1"}, []string{"2.0rc1", "1.0.dev0"}},
		{"==1.0", []string{"1.0", "1.0.0", "1.0+local"}, []string{"1.0.1", "1.0rc1"}},
		{"==1.5.*", []string{"1.5", "1.5.3", "1.5.0.post1"}, []string{"1.6", "1.4.9"}},
		{"!=1.5.*", []string{"1.6", "1.4"}, []string{"1.5.2"}},
		{">=2.1,<3", []string{"2.1", "2.9.9", "2.31.0"}, []string{"2.0.9", "3.0", "3.0a1", "3.1"}},
		{"~=1.4.2", []string{"1.4.2", "1.4.9"}, []string{"1.5", "1.4.1"}},
		{"~=2.2", []string{"2.2", "2.9"}, []string{"3.0", "2.1"}},
		{">1.7", []string{"1.7.1", "1.8"}, []string{"1.7", "1.7.post2"}},
		{"<=2.0", []string{"2.0", "1.9"}, []string{"2.0.1"}},
		{">=1.0rc1", []string{"1.0rc1", "1.0", "1.1rc1"}, []string{"1.0b3"}},
		{"===1.0-custom", nil, []string{"1.0"}},
	}
	for _, c := range cases {
		ss, err := ParseSpecifiers(c.spec)
		if err != nil {
			t.Fatalf("%q: %v", c.spec, err)
		}
		for _, v := range c.allowed {
			if !ss.Allows(mustParse(t, v)) {
				t.Errorf("%q should allow %s", c.spec, v)
			}
		}
		for _, v := range c.refused {
			if ss.Allows(mustParse(t, v)) {
				t.Errorf("%q should refuse %s", c.spec, v)
			}
		}
	}
	for _, bad := range []string{">=", "=>1.0", "~=1", "==1.0,", "1.0", ">=1.0 foo"} {
		if _, err := ParseSpecifiers(bad); err == nil {
			t.Errorf("ParseSpecifiers(%q) accepted", bad)
		}
	}
}

func TestParseRequirement(t *testing.T) {
	r, err := ParseRequirement(`requests[socks,security] (>=2.31,<3) ; python_version >= "3.8"`)
	if err != nil || r.Name != "requests" || len(r.Extras) != 2 || len(r.Specifiers) != 2 || r.Marker != `python_version >= "3.8"` {
		t.Errorf("%+v %v", r, err)
	}
	r, err = ParseRequirement("typing_extensions>=4.6")
	if err != nil || r.Name != "typing_extensions" || r.Marker != "" || !r.Specifiers.Allows(mustParse(t, "4.12.2")) {
		t.Errorf("%+v %v", r, err)
	}
	if r, err := ParseRequirement("pkg @ https://example.com/pkg.whl"); err != nil || !r.URL {
		t.Errorf("a URL requirement: %+v %v", r, err)
	}
	if r, err := ParseRequirement("idna"); err != nil || len(r.Specifiers) != 0 {
		t.Errorf("no specifier: %+v %v", r, err)
	}
	for _, bad := range []string{"", ">=1.0", "pkg >= ", "-pkg"} {
		if _, err := ParseRequirement(bad); err == nil {
			t.Errorf("ParseRequirement(%q) accepted", bad)
		}
	}
}
