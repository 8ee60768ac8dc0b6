// Package storetest opens the store the tests of other packages run on:
// bbolt in the given directory, or, with STORE_TEST_BACKEND=postgres (as
// scripts/test.sh runs those packages a second time), PostgreSQL on one
// throwaway cluster per test binary, a database per directory. Every
// feature's tests then prove it on both backends.
package storetest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"airlock/internal/pgtest"
	"airlock/storage"
)

var (
	mu      sync.Mutex
	cluster *pgtest.Cluster
	dsns    = map[string]string{}
)

// Postgres reports whether the tests run on PostgreSQL.
func Postgres() bool { return os.Getenv("STORE_TEST_BACKEND") == "postgres" }

// Open opens the store of dir; opening the same dir again reopens the
// same records (a restart).
func Open(t testing.TB, dir string) (*storage.Store, error) {
	ctx := context.Background() // the store outlives the test that opened it
	if !Postgres() {
		return storage.Open(ctx, dir, time.Second)
	}
	dsn, err := DSN(t, dir)
	if err != nil {
		return nil, err
	}
	return storage.OpenPostgres(ctx, dsn, dir, nil)
}

// DSN is the PostgreSQL database of dir, made and migrated on first use
// (for tests that start Airlock with a config rather than open a store).
func DSN(t testing.TB, dir string) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if cluster == nil {
		cluster = pgtest.StartDetached(t)
	}
	if dsn, ok := dsns[dir]; ok {
		return dsn, nil
	}
	ctx := context.Background()
	name := fmt.Sprintf("t%d", len(dsns)+1)
	conn, err := pgx.Connect(ctx, cluster.DSN("postgres"))
	if err != nil {
		return "", err
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	conn.Close(ctx)
	if err != nil {
		return "", err
	}
	dsn := cluster.DSN(name)
	if _, _, err := storage.Migrate(ctx, dsn); err != nil {
		return "", err
	}
	dsns[dir] = dsn
	return dsn, nil
}

// Main runs a package's tests and stops the cluster afterwards.
func Main(m *testing.M) {
	code := m.Run()
	Shutdown()
	os.Exit(code)
}

// Shutdown stops the cluster, if the tests started one.
func Shutdown() {
	mu.Lock()
	defer mu.Unlock()
	if cluster != nil {
		cluster.Shutdown()
		cluster = nil
	}
}
