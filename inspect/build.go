package inspect

import (
	"crypto/sha256"
	"io"
	"path"
	"slices"
	"strings"

	"airlock/pycode"

	"github.com/BurntSushi/toml"
)

// Build-time code beyond setup.py's top level. Building an sdist runs:
//   - setup.py (roleOf), and the files it reads and executes
//     (exec(open("pkg/_version.py").read()));
//   - an in-tree backend: pyproject's build-backend found on backend-path,
//     its top level and its PEP 517 hooks;
//   - the build hooks of the common backends: hatchling's hatch_build.py
//     (or the path its custom hooks name), pdm-backend's pdm_build.py,
//     poetry's build script.
// These files are build scripts: their top level runs at build, and so do
// the hook functions and methods below (follow.go's hot seeds).

// buildHookNames are the functions and methods the backends call.
var buildHookNames = []string{
	// PEP 517 and 660 hooks of an in-tree backend.
	"build_wheel", "build_sdist", "build_editable", "get_requires_for_build_wheel", "get_requires_for_build_sdist",
	"get_requires_for_build_editable", "prepare_metadata_for_build_wheel", "prepare_metadata_for_build_editable",
	// pdm-backend's hooks in pdm_build.py.
	"pdm_build_hook_enabled", "pdm_build_initialize", "pdm_build_update_files", "pdm_build_update_setup_kwargs", "pdm_build_finalize",
	// poetry's build script.
	"build",
}

// buildHookMethods are the methods of hatchling's BuildHookInterface and
// MetadataHookInterface, on whatever class defines them.
var buildHookMethods = []string{"initialize", "finalize", "clean", "update", "dependencies", "get_known_classifiers"}

// isBuildHook reports whether a build script's entry is called by its
// backend.
func isBuildHook(name string) bool {
	if slices.Contains(buildHookNames, name) {
		return true
	}
	_, method, ok := strings.Cut(name, ".")
	return ok && slices.Contains(buildHookMethods, method)
}

// conventionalBuildFiles run at build by their name alone.
var conventionalBuildFiles = map[string]bool{"setup.py": true, "hatch_build.py": true, "pdm_build.py": true}

// pyproject is what of pyproject.toml says which files a build runs.
type pyproject struct {
	BuildSystem struct {
		Backend     string   `toml:"build-backend"`
		BackendPath []string `toml:"backend-path"`
	} `toml:"build-system"`
	Tool struct {
		Hatch struct {
			Build struct {
				Hooks   hatchHooks `toml:"hooks"`
				Targets map[string]struct {
					Hooks hatchHooks `toml:"hooks"`
				} `toml:"targets"`
			} `toml:"build"`
			Metadata struct {
				Hooks hatchHooks `toml:"hooks"`
			} `toml:"metadata"`
		} `toml:"hatch"`
		Poetry struct {
			Build any `toml:"build"` // "build.py", or {script = "build.py"}
		} `toml:"poetry"`
	} `toml:"tool"`
}

type hatchHooks struct {
	Custom *struct {
		Path string `toml:"path"`
	} `toml:"custom"`
}

func (h hatchHooks) path() string {
	if h.Custom == nil {
		return ""
	}
	if h.Custom.Path == "" {
		return "hatch_build.py"
	}
	return h.Custom.Path
}

// buildFiles are the files (relative to the sdist's root) that
// pyproject.toml makes a build run.
func (p *pyproject) buildFiles() []string {
	var out []string
	if b := p.BuildSystem.Backend; b != "" && len(p.BuildSystem.BackendPath) > 0 {
		mod, _, _ := strings.Cut(b, ":")
		rel := strings.ReplaceAll(mod, ".", "/")
		for _, dir := range p.BuildSystem.BackendPath {
			out = append(out, path.Join(dir, rel+".py"), path.Join(dir, rel, "__init__.py"))
		}
	}
	hatch := p.Tool.Hatch
	out = append(out, hatch.Build.Hooks.path(), hatch.Metadata.Hooks.path())
	for _, t := range hatch.Build.Targets {
		out = append(out, t.Hooks.path())
	}
	switch b := p.Tool.Poetry.Build.(type) {
	case string:
		out = append(out, b)
	case map[string]any:
		if s, ok := b["script"].(string); ok {
			out = append(out, s)
		}
	}
	return slices.DeleteFunc(out, func(s string) bool { return s == "" })
}

// sdistRoot is the root folder of an sdist member's name ("demo-1.0/").
func sdistRoot(name string) string {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		return name[:i+1]
	}
	return ""
}

// buildScripts makes the files a build runs, beyond setup.py, build
// scripts: those pyproject.toml names and those build scripts exec. Each
// is read again and scanned as one (its findings as another role are
// dropped first), until no new ones turn up.
func (s *scanner) buildScripts() {
	if s.rep.Kind != "sdist" || s.lim.depth > 0 {
		return
	}
	want := map[string]bool{}
	if s.pyproject != nil {
		var p pyproject
		if _, err := toml.Decode(string(s.pyproject), &p); err == nil {
			for _, f := range p.buildFiles() {
				want[path.Clean(sdistRoot(s.pyprojectName)+f)] = true
			}
		}
	}
	for round := 0; round < 16; round++ {
		for _, mi := range s.mods {
			if mi.role != buildScript || mi.m == nil {
				continue
			}
			for _, f := range mi.m.ExecFiles {
				file := path.Clean(path.Join(path.Dir(mi.path), f.Path))
				if !slices.Contains(s.rep.Files, file) {
					continue // what it runs is not in the sdist: the dynamic-code finding stands
				}
				want[file] = true
				// What the exec runs is known, and scanned as build code.
				s.rep.Findings = slices.DeleteFunc(s.rep.Findings, func(g Finding) bool {
					return g.Path == mi.path && g.Line == f.Line && g.Kind == pycode.DynamicCode
				})
			}
		}
		todo := map[string]bool{}
		for f := range want {
			if s.forced[f] || s.roleOf(f) == buildScript || !slices.Contains(s.rep.Files, f) || !strings.HasSuffix(f, ".py") {
				continue
			}
			todo[f] = true
		}
		if len(todo) == 0 || s.reread == nil {
			return
		}
		if s.forced == nil {
			s.forced = map[string]bool{}
		}
		for f := range todo {
			s.forced[f] = true
			s.rep.Findings = slices.DeleteFunc(s.rep.Findings, func(g Finding) bool { return g.Path == f })
			s.deferred = slices.DeleteFunc(s.deferred, func(d deferred) bool { return d.f.Path == f })
		}
		err := s.reread(func(name string, r io.Reader) error {
			if !todo[name] {
				return nil
			}
			src, err := io.ReadAll(io.LimitReader(r, s.lim.MaxScanBytes))
			if err != nil {
				return err
			}
			sum := sha256.Sum256(src) // of what was read, which analyzed's key needs
			s.scanText(name, src, b64sum(sum[:]))
			return nil
		})
		s.settle() // the next round reads their modules
		if err != nil {
			s.rep.add(Finding{Severity: High, Kind: "unscanned", Message: "could not read the archive again to scan its build scripts: " + err.Error()})
			return
		}
	}
}
