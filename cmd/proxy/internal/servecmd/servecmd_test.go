package servecmd

import (
	"bytes"
	"testing"
)

// health asks the address serve listens on, as a client on this machine
// reaches it.
func TestReadyzURL(t *testing.T) {
	for listen, want := range map[string]string{"": "http://127.0.0.1:3180/readyz", "0.0.0.0:8080": "http://127.0.0.1:8080/readyz",
		"[::]:81": "http://127.0.0.1:81/readyz", "10.1.2.3:9": "http://10.1.2.3:9/readyz", ":7": "http://127.0.0.1:7/readyz"} {
		if got := readyzURL(listen); got != want {
			t.Errorf("readyzURL(%q) = %s, want %s", listen, got, want)
		}
	}
}

// Not a terminal: no welcome (the log is for machines).
func TestBufferIsNotATerminal(t *testing.T) {
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is not a terminal")
	}
}
