package storage

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

// An outage of the database is ErrUnavailable (clients get a 503 and
// retry); an error about the statement itself is not (a bug: a 500).
func TestDatabaseErrorsThatMeanAnOutage(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection refused", refused, true},
		{"timeout", context.DeadlineExceeded, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"caller gone", context.Canceled, false},
	} {
		err := dbErr(c.err)
		if got := errors.Is(err, ErrUnavailable); got != c.want {
			t.Errorf("%s: unavailable %v, want %v (%v)", c.name, got, c.want, err)
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%s: the cause is lost: %v", c.name, err)
		}
	}
}
