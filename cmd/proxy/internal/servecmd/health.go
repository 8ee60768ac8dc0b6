package servecmd

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"airlock/cmd/proxy/internal/cli"
	"airlock/config"
)

var HealthHelp = &cli.Command{Name: "health", Summary: "Ask a running server whether it is ready (for container health checks and scripts).",
	Usage:   "airlock health [--url URL]",
	Details: "Exit 0 when /readyz answers 200, 1 otherwise. Warnings about checks that cannot act are printed but do not fail it.",
	Examples: []string{
		"airlock health",
		"airlock health --url http://127.0.0.1:3180/readyz",
	}}

// readyzURL is the readiness URL of a server listening on listen (the
// default address when empty; loopback when it listens everywhere).
func readyzURL(listen string) string {
	if listen == "" {
		listen = config.DefaultListen
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + config.DefaultListen + "/readyz"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz"
}

// health needs no curl in the image: the container's health check runs
// the binary itself.
func Health(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlags(HealthHelp, stderr)
	u := fs.String("url", readyzURL(os.Getenv("AIRLOCK_LISTEN")), "readiness `URL` of the server (default from AIRLOCK_LISTEN)")
	if code, done := cli.ParseArgs(HealthHelp, fs, args, 0, stdout, stderr); done {
		return code
	}
	c := &http.Client{Timeout: 5 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *u, nil)
	if err != nil {
		fmt.Fprintf(stderr, "airlock health: %v\n", err)
		return 2
	}
	resp, err := c.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "airlock health: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	fmt.Fprintln(stdout, strings.TrimSpace(string(body)))
	if resp.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}
