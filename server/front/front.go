// Package front builds the server's HTTP handlers from the parts and the
// gate: the simple API with its client authentication and download
// records, the admin API and the review pages with the sign-in they
// share. With admin.listen set, the admin API and review pages answer
// only on their own handler.
package front

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"airlock/adminapi"
	"airlock/clientauth"
	"airlock/downloads"
	"airlock/gate"
	"airlock/reviewauth"
	"airlock/reviewui"
	"airlock/server/parts"
	"airlock/simpleapi"
)

// Feeds are the advisory sources, as the admin API refreshes them and the
// overview shows them (advisories.Feed).
type Feeds interface {
	adminapi.Feeds
	reviewui.Feeds
}

// Front is the HTTP side of a server.
type Front struct {
	// Index serves the simple API (and, without admin.listen, the admin
	// API and review pages); Admin is admin.listen's, else nil.
	Index, Admin http.Handler
	// Server drains before shutdown.
	Server *simpleapi.Server
	// Downloads records files served; Close flushes it.
	Downloads *downloads.Recorder
}

// Build makes the handlers.
func Build(p *parts.Parts, g *gate.Gate, feeds Feeds) (*Front, error) {
	cfg, log, store := p.Config, p.Log, p.Store
	proxies, err := cfg.TrustedProxyPrefixes()
	if err != nil {
		return nil, err
	}
	if wide := cfg.WideProxyRanges(); len(wide) > 0 {
		log.Warn().Strs("ranges", wide).Msg("trusted_proxies holds ranges of more than 256 addresses: a client inside one chooses the address it is throttled and recorded under; list only the balancers")
	}
	served := downloads.New(store, log)
	sopt := simpleapi.Options{
		Downloads:       served,
		TrustedProxies:  proxies,
		MinFreeBytes:    int64(cfg.Store.MinFreeBytes),
		WriteTimeout:    time.Duration(cfg.Server.WriteTimeout),
		MinDownloadRate: int64(cfg.Server.MinDownloadRate),
		FillTimeout:     time.Duration(cfg.Upstream.FillTimeout),
		Gate:            g,
		Store:           store,
		UpstreamURL:     p.Upstream.BaseURL(),
		Metrics:         p.Metrics,
		Log:             log,
		PageTTL:         time.Duration(cfg.Index.TTL),
		PageTimeout:     3 * time.Duration(cfg.Upstream.Timeout),
		HideHeld:        cfg.Index.HeldFiles == "hide",
		PublicURL:       cfg.Server.PublicURL,
		ReviewOnAdmin:   cfg.Admin.Listen != "",
	}
	if c := cfg.Auth.Clients; c.UsersFile != "" || c.TokensFile != "" {
		clients, err := clientauth.New(c.UsersFile, c.TokensFile)
		if err != nil {
			served.Close()
			return nil, fmt.Errorf("auth.clients: %w", err)
		}
		clients.Share(store) // every replica throttles a guesser alike
		clients.OnReloadError = func(err error) {
			log.Error().Err(err).Msg("auth.clients: a changed file could not be read; the credentials read before stay in force")
		}
		sopt.ClientAuth = clients
	} else if host, _, _ := net.SplitHostPort(cfg.Listen); !isLoopback(host) {
		log.Warn().Str("listen", cfg.Listen).Msg("the index is open to anyone who can reach this address: set auth.clients to require credentials")
	}
	srv := simpleapi.New(sopt)
	if cfg.Admin.Token == "" {
		log.Info().Msg("admin API off: no admin.token or AIRLOCK_ADMIN_TOKEN")
	}
	var reviewers *clientauth.Authenticator
	if cfg.Admin.ReviewersFile != "" {
		if reviewers, err = clientauth.New("", cfg.Admin.ReviewersFile); err != nil {
			served.Close()
			return nil, fmt.Errorf("admin.reviewers_file: %w", err)
		}
		reviewers.Share(store)
		reviewers.OnReloadError = func(err error) {
			log.Error().Err(err).Msg("admin.reviewers_file: a changed file could not be read; the tokens read before stay in force")
		}
	}
	// Sessions and wrong-token counts are kept with the records: every
	// replica knows them.
	signin := reviewauth.New(reviewauth.Options{Token: cfg.Admin.Token, Reviewers: reviewers, Throttle: store})
	admin := adminapi.New(p.Quarantine, g, p.Router, adminapi.Options{Auth: signin, Feeds: feeds})
	ui := reviewui.New(p.Quarantine, g, reviewui.Options{Auth: signin, Feeds: feeds, Upstream: cfg.Upstream.URL, Now: time.Now, Sessions: store})
	f := &Front{Index: srv.Handler(admin.Register, ui.Register), Server: srv, Downloads: served}
	if cfg.Admin.Listen != "" {
		// The index stays public; the admin API and the review page only
		// answer on their own address.
		f.Index, f.Admin = srv.Handler(), srv.AdminHandler(admin.Register, ui.Register)
	}
	return f, nil
}

// isLoopback reports whether a listen host only answers this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
