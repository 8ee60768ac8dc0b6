package verify

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Publisher is a PEP 740 Trusted Publisher: who the index says published a
// file, and so whose certificate identity its attestations must carry.
type Publisher struct {
	Kind        string `json:"kind"` // GitHub, GitLab or Google
	Repository  string `json:"repository,omitempty"`
	Workflow    string `json:"workflow,omitempty"` // GitHub: file name; GitLab: workflow_filepath
	Environment string `json:"environment,omitempty"`
	Email       string `json:"email,omitempty"` // Google, Email
	// Issuer is the OIDC issuer of an Email identity (not a PyPI Trusted
	// Publisher kind: a plain Sigstore identity, for `airlock verify`).
	Issuer string `json:"issuer,omitempty"`
}

// rawPublisher is the PEP 740 JSON shape.
type rawPublisher struct {
	Kind             string  `json:"kind"`
	Repository       string  `json:"repository"`
	Workflow         string  `json:"workflow"`
	WorkflowFilepath string  `json:"workflow_filepath"`
	Environment      *string `json:"environment"`
	Email            string  `json:"email"`
}

func (p *Publisher) UnmarshalJSON(b []byte) error {
	var r rawPublisher
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	*p = Publisher{Kind: r.Kind, Repository: r.Repository, Workflow: r.Workflow, Email: r.Email}
	if r.Kind == "GitLab" {
		p.Workflow = r.WorkflowFilepath
	}
	if r.Environment != nil {
		p.Environment = *r.Environment
	}
	return p.validate()
}

func (p Publisher) validate() error {
	switch p.Kind {
	case "GitHub", "GitLab":
		if p.Repository == "" || p.Workflow == "" {
			return fmt.Errorf("%s publisher without repository or workflow", p.Kind)
		}
		if strings.ContainsAny(p.Repository, " @\n") || strings.ContainsAny(p.Workflow, " @\n") {
			return fmt.Errorf("%s publisher with a malformed repository or workflow", p.Kind)
		}
	case "Google":
		if !strings.Contains(p.Email, "@") {
			return fmt.Errorf("google publisher without an e-mail")
		}
	case "Email":
		if !strings.Contains(p.Email, "@") || !strings.HasPrefix(p.Issuer, "https://") {
			return fmt.Errorf("e-mail identity needs an address and an https issuer")
		}
	default:
		return fmt.Errorf("unknown publisher kind %q", p.Kind)
	}
	return nil
}

// Spec is the publisher's one-line form, as policy pins use it:
// github:OWNER/REPO:WORKFLOW, gitlab:PROJECT_PATH:WORKFLOW_FILEPATH or
// google:EMAIL. The environment is not part of it.
func (p Publisher) Spec() string {
	switch p.Kind {
	case "GitHub":
		return "github:" + p.Repository + ":" + p.Workflow
	case "GitLab":
		return "gitlab:" + p.Repository + ":" + p.Workflow
	case "Google":
		return "google:" + p.Email
	case "Email":
		return "email:" + p.Email + ":" + p.Issuer
	}
	return strings.ToLower(p.Kind) + ":?"
}

// ParsePublisherSpec reads a spec written by Spec. Besides the PyPI kinds it
// takes email:ADDRESS:ISSUER, a plain Sigstore e-mail identity.
func ParsePublisherSpec(s string) (Publisher, error) {
	kind, rest, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return Publisher{}, fmt.Errorf("publisher %q: want github:OWNER/REPO:WORKFLOW, gitlab:PATH:WORKFLOW_FILEPATH or google:EMAIL", s)
	}
	var p Publisher
	switch strings.ToLower(kind) {
	case "github", "gitlab":
		i := strings.LastIndexByte(rest, ':')
		if i < 0 {
			return Publisher{}, fmt.Errorf("publisher %q: want %s:REPOSITORY:WORKFLOW", s, kind)
		}
		p = Publisher{Kind: map[string]string{"github": "GitHub", "gitlab": "GitLab"}[strings.ToLower(kind)], Repository: rest[:i], Workflow: rest[i+1:]}
	case "google":
		p = Publisher{Kind: "Google", Email: rest}
	case "email":
		addr, issuer, _ := strings.Cut(rest, ":")
		p = Publisher{Kind: "Email", Email: addr, Issuer: issuer}
	default:
		return Publisher{}, fmt.Errorf("publisher %q: unknown kind %q (github, gitlab, google, email)", s, kind)
	}
	if err := p.validate(); err != nil {
		return Publisher{}, fmt.Errorf("publisher %q: %w", s, err)
	}
	return p, nil
}
