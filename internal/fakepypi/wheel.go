package fakepypi

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// fixedTime makes generated archives byte-for-byte reproducible.
var fixedTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// WheelSpec describes a generated pure-Python wheel.
type WheelSpec struct {
	Name           string   // project name as written, e.g. "alpha"
	Version        string   // e.g. "1.0"
	Requires       []string // Requires-Dist lines, e.g. "gamma>=1.0"
	RequiresPython string
	// PayloadBytes adds an incompressible data file of this size, for
	// throughput benchmarks.
	PayloadBytes int
	// Extra adds files (path inside the wheel -> content), listed in RECORD;
	// its <module>/__init__.py replaces the default one.
	Extra map[string]string
	// EntryPoints is the entry_points.txt content, if any.
	EntryPoints string
	// Tag is the wheel's compatibility tag; empty means py3-none-any.
	Tag string
	// SaysPurelib makes WHEEL say Root-Is-Purelib: true whatever the tag,
	// as some platform wheels do (wandb's).
	SaysPurelib bool
}

// ModuleName is the importable module a generated wheel installs.
func ModuleName(project string) string {
	return strings.ReplaceAll(strings.ToLower(strings.NewReplacer(".", "_", "-", "_").Replace(project)), "__", "_")
}

// BuildWheel returns the filename, the bytes and the METADATA (PEP 658
// core metadata) of a valid, installable wheel.
func BuildWheel(spec WheelSpec) (filename string, data, metadata []byte) {
	dist := strings.ReplaceAll(ModuleName(spec.Name), "-", "_")
	distInfo := fmt.Sprintf("%s-%s.dist-info", dist, spec.Version)
	tag := spec.Tag
	if tag == "" {
		tag = "py3-none-any"
	}
	filename = fmt.Sprintf("%s-%s-%s.whl", dist, spec.Version, tag)

	var meta strings.Builder
	fmt.Fprintf(&meta, "Metadata-Version: 2.1\nName: %s\nVersion: %s\n", spec.Name, spec.Version)
	if spec.RequiresPython != "" {
		fmt.Fprintf(&meta, "Requires-Python: %s\n", spec.RequiresPython)
	}
	for _, r := range spec.Requires {
		fmt.Fprintf(&meta, "Requires-Dist: %s\n", r)
	}
	metadata = []byte(meta.String())

	type member struct {
		name string
		body []byte
	}
	var members []member
	if _, own := spec.Extra[dist+"/__init__.py"]; !own { // Extra's own __init__.py replaces it: one member a path
		members = append(members, member{dist + "/__init__.py", []byte(fmt.Sprintf("__version__ = %q\nNAME = %q\n", spec.Version, spec.Name))})
	}
	if spec.PayloadBytes > 0 {
		payload := make([]byte, spec.PayloadBytes)
		r := rand.New(rand.NewPCG(uint64(len(spec.Name)), uint64(spec.PayloadBytes)))
		for i := 0; i+8 <= len(payload); i += 8 {
			v := r.Uint64()
			for j := 0; j < 8; j++ {
				payload[i+j] = byte(v >> (8 * j))
			}
		}
		members = append(members, member{dist + "/payload.bin", payload})
	}
	extraNames := make([]string, 0, len(spec.Extra))
	for name := range spec.Extra {
		extraNames = append(extraNames, name)
	}
	sort.Strings(extraNames)
	for _, name := range extraNames {
		members = append(members, member{name, []byte(spec.Extra[name])})
	}
	if spec.EntryPoints != "" {
		members = append(members, member{distInfo + "/entry_points.txt", []byte(spec.EntryPoints)})
	}
	members = append(members,
		member{distInfo + "/METADATA", metadata},
		member{distInfo + "/WHEEL", []byte("Wheel-Version: 1.0\nGenerator: airlock-fakepypi\nRoot-Is-Purelib: " + strconv.FormatBool(strings.HasSuffix(tag, "-none-any") || spec.SaysPurelib) + "\nTag: " + tag + "\n")},
	)
	var record strings.Builder
	for _, m := range members {
		sum := sha256.Sum256(m.body)
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", m.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(m.body))
	}
	fmt.Fprintf(&record, "%s/RECORD,,\n", distInfo)
	members = append(members, member{distInfo + "/RECORD", []byte(record.String())})

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, m := range members {
		method := zip.Deflate
		if strings.HasSuffix(m.name, ".bin") {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.name, Method: method, Modified: fixedTime})
		if err != nil {
			panic(err)
		}
		w.Write(m.body)
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return filename, buf.Bytes(), metadata
}

// BuildSdist returns the filename and bytes of a minimal sdist (PKG-INFO and
// a module), enough to be listed, downloaded and hash-checked.
func BuildSdist(name, version string) (string, []byte) {
	// The same module a generated wheel of the release has: a wheel is built
	// from its sdist.
	return BuildSdistWith(name, version, map[string]string{ModuleName(name) + "/__init__.py": fmt.Sprintf("__version__ = %q\nNAME = %q\n", version, name)})
}

// BuildSdistWith returns an sdist of PKG-INFO and files (paths under the
// root folder), in path order.
func BuildSdistWith(name, version string, files map[string]string) (string, []byte) {
	dist := ModuleName(name)
	root := fmt.Sprintf("%s-%s", dist, version)
	var buf bytes.Buffer
	gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	gz.ModTime = fixedTime
	tw := tar.NewWriter(gz)
	all := map[string]string{"PKG-INFO": fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\n", name, version)}
	for p, body := range files {
		all[p] = body
	}
	for _, p := range slices.Sorted(maps.Keys(all)) {
		tw.WriteHeader(&tar.Header{Name: root + "/" + p, Mode: 0o644, Size: int64(len(all[p])), ModTime: fixedTime, Typeflag: tar.TypeReg})
		tw.Write([]byte(all[p]))
	}
	tw.Close()
	gz.Close()
	return root + ".tar.gz", buf.Bytes()
}
