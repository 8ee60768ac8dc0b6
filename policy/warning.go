package policy

import "time"

// Warning says a check cannot act as configured, and since when: a source
// it reads is failing, or the upstream publishes nothing for it to read.
// Readiness, the review page, the logs and airlock_check_inert show them;
// Check is the check's name in the registry.
type Warning struct {
	Check   string    `json:"check"`  // the check that cannot act
	Reason  string    `json:"reason"` // a stable word for metrics
	Message string    `json:"message"`
	Since   time.Time `json:"since"`
}

// SourceGitHub is the signal source (a key of Signals.Unknown) that the
// repository, its tags and, for the source comparison, its archives come
// from.
const SourceGitHub = "github"
