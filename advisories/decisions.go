package advisories

import (
	"fmt"
	"time"

	"airlock/policy"
)

// What the decisions read of the feed (the gate's Advisories).

// For lists the records in force naming a file, as policy inputs, and
// whether that list may be incomplete (a source has no records in force
// yet). Empty project and version match by sha256 only: a private index's
// file shares a public name, not its bytes.
func (f *Feed) For(project, version, sha string) ([]policy.Advisory, bool) {
	db := f.DB()
	var out []policy.Advisory
	for _, a := range db.Match(project, version, sha) {
		out = append(out, policy.Advisory{ID: a.ID, Summary: a.Summary, Link: a.Link, Published: a.Published, Malicious: a.Malicious, Severity: a.Severity})
	}
	return out, db.Partial
}

// Targets are the releases (name, version) and sha256s the record id
// names; ok is false when no record in force has that id.
func (f *Feed) Targets(id string) (releases [][2]string, sha256s []string, ok bool) {
	a, ok := f.DB().ByID(id)
	if !ok {
		return nil, nil, false
	}
	releases, sha256s = a.Targets()
	return releases, sha256s, true
}

// Warnings names each source whose records in force are not a fresh read,
// and since when.
func (f *Feed) Warnings() []policy.Warning {
	var out []policy.Warning
	for _, st := range f.Status() {
		if !st.Stale() {
			continue
		}
		kept := "it has no records in force: blocks it made before stand, nothing new is blocked from it"
		if !st.LastOK.IsZero() {
			kept = fmt.Sprintf("its %d records read at %s stay in force", st.Records, st.LastOK.UTC().Format(time.RFC3339))
		}
		out = append(out, policy.Warning{Check: "advisories", Reason: "source_stale", Since: st.StaleSince,
			Message: fmt.Sprintf("advisory source %s is stale since %s (%s); %s", st.Source, st.StaleSince.UTC().Format(time.RFC3339), st.LastError, kept)})
	}
	return out
}

// Records counts the records in force.
func (f *Feed) Records() int { return f.DB().Records }
