package evidence

import (
	"fmt"
	"os"

	"github.com/rs/zerolog"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/tuf"

	"airlock/config"
	"airlock/storage"
	"airlock/verify"
)

// Verifier builds the attestation verifier once, at start-up: from the
// embedded Sigstore public-good root, a trusted_root.json named in the
// config, or (sigstore.tuf) Sigstore's TUF repository.
func Verifier(cfg config.Sigstore, dataDir string, log zerolog.Logger) (*verify.Verifier, error) {
	switch {
	case cfg.TUF:
		opts := tuf.DefaultOptions()
		opts.CachePath = storage.TrustRootCache(dataDir)
		if cfg.TUFURL != "" {
			opts.RepositoryBaseURL = cfg.TUFURL
		}
		if cfg.TUFRoot != "" {
			b, err := os.ReadFile(cfg.TUFRoot)
			if err != nil {
				return nil, fmt.Errorf("sigstore.tuf_root: %w", err)
			}
			opts.Root = b
		}
		live, err := root.NewLiveTrustedRoot(opts)
		if err != nil {
			return nil, fmt.Errorf("sigstore.tuf: %w", err)
		}
		log.Info().Msg("sigstore trusted root from TUF, refreshed in the background")
		return verify.NewVerifier(live)
	case cfg.TrustedRoot != "":
		data, err := os.ReadFile(cfg.TrustedRoot)
		if err != nil {
			return nil, fmt.Errorf("sigstore.trusted_root: %w", err)
		}
		v, err := verify.NewVerifierFromJSON(data)
		if err != nil {
			return nil, fmt.Errorf("sigstore.trusted_root %s: %w", cfg.TrustedRoot, err)
		}
		return v, nil
	}
	return verify.NewVerifierFromJSON(verify.PublicGoodTrustedRoot())
}
