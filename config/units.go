package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration that also reads whole days: Go durations
// ("72h", "90s"), "7d", and ISO 8601 days and times ("P7D", "PT12H", "P1DT6H").
type Duration time.Duration

var isoDuration = regexp.MustCompile(`^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$`)

// maxDays bounds durations well inside time.Duration (which ends after
// about 106,751 days), so a typo cannot overflow into a negative value.
const maxDays = 36500

// ParseDuration parses the forms Duration accepts.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a duration (use 72h, 7d or P7D)", s)
		}
		if n > maxDays {
			return 0, fmt.Errorf("%q is too long (at most %dd)", s, int(maxDays))
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	if strings.HasPrefix(s, "P") {
		m := isoDuration.FindStringSubmatch(s)
		if m == nil || s == "P" || strings.HasSuffix(s, "T") {
			return 0, fmt.Errorf("%q is not an ISO 8601 duration such as P7D or PT12H", s)
		}
		units := []time.Duration{24 * time.Hour, time.Hour, time.Minute, time.Second}
		var d time.Duration
		for i, unit := range units {
			if m[i+1] == "" {
				continue
			}
			n, err := strconv.ParseInt(m[i+1], 10, 32)
			if err != nil || time.Duration(n) > time.Duration(maxDays*24)*time.Hour/unit {
				return 0, fmt.Errorf("%q is too long (at most %dd)", s, int(maxDays))
			}
			d += time.Duration(n) * unit
			if d > time.Duration(maxDays*24)*time.Hour {
				return 0, fmt.Errorf("%q is too long (at most %dd)", s, int(maxDays))
			}
		}
		return d, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (use 72h, 7d or P7D)", s)
	}
	return d, nil
}

// UnmarshalText implements encoding.TextUnmarshaler (used for env overrides).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// UnmarshalYAML reads a duration written as a string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a duration such as 10m or 7d", n.Line)
	}
	if err := d.UnmarshalText([]byte(n.Value)); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}

// String formats the duration the way Go does.
func (d Duration) String() string { return time.Duration(d).String() }

// ByteSize is a size in bytes that reads "64MiB", "8GiB", "512KB" or a plain
// number of bytes.
type ByteSize int64

var byteUnits = map[string]int64{
	"": 1, "b": 1,
	"kb": 1000, "mb": 1000 * 1000, "gb": 1000 * 1000 * 1000,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

var byteSizeRe = regexp.MustCompile(`^(\d+)\s*([A-Za-z]*)$`)

// ParseByteSize parses the forms ByteSize accepts.
func ParseByteSize(s string) (int64, error) {
	m := byteSizeRe.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size such as 64MiB", s)
	}
	unit, ok := byteUnits[strings.ToLower(m[2])]
	if !ok {
		return 0, fmt.Errorf("%q: unknown unit %q (use B, KiB, MiB, GiB, TiB, KB, MB, GB)", s, m[2])
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n > (1<<62)/unit {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * unit, nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = ByteSize(v)
	return nil
}

// UnmarshalYAML reads a size written as a number or a string with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a size such as 64MiB", n.Line)
	}
	if err := b.UnmarshalText([]byte(n.Value)); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	return nil
}
