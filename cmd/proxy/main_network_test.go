package main

import (
	"os"
	"testing"

	"airlock/internal/storetest"
)

// TestMain keeps these tests off the internet: every HTTP request to a
// non-loopback host goes to a proxy address where nothing listens, so a
// default URL that slipped through fails at once instead of leaving the
// machine. Loopback fakes are not proxied.
func TestMain(m *testing.M) {
	os.Setenv("HTTP_PROXY", "http://127.0.0.1:9")
	os.Setenv("HTTPS_PROXY", "http://127.0.0.1:9")
	code := m.Run()
	storetest.Shutdown()
	os.Exit(code)
}
