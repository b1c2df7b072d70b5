package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"

	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/internal/config"
	"github.com/rfidgw/rfidgw/reader"
)

// NewSource builds the Source for one reader entry of gateway gatewayID,
// through the entry's registered type.
func NewSource(gatewayID string, rc reader.Config, log *slog.Logger) (reader.Source, error) {
	return reader.NewSource(rc, reader.Env{GatewayID: gatewayID, Log: log})
}

type runningSource struct {
	cfg    reader.Config
	cancel context.CancelFunc
	done   chan struct{}
}

// startSource runs one source until ctx ends or it returns. Caller holds g.mu.
func (g *Gateway) startSource(ctx context.Context, rc reader.Config) error {
	src, err := reader.NewSource(rc, reader.Env{GatewayID: g.cfg.Gateway.ID, Log: g.log, Metrics: g.m.Readers()})
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	rs := &runningSource{cfg: rc, cancel: cancel, done: make(chan struct{})}
	g.sources[rc.ID] = rs
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		defer close(rs.done)
		if err := src.Run(sctx, g); err != nil {
			g.log.Error("reader stopped", "reader", rc.ID, "err", err)
		}
	}()
	return nil
}

type reloadReq struct {
	cfg  *config.Config
	done chan error
}

// Reload applies a new, already validated config: the engine takes the new
// zones and edge settings (keeping the state of zones that still exist) and
// only readers whose settings changed are restarted. Settings that need a
// restart (gateway, buffer, uplink, http) are kept as they were and the log
// says so.
func (g *Gateway) Reload(ctx context.Context, cfg *config.Config) error {
	req := reloadReq{cfg: cfg, done: make(chan error, 1)}
	select {
	case g.reloads <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := <-req.done; err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.cfg
	if !reflect.DeepEqual(old.Gateway, cfg.Gateway) || !reflect.DeepEqual(old.Buffer, cfg.Buffer) ||
		!reflect.DeepEqual(old.Uplink, cfg.Uplink) || !reflect.DeepEqual(old.HTTP, cfg.HTTP) {
		g.log.Warn("reload: gateway, buffer, uplink and http settings take effect only after a restart")
	}
	want := map[string]reader.Config{}
	for _, rc := range cfg.Readers {
		want[rc.ID] = rc
	}
	var stopped []*runningSource
	for id, rs := range g.sources {
		if rc, ok := want[id]; !ok || !reflect.DeepEqual(rc, rs.cfg) {
			rs.cancel()
			stopped = append(stopped, rs)
			delete(g.sources, id)
			g.log.Info("reload: reader stopped", "reader", id)
		}
	}
	for _, rs := range stopped {
		<-rs.done
	}
	g.forgetReaderStates(stopped, cfg)
	for _, rc := range cfg.Readers {
		if _, running := g.sources[rc.ID]; running {
			continue
		}
		if err := g.startSource(g.srcCtx, rc); err != nil {
			g.log.Error("reload: reader not started", "reader", rc.ID, "err", err)
			continue
		}
		g.log.Info("reload: reader started", "reader", rc.ID)
	}
	next := *cfg
	next.Gateway, next.Buffer, next.Uplink, next.HTTP = old.Gateway, old.Buffer, old.Uplink, old.HTTP
	g.cfg = &next
	return nil
}

// applyReload runs in the owner goroutine.
func (g *Gateway) applyReload(cfg *config.Config) error {
	ecfg := cfg.EdgeConfig()
	ecfg.Logger, ecfg.MaxReadAhead = g.log, g.maxReadAhead
	filter, err := edge.NewReadFilter(ecfg)
	if err != nil {
		return fmt.Errorf("%w: %v", config.ErrConfig, err)
	}
	if err := g.engine.Reconfigure(ecfg); err != nil {
		return fmt.Errorf("%w: %v", config.ErrConfig, err)
	}
	g.filter = filter
	g.log.Info("reload: zones and edge settings applied", "zones", len(cfg.Zones))
	return nil
}
