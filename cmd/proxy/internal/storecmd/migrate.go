package storecmd

import (
	"context"
	"fmt"
	"io"
	"time"

	"airlock/cmd/proxy/internal/cli"
	"airlock/config"
	"airlock/storage"
	"airlock/upstream"
)

var MigrateHelp = &cli.Command{Name: "migrate", Summary: "Create or upgrade the PostgreSQL schema (database.url); serve refuses a schema it does not know.",
	Usage:   "airlock migrate [--config FILE]",
	Details: "Applies each missing schema version in order, under a lock, so replicas may run it at once. bbolt (no database.url) needs no migration.",
	Examples: []string{
		"AIRLOCK_DATABASE_URL=postgres://airlock@db.internal/airlock airlock migrate",
		"airlock migrate --config /etc/airlock/config.yaml",
	}}

func Migrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlags(MigrateHelp, stderr)
	cfgPath := fs.String("config", "", "YAML config `file` (optional)")
	if code, done := cli.ParseArgs(MigrateHelp, fs, args, 0, stdout, stderr); done {
		return code
	}
	cfg, err := config.LoadProcess(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "airlock: %v\n", err)
		return 2
	}
	if cfg.Database.URL == "" {
		fmt.Fprintln(stderr, "airlock migrate: no database.url (AIRLOCK_DATABASE_URL): bbolt needs no migration")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	from, to, err := storage.Migrate(ctx, cfg.Database.URL)
	if err != nil {
		fmt.Fprintf(stderr, "airlock migrate: %v\n", err)
		return 1
	}
	if from == to {
		fmt.Fprintf(stdout, "%s: schema version %d, up to date\n", upstream.RedactURL(cfg.Database.URL), to)
	} else {
		fmt.Fprintf(stdout, "%s: schema version %d -> %d\n", upstream.RedactURL(cfg.Database.URL), from, to)
	}
	return 0
}
