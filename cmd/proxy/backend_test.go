package main

import (
	"testing"

	"airlock/config"
	"airlock/internal/storetest"
)

// onTestBackend points cfg at the store the test run uses: with
// STORE_TEST_BACKEND=postgres, a database of the test cluster for cfg's
// data directory, named in AIRLOCK_DATABASE_URL too so that the CLI
// commands a test runs open the same records.
func onTestBackend(t *testing.T, cfg *config.Config) {
	t.Helper()
	if !storetest.Postgres() {
		return
	}
	dsn, err := storetest.DSN(t, cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database.URL = dsn
	t.Setenv("AIRLOCK_DATABASE_URL", dsn)
}
