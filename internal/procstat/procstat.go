// Package procstat reads this process's memory figures from /proc, for the
// benchmark commands.
package procstat

import (
	"fmt"
	"os"
	"strings"
)

// PeakRSS is the process's peak resident set (VmHWM), formatted in MiB;
// "unknown" where /proc does not say.
func PeakRSS() string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
		}
	}
	return "unknown"
}
