package humantime

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		271*time.Hour + 50*time.Minute:     "11d 7h",
		7 * 24 * time.Hour:                 "7d",
		3*time.Hour + 20*time.Minute + 5e9: "3h 20m",
		5*time.Minute + 10*time.Second:     "5m 10s",
		42 * time.Second:                   "42s",
		1500 * time.Millisecond:            "1s",
		300 * time.Millisecond:             "0s",
		0:                                  "0s",
		-(36 * time.Hour):                  "-1d 12h",
		24*time.Hour + 30*time.Second:      "1d",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}
