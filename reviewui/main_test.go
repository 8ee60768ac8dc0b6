package reviewui

import (
	"testing"

	"airlock/internal/storetest"
)

// TestMain stops the PostgreSQL cluster of a STORE_TEST_BACKEND=postgres run.
func TestMain(m *testing.M) { storetest.Main(m) }
