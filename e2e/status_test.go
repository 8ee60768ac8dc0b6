package e2e

import "testing"

// The clients' own words, as pip 26.3 and uv 0.13.9 print them. The port
// 34035 once made a bare search for "403" fail a passing install.
func TestShowsStatus(t *testing.T) {
	for _, c := range []struct {
		out    string
		status int
		want   bool
	}{
		{"ERROR: HTTP error 403 while getting http://127.0.0.1:35725/files/g/g-1.1-py3-none-any.whl.metadata", 403, true},
		{"ERROR: 403 Client Error: Held by Airlock (cooldown) for url: http://127.0.0.1:35725/files/g.whl", 403, true},
		{"cause: HTTP status client error (403 Held by Airlock (cooldown)) for url (http://127.0.0.1:35725/x)", 403, true},
		{"hint: An index URL (http://127.0.0.1:38093/simple/) could not be queried due to a lack of valid authentication credentials (401 Unauthorized)", 401, true},
		{"Max retries exceeded with url: /files/e.whl (Caused by ResponseError('too many 502 error responses'))", 502, true},
		{"ERROR: 502 Server Error: Bad Gateway for url: http://127.0.0.1:1/x", 502, true},
		{"Looking in indexes: http://127.0.0.1:34035/simple/\nSuccessfully installed coolpkg-1.0", 403, false},
		{"Downloading http://127.0.0.1:40300/files/coolpkg/coolpkg-1.403-py3-none-any.whl", 403, false},
		{"ERROR: HTTP error 403 while getting http://x", 401, false},
	} {
		if got := showsStatus(c.out, c.status); got != c.want {
			t.Errorf("showsStatus(%q, %d) = %v, want %v", c.out, c.status, got, c.want)
		}
	}
}
