// Package storecmd is the store's maintenance commands: `airlock store
// copy` (every record and file from one store to another) and `airlock
// migrate` (PostgreSQL's schema).
package storecmd

import (
	"context"
	"fmt"
	"io"

	"github.com/rs/zerolog"

	"airlock/cmd/proxy/internal/cli"
	"airlock/config"
	"airlock/server/parts"
	"airlock/storage"
)

var CopyHelp = &cli.Command{Name: "store copy", Summary: "Copy every record and file from one store to another (bbolt + folder to PostgreSQL + S3, and back).",
	Usage: "airlock store copy --from CONFIG --to CONFIG",
	Details: "Each CONFIG names a store (data_dir, database.url, blobs.*); AIRLOCK_* variables are not applied to them, so each file says " +
		"where its store is (S3 credentials still come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY). Every file is verified " +
		"against its sha256 on the way. Run it again after an interruption: it resumes. Stop the servers of a bbolt store first.",
	Examples: []string{
		"airlock store copy --from /etc/airlock/old.yaml --to /etc/airlock/shared.yaml",
	}}

func Store(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "copy" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			cli.PrintHelp(stdout, CopyHelp, nil)
			return 0
		}
		cli.UsageError(stderr, CopyHelp, "the store command has one subcommand: copy")
		return 2
	}
	fs := cli.NewFlags(CopyHelp, stderr)
	from := fs.String("from", "", "config `file` of the store to copy from")
	to := fs.String("to", "", "config `file` of the store to copy to")
	if code, done := cli.ParseFlags(CopyHelp, fs, args[1:], stdout, stderr); done {
		return code
	}
	if *from == "" || *to == "" || fs.NArg() != 0 {
		cli.UsageError(stderr, CopyHelp, "--from and --to are required")
		return 2
	}
	open := func(path string) (*storage.Store, error) {
		cfg, err := config.Load(path, func(string) string { return "" })
		if err != nil {
			return nil, err
		}
		return parts.OpenStore(cfg, zerolog.Nop())
	}
	src, err := open(*from)
	if err != nil {
		fmt.Fprintf(stderr, "airlock store copy: --from: %v\n", err)
		return 1
	}
	defer src.Close()
	dst, err := open(*to)
	if err != nil {
		fmt.Fprintf(stderr, "airlock store copy: --to: %v\n", err)
		return 1
	}
	defer dst.Close()
	err = src.CopyTo(ctx, dst, func(format string, a ...any) { fmt.Fprintf(stdout, format+"\n", a...) })
	if err != nil {
		fmt.Fprintf(stderr, "airlock store copy: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "done")
	return 0
}
