package policy

import (
	"fmt"
	"strings"
	"time"
)

// contentCheck acts on what inspecting the file found that its previous
// release did not have; findings the project always had (setuptools ships
// distutils-precedence.pth in every release) are informational. A file
// that could not be inspected is held.
type contentCheck struct{}

func (contentCheck) Name() string { return CheckContent }

func (contentCheck) Evaluate(rules ProjectRules, in Input, _ time.Time) ([]Reason, error) {
	c := in.Content
	if c == nil {
		return nil, nil
	}
	if c.Error != "" {
		return []Reason{{Check: CheckContent, Action: Hold, Message: c.Error}}, nil
	}
	ev := map[string]any{}
	if c.PreviousVersion != "" {
		ev["previous_version"] = c.PreviousVersion
	}
	if len(c.FilesAdded) > 0 {
		ev["files_added"] = strings.Join(c.FilesAdded, ", ")
	}
	if len(c.FilesRemoved) > 0 {
		ev["files_removed"] = strings.Join(c.FilesRemoved, ", ")
	}
	var out []Reason
	for _, f := range c.New {
		action, ok := rules.ContentActions[f.Severity]
		if !ok {
			action = DefaultContentActions[f.Severity]
		}
		fev := map[string]any{"severity": f.Severity, "kind": f.Kind, "path": f.Path}
		where := f.Path
		if f.Line > 0 {
			fev["line"] = f.Line
			where = fmt.Sprintf("%s:%d", f.Path, f.Line)
		}
		if f.Evidence != "" {
			fev["evidence"] = f.Evidence
		}
		for k, v := range ev {
			fev[k] = v
		}
		// Say what was compared: "not in 1.0" only when 1.0 was looked into.
		since := "no earlier release compared"
		if c.PreviousVersion != "" {
			since = "not in " + c.PreviousVersion
		}
		out = append(out, Reason{Check: CheckContent, Action: action, Evidence: fev,
			Message: fmt.Sprintf("%s %s in %s: %s (%s)", f.Severity, f.Kind, where, f.Message, since)})
	}
	if len(c.Known) > 0 {
		var kinds []string
		for _, f := range c.Known {
			kinds = append(kinds, f.Kind+" in "+f.Path)
		}
		ev["known_findings"] = strings.Join(kinds, "; ")
		out = append(out, Reason{Check: CheckContent, Action: Allow, Evidence: ev,
			Message: fmt.Sprintf("%d finding(s) the project has always had: %s", len(c.Known), strings.Join(kinds, "; "))})
	}
	return out, nil
}

func validateContentActions(m map[string]Action) error {
	for sev, a := range m {
		if _, ok := DefaultContentActions[sev]; !ok {
			return fmt.Errorf("content: unknown severity %q (critical, high, medium, low, info)", sev)
		}
		if _, ok := strength[a]; !ok {
			return fmt.Errorf("content.%s: %q is not one of allow, warn, hold, block", sev, a)
		}
	}
	return nil
}
