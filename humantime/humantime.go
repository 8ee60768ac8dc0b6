// Package humantime writes durations for people: "11d 7h", "3h 20m",
// "45s", never Go's "271h50m0s". JSON and metrics carry seconds instead.
package humantime

import (
	"fmt"
	"time"
)

var units = []struct {
	suffix string
	d      time.Duration
}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}}

// Duration writes d in its two largest non-zero units, rounded down:
// 11d 7h, 3h, 5m 10s, 42s. Less than a second is "0s"; a negative
// duration gets a minus sign.
func Duration(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	out := ""
	parts := 0
	for _, u := range units {
		n := d / u.d
		if n == 0 {
			if parts > 0 {
				break // "11d 0h" says nothing "11d" does not
			}
			continue
		}
		if parts > 0 {
			out += " "
		}
		out += fmt.Sprintf("%d%s", n, u.suffix)
		d -= n * u.d
		if parts++; parts == 2 {
			break
		}
	}
	if out == "" {
		return "0s"
	}
	return sign + out
}
