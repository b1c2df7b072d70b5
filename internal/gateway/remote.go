package gateway

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rfidgw/rfidgw/internal/config"
	"github.com/rfidgw/rfidgw/internal/remoteconfig"
	"github.com/rfidgw/rfidgw/uplink"
)

// UseRemoteConfig makes the gateway report the remote config manager's
// state: in every status message (and at once, kind "config", after each
// push), in /metrics (rfidgw_config_*) and on GET /api/config. Call before
// Run and Handler.
func (g *Gateway) UseRemoteConfig(m *remoteconfig.Manager) {
	g.remote = m
	g.remoteReg = prometheus.NewRegistry()
	mt := remoteconfig.NewMetrics()
	for _, c := range mt.Collectors() {
		g.remoteReg.MustRegister(c)
	}
	m.SetMetrics(mt)
	m.SetOnChange(func(remoteconfig.Status) { g.PublishStatus(uplink.StatusConfig) })
}

// remoteMetrics is the registry of the rfidgw_config_* series (empty while
// remote config is off).
func (g *Gateway) remoteMetrics() prometheus.Gatherer {
	if g.remoteReg == nil {
		return prometheus.NewRegistry()
	}
	return g.remoteReg
}

// PublishStatus sends the gateway status now with the given kind.
func (g *Gateway) PublishStatus(kind string) {
	s := g.status()
	s.Kind = kind
	g.fwd.PublishStatus(s)
}

// RemoteTarget is the gateway as the remote config manager applies to it:
// the SIGHUP reload path, readiness and the readers' states. Apply waits
// until Run has started the readers.
func (g *Gateway) RemoteTarget() remoteconfig.Target { return remoteTarget{g} }

type remoteTarget struct{ g *Gateway }

func (t remoteTarget) Apply(ctx context.Context, cfg *config.Config) error {
	select {
	case <-t.g.running:
	case <-ctx.Done():
		return ctx.Err()
	}
	return t.g.Reload(ctx, cfg)
}

func (t remoteTarget) Ready() error                   { return t.g.Ready() }
func (t remoteTarget) ReadersOnline() map[string]bool { return t.g.ReadersOnline() }

// serveConfig is GET /api/config: the pushed config in effect and the last
// push's result.
func (g *Gateway) serveConfig(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	v := remoteconfig.View{Gateway: g.cfg.Gateway.ID}
	g.mu.Unlock()
	if g.remote != nil {
		v = g.remote.View()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// forgetReaderStates runs in Reload once the stopped sources returned: a
// restarted reader is not known to be online until its new source says so
// (the health gate of a push must not count a stale "online"); a reader no
// longer configured is no longer reported; a new one starts offline.
func (g *Gateway) forgetReaderStates(stopped []*runningSource, cfg *config.Config) {
	keep := map[string]bool{}
	for _, rc := range cfg.Readers {
		for _, id := range rc.ReaderIDs() {
			keep[id] = true
		}
	}
	g.readersMu.Lock()
	defer g.readersMu.Unlock()
	for _, rs := range stopped {
		for _, id := range rs.cfg.ReaderIDs() {
			if _, tracked := g.readersUp[id]; !tracked {
				continue
			}
			if keep[id] {
				g.readersUp[id] = false
			} else {
				delete(g.readersUp, id)
			}
		}
	}
	for _, rc := range cfg.Readers {
		if rc.IsRecorded() {
			continue
		}
		for _, id := range rc.ReaderIDs() {
			if _, ok := g.readersUp[id]; !ok {
				g.readersUp[id] = false
			}
		}
	}
}
