package policy

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// isNew reports whether behavioural checks apply to the file: uploaded
// within the window (or of unknown age).
func isNew(rules ProjectRules, in Input, now time.Time) bool {
	return in.UploadTime.IsZero() || now.Sub(in.UploadTime) <= rules.NewReleaseWindow
}

// signalsCheck acts on the commitment score, the flags and unknown sources.
type signalsCheck struct{}

func (signalsCheck) Name() string { return CheckScore }

func (signalsCheck) Evaluate(rules ProjectRules, in Input, now time.Time) ([]Reason, error) {
	s := in.Signals
	if s == nil || !isNew(rules, in, now) {
		return nil, nil
	}
	var out []Reason
	if len(s.Unknown) > 0 {
		var names []string
		for src, why := range s.Unknown {
			names = append(names, src+" ("+why+")")
		}
		sort.Strings(names)
		out = append(out, Reason{Check: CheckUnknown, Action: rules.action(CheckUnknown),
			Message: "signals unknown: " + strings.Join(names, "; ")})
	}
	ev := map[string]any{}
	for k, v := range s.Breakdown {
		ev[k] = v
	}
	if s.Score != nil && *s.Score < rules.ScoreMin {
		ev["score"], ev["min"] = *s.Score, rules.ScoreMin
		out = append(out, Reason{Check: CheckScore, Action: rules.action(CheckScore),
			Message: fmt.Sprintf("commitment score %d is below %d", *s.Score, rules.ScoreMin), Evidence: ev})
	}
	for _, f := range s.Flags {
		out = append(out, Reason{Check: f, Action: rules.action(f), Message: "flag " + f + ": " + flagDoc(f)})
	}
	return out, nil
}

// sourceReleaseCheck holds a new release whose linked GitHub repository,
// which tags its releases, has no tag for its version made before the
// upload (plus a grace for pipelines that push the tag moments later).
type sourceReleaseCheck struct{}

func (sourceReleaseCheck) Name() string { return CheckSourceRelease }

func (sourceReleaseCheck) Evaluate(rules ProjectRules, in Input, now time.Time) ([]Reason, error) {
	s := in.Signals
	if s == nil || !isNew(rules, in, now) {
		return nil, nil
	}
	if s.Repository == "" {
		return []Reason{{Check: CheckNoRepository, Action: rules.action(CheckNoRepository), Message: "no source repository linked; the release cannot be matched to a tag"}}, nil
	}
	if !s.RepoKnown {
		if _, unknown := s.Unknown["github"]; unknown {
			return nil, nil // the unknown reason covers it
		}
		return []Reason{{Check: CheckNoRepository, Action: rules.action(CheckNoRepository), Message: "linked repository " + s.Repository + " does not exist"}}, nil
	}
	if !s.TagsReleases {
		return nil, nil // a repository that never tags is not judged by this
	}
	ev := map[string]any{"repository": s.Repository}
	action := rules.action(CheckSourceRelease)
	if s.Tag == nil {
		r := Reason{Check: CheckSourceRelease, Action: action, Message: fmt.Sprintf("no tag for %s in %s", in.Version, s.Repository), Evidence: ev}
		if deadline := in.UploadTime.Add(rules.TagGrace); !in.UploadTime.IsZero() && now.Before(deadline) && action == Hold {
			r.Until = deadline // re-checked when the grace ends
			r.Message += fmt.Sprintf(" (re-checked until %s)", deadline.UTC().Format(TimeFormat))
		}
		return []Reason{r}, nil
	}
	ev["tag"], ev["tag_time_from"] = s.Tag.Name, s.Tag.How
	if !s.Tag.Time.IsZero() {
		ev["tag_time"] = s.Tag.Time.UTC().Format(time.RFC3339)
	}
	if !s.Tag.Time.IsZero() && !in.UploadTime.IsZero() && s.Tag.Time.After(in.UploadTime.Add(rules.TagGrace)) {
		return []Reason{{Check: CheckSourceRelease, Action: action, Evidence: ev,
			Message: fmt.Sprintf("tag %s in %s appeared %s (%s), after the upload at %s", s.Tag.Name, s.Repository,
				s.Tag.Time.UTC().Format(TimeFormat), s.Tag.How, in.UploadTime.UTC().Format(TimeFormat))}}, nil
	}
	return []Reason{{Check: CheckSourceRelease, Action: Allow, Evidence: ev, Message: fmt.Sprintf("tag %s in %s matches", s.Tag.Name, s.Repository)}}, nil
}

// BehaviourChecks names every check that acts on the project's behaviour:
// the score, unknown sources, the source release and each flag.
func BehaviourChecks() []string {
	var out []string
	for _, c := range Registry {
		if c.Family == "behaviour" {
			out = append(out, c.Name)
		}
	}
	return out
}

// flagDoc says what a flag means.
func flagDoc(flag string) string {
	c, _ := LookupCheck(flag)
	return c.Doc
}
