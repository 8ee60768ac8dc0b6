// Command airlock is a verifying install proxy for Python packages: a PEP
// 503/691 simple index that pip and uv install through, serving only files
// whose sha256 matched what the upstream index published.
//
//	airlock serve [--config FILE] [--listen ADDR] [--data-dir DIR]
//	airlock check [--config FILE] name==version
//	airlock quarantine list|show|approve|reject|reopen [--server URL] [--reason TEXT] TARGET
//	airlock verify [--provenance FILE] [--trusted-root FILE] [--publisher SPEC] DIST
//	airlock score [--config FILE] [--json] PROJECT
//	airlock version
package main

import (
	"fmt"
	"io"
	"os"

	"airlock/textsafe"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  airlock serve [--config FILE] [--listen ADDR] [--data-dir DIR]
  airlock check [--config FILE] name==version
  airlock quarantine list|show|approve|reject|reopen [--server URL] [--reason TEXT] TARGET
  airlock verify [--provenance FILE] [--trusted-root FILE] [--publisher SPEC] DIST
  airlock score [--config FILE] [--json] PROJECT
  airlock version
`

// run dispatches a subcommand and returns the process exit code:
// 0 success, 1 failure, 2 bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	// What these commands print comes from upstreams and archives:
	// nothing in it may drive the terminal.
	stdout = textsafe.Writer{W: stdout}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "check":
		return check(args[1:], stdout, stderr)
	case "score":
		return score(args[1:], stdout, stderr)
	case "verify":
		return verifyCmd(args[1:], stdout, stderr)
	case "quarantine":
		return quarantineCmd(args[1:], stdout, stderr, os.Getenv)
	case "version", "--version":
		fmt.Fprintf(stdout, "airlock %s\n", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "airlock: unknown command %q\n%s", args[0], usage)
	return 2
}
