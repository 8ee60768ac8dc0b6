package route

import (
	"testing"

	"airlock/internal/storetest"
)

// TestMain stops the PostgreSQL cluster of STORE_TEST_BACKEND=postgres.
func TestMain(m *testing.M) { storetest.Main(m) }
