package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunExitCodes(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("upstream:\n  urll: https://pypi.org\n"), 0o644)
	tests := []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"version"}, 0, "airlock "},
		{nil, 2, "usage"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"serve", "--config", bad}, 2, "urll"},
		{[]string{"serve", "--config", "/nonexistent.yaml"}, 2, "no such file"},
		{[]string{"serve", "--listen", "not-an-address"}, 2, "listen"},
		{[]string{"serve", "extra"}, 2, "unexpected argument"},
		{[]string{"serve", "--bogus"}, 2, "bogus"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := run(tt.args, &out, &errb)
		if code != tt.code || !strings.Contains(out.String()+errb.String(), tt.contains) {
			t.Errorf("airlock %v: exit %d, output %q; want exit %d containing %q", tt.args, code, out.String()+errb.String(), tt.code, tt.contains)
		}
	}
}
