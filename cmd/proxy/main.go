// Command airlock is a verifying install proxy for Python packages: a PEP
// 503/691 simple index that pip and uv install through, serving only files
// whose sha256 matched what the upstream index published.
//
// Each command's help (help.go) says what it does; airlock --help lists them.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"airlock/textsafe"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// SIGTERM or Ctrl-C cancels ctx: serve shuts down gracefully, every
	// other command stops what it is doing (each is handed ctx).
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a subcommand and returns the process exit code:
// 0 success, 1 failure, 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printTopHelp(stderr)
		return 2
	}
	// What these commands print comes from upstreams and archives:
	// nothing in it may drive the terminal.
	stdout = textsafe.Writer{W: stdout}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "check":
		return check(ctx, args[1:], stdout, stderr)
	case "score":
		return score(ctx, args[1:], stdout, stderr)
	case "verify":
		return verifyCmd(ctx, args[1:], stdout, stderr)
	case "quarantine":
		return quarantineCmd(ctx, args[1:], stdout, stderr, os.Getenv)
	case "downloads":
		return downloadsCmd(ctx, args[1:], stdout, stderr, os.Getenv)
	case "names":
		return namesCmd(ctx, args[1:], stdout, stderr, os.Getenv)
	case "store":
		return storeCmd(ctx, args[1:], stdout, stderr)
	case "migrate":
		return migrateCmd(ctx, args[1:], stdout, stderr)
	case "health":
		return healthCmd(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		return versionCmd(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		if len(args) > 1 { // airlock help COMMAND
			return run(ctx, append(args[1:2:2], "--help"), stdout, stderr)
		}
		printTopHelp(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "airlock: unknown command %q\n\n", args[0])
	printTopHelp(stderr)
	return 2
}
