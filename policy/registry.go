package policy

import "slices"

// CheckInfo is one entry of the registry every part that names checks reads:
// the engine's defaults, the configuration's validation, the signals'
// flags, the review page's filter and the documentation.
type CheckInfo struct {
	Name   string
	Family string // time, integrity, attestation, behaviour, content, advisories, upstream, other
	// Default is the action when policy.actions does not set one; ""
	// for checks whose action is not set by name (content acts by
	// severity, missing upload times by on_missing_upload_time; exempt
	// always allows and error always holds).
	Default Action
	// Flag: a flag the signals raise, each a check of its own.
	Flag bool
	Doc  string
}

// Registry lists every check, in the order the review page offers them.
var Registry = []CheckInfo{
	{Name: CheckMalicious, Family: "advisories", Default: Block, Doc: "a known-malicious advisory (OSV MAL-…) names the file"},
	{Name: CheckVulnerability, Family: "advisories", Default: Warn, Doc: "another advisory names the release"},
	{Name: CheckContent, Family: "content", Doc: "inspection found something new since the baseline (acts by severity)"},
	{Name: CheckFilenameReused, Family: "integrity", Default: Hold, Doc: "the upstream lists different bytes under a filename stored before"},
	{Name: CheckUpstreamRemoved, Family: "upstream", Default: Block, Doc: "the upstream no longer lists a stored file"},
	{Name: CheckCooldown, Family: "time", Default: Hold, Doc: "the release is younger than the cooldown"},
	{Name: CheckNotAfter, Family: "time", Default: Hold, Doc: "the release was uploaded after policy.not_after"},
	{Name: CheckUploadTime, Family: "time", Doc: "the upstream gives no upload time (policy.on_missing_upload_time)"},
	{Name: CheckAttestation, Family: "attestation", Default: Hold, Doc: "no PEP 740 attestation where one is required, or another publisher"},
	{Name: CheckAttestationInvalid, Family: "attestation", Default: Block, Doc: "an attestation that does not verify"},
	{Name: CheckSourceRelease, Family: "behaviour", Default: Hold, Doc: "no tag in the repository matches the release, or it came after the upload"},
	{Name: CheckScore, Family: "behaviour", Default: Warn, Doc: "the project's commitment score is below policy.score_min"},
	{Name: CheckNoRepository, Family: "behaviour", Default: Warn, Doc: "the project links no source repository"},
	{Name: CheckUnknown, Family: "behaviour", Default: Warn, Doc: "a source of the behavioural signals could not be read"},
	{Name: "single-maintainer", Family: "behaviour", Default: Warn, Flag: true, Doc: "one maintainer: one stolen token publishes"},
	{Name: "rapid-releases", Family: "behaviour", Default: Warn, Flag: true, Doc: "many releases in the last 30 days"},
	{Name: "high-blast-radius", Family: "behaviour", Default: Warn, Flag: true, Doc: "single maintainer, heavy downloads and rapid releases"},
	{Name: "new-project", Family: "behaviour", Default: Warn, Flag: true, Doc: "project younger than 90 days"},
	{Name: "dormant-then-release", Family: "behaviour", Default: Warn, Flag: true, Doc: "a release after more than a year of silence"},
	{Name: "no-repository", Family: "behaviour", Default: Warn, Flag: true, Doc: "no source repository linked"},
	{Name: CheckError, Family: "other", Doc: "a check could not run: held until it can (retried)"},
	{Name: CheckExempt, Family: "other", Doc: "exempt by policy.exempt"},
}

// CheckNames lists the registry's names, in its order.
func CheckNames() []string {
	out := make([]string, len(Registry))
	for i, c := range Registry {
		out[i] = c.Name
	}
	return out
}

// LookupCheck finds a check by name.
func LookupCheck(name string) (CheckInfo, bool) {
	i := slices.IndexFunc(Registry, func(c CheckInfo) bool { return c.Name == name })
	if i < 0 {
		return CheckInfo{}, false
	}
	return Registry[i], true
}

// DefaultActions are each check's action when not configured: the
// registry's checks that have one.
var DefaultActions = func() map[string]Action {
	m := map[string]Action{}
	for _, c := range Registry {
		if c.Default != "" {
			m[c.Name] = c.Default
		}
	}
	return m
}()

// Flags the signals raise; each is also a check name with its own action.
var Flags = func() []string {
	var out []string
	for _, c := range Registry {
		if c.Flag {
			out = append(out, c.Name)
		}
	}
	return out
}()
