package advisories

import (
	"time"

	"airlock/pep440"
)

// DB is an immutable set of advisories indexed for matching: a warm file
// request costs two map lookups.
type DB struct {
	byProject map[string][]*Advisory
	bySHA     map[string][]*Advisory
	byID      map[string]*Advisory
	// LoadedAt is when the data was read; Records counts the advisories.
	LoadedAt time.Time
	Records  int
	// Partial: a source has no records in force (never read, nothing
	// kept). An advisory missing from a partial DB may only be unknown,
	// so a decision it made must stand (see gate).
	Partial bool
}

// NewDB indexes advisories; a later one with the same ID replaces an
// earlier one.
func NewDB(list []*Advisory, loadedAt time.Time) *DB {
	db := &DB{byProject: map[string][]*Advisory{}, bySHA: map[string][]*Advisory{}, byID: map[string]*Advisory{}, LoadedAt: loadedAt}
	for _, a := range list {
		db.byID[a.ID] = a
	}
	for _, a := range db.byID {
		seen := map[string]bool{}
		for _, x := range a.affected {
			if !seen[x.project] {
				db.byProject[x.project] = append(db.byProject[x.project], a)
				seen[x.project] = true
			}
			for sha := range x.sha256s {
				db.bySHA[sha] = append(db.bySHA[sha], a)
			}
		}
	}
	db.Records = len(db.byID)
	return db
}

// Match lists the advisories that name a file of project (normalized) at
// version with this sha256.
func (db *DB) Match(project, version, sha string) []*Advisory {
	if db == nil {
		return nil
	}
	cands := db.byProject[project]
	bySHA := db.bySHA[sha]
	if len(cands) == 0 && len(bySHA) == 0 {
		return nil
	}
	var out []*Advisory
	seen := map[string]bool{}
	add := func(a *Advisory) {
		if !seen[a.ID] {
			seen[a.ID] = true
			out = append(out, a)
		}
	}
	for _, a := range bySHA {
		add(a)
	}
	var pv *pep440.Version
	if v, err := pep440.Parse(version); err == nil {
		pv = &v
	}
	for _, a := range cands {
		for _, x := range a.affected {
			if x.project == project && x.matches(version, pv, sha) {
				add(a)
				break
			}
		}
	}
	return out
}

// ByID finds an advisory.
func (db *DB) ByID(id string) (*Advisory, bool) {
	if db == nil {
		return nil, false
	}
	a, ok := db.byID[id]
	return a, ok
}

// Targets lists, for an advisory, the (project, version) pairs it names
// explicitly and the sha256s it lists: what `airlock downloads MAL-…`
// looks up.
func (a *Advisory) Targets() (releases [][2]string, sha256s []string) {
	for _, x := range a.affected {
		for v := range x.versions {
			releases = append(releases, [2]string{x.project, v})
		}
		for s := range x.sha256s {
			sha256s = append(sha256s, s)
		}
	}
	return releases, sha256s
}
