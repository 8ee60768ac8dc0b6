package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rs/zerolog"

	"airlock/config"
	"airlock/storage"
)

var storeCopyHelp = &command{name: "store copy", summary: "Copy every record and file from one store to another (bbolt + folder to PostgreSQL + S3, and back).",
	usage: "airlock store copy --from CONFIG --to CONFIG",
	details: "Each CONFIG names a store (data_dir, database.url, blobs.*); AIRLOCK_* variables are not applied to them, so each file says " +
		"where its store is (S3 credentials still come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY). Every file is verified " +
		"against its sha256 on the way. Run it again after an interruption: it resumes. Stop the servers of a bbolt store first.",
	examples: []string{
		"airlock store copy --from /etc/airlock/old.yaml --to /etc/airlock/shared.yaml",
	}}

func storeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "copy" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			printHelp(stdout, storeCopyHelp, nil)
			return 0
		}
		usageError(stderr, storeCopyHelp, "the store command has one subcommand: copy")
		return 2
	}
	fs := newFlags(storeCopyHelp, stderr)
	from := fs.String("from", "", "config `file` of the store to copy from")
	to := fs.String("to", "", "config `file` of the store to copy to")
	if code, done := parseFlags(storeCopyHelp, fs, args[1:], stdout, stderr); done {
		return code
	}
	if *from == "" || *to == "" || fs.NArg() != 0 {
		usageError(stderr, storeCopyHelp, "--from and --to are required")
		return 2
	}
	open := func(path string) (*storage.Store, error) {
		cfg, err := config.Load(path, func(string) string { return "" })
		if err != nil {
			return nil, err
		}
		return openStore(cfg, zerolog.Nop())
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
