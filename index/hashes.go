package index

import (
	"encoding/json"
	"sort"
	"strings"
)

// Hashes are a file's digests, by lower-case algorithm name. Nearly every
// file has exactly one (sha256), so they are a short slice rather than a
// map: a map costs about 300 bytes per file, 60 MB on a 200,000-file page.
// They read and write as the JSON object PEP 691 uses.
type Hashes []Hash

// Hash is one digest.
type Hash struct {
	Algo  string
	Value string
}

// Sha256 builds the hashes of a file known only by its sha256.
func Sha256(hex string) Hashes { return Hashes{{Algo: "sha256", Value: hex}} }

// Get returns the digest for an algorithm, or "".
func (h Hashes) Get(algo string) string {
	for _, d := range h {
		if d.Algo == algo {
			return d.Value
		}
	}
	return ""
}

// MarshalJSON writes the digests as an object, in algorithm order; no
// digests is {}.
func (h Hashes) MarshalJSON() ([]byte, error) {
	out := []byte{'{'}
	for i, d := range h {
		if i > 0 {
			out = append(out, ',')
		}
		k, err := json.Marshal(d.Algo)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(d.Value)
		if err != nil {
			return nil, err
		}
		out = append(append(append(out, k...), ':'), v...)
	}
	return append(out, '}'), nil
}

// UnmarshalJSON reads an object of digests.
func (h *Hashes) UnmarshalJSON(b []byte) error {
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*h = hashesFrom(m)
	return nil
}

// hashesFrom copies a map into sorted Hashes (nil when empty), lower-casing
// the algorithm names.
func hashesFrom(m map[string]string) Hashes {
	if len(m) == 0 {
		return nil
	}
	out := make(Hashes, 0, len(m))
	for k, v := range m {
		out = append(out, Hash{Algo: strings.ToLower(k), Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Algo < out[j].Algo })
	return out
}
