package signals

import (
	"slices"
	"testing"

	"airlock/policy"
)

// The flags the signals raise are the registry's flags, each a check with
// its own action and text.
func TestFlagsAreRegistryChecks(t *testing.T) {
	if !slices.Equal(AllFlags, policy.Flags) {
		t.Errorf("signals raise %v, the registry knows %v", AllFlags, policy.Flags)
	}
}
