package remoteconfig

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rfidgw/rfidgw/internal/config"
	"github.com/rfidgw/rfidgw/uplink"
)

// DefaultRollbackAfter is the default health gate (remote_config.rollback_after).
const DefaultRollbackAfter = config.DefaultRollbackAfter

// maxDetail bounds the detail of an outcome (it travels in every status).
const maxDetail = 2000

// Status is what the gateway reports about remote config.
type Status = uplink.ConfigStatus

// Target is the running gateway as the manager sees it.
type Target interface {
	// Apply takes a whole validated config the way SIGHUP does (new zones
	// and edge settings, changed readers restarted).
	Apply(ctx context.Context, cfg *config.Config) error
	// Ready is nil while the pipeline runs (the gateway's /readyz).
	Ready() error
	// ReadersOnline maps each reader id to whether it is online now.
	ReadersOnline() map[string]bool
}

// Loader decodes and validates a whole config from YAML exactly as the
// local file is checked (`rfidgw check --config-only`); name stands for the
// file in the problems it lists.
type Loader func(name string, yaml []byte) (*config.Config, error)

// Options configure a Manager.
type Options struct {
	Local     *config.Config // the local file, loaded and validated
	LocalYAML []byte         // its text
	Load      Loader
	Log       *slog.Logger
	// OnChange is called (outside any lock) after every outcome, e.g. to
	// publish the status at once.
	OnChange func(Status)
	Metrics  *Metrics // optional
	// Keys overrides the keys read from Local.RemoteConfig.PublicKeys (tests).
	Keys KeySet
}

// Manager decides about config messages for one gateway and applies them
// behind the health gate. Messages, local reloads and the gate are handled
// one at a time by Run.
type Manager struct {
	o    Options
	log  *slog.Logger
	gw   string
	dir  string
	gate time.Duration
	reqs chan request

	mu        sync.Mutex // guards what Status and Running read
	keys      KeySet
	st        *State
	layers    map[string]*Message // in effect, by key
	localYAML []byte
	localName string
	running   *config.Config
}

type request struct {
	key   string
	value []byte
	local *config.Config // a local reload when set
	yaml  []byte
	done  chan error
}

// Open reads the state in the local config's data dir, verifies the stored
// last good messages again and composes the config to start with: the
// local file with the last good pushed sections, or the local file alone
// (and an outcome saying why) when they no longer fit it.
func Open(o Options) (*Manager, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	rc := o.Local.RemoteConfig
	m := &Manager{
		o: o, log: o.Log.With("component", "remote_config"),
		gw: o.Local.Gateway.ID, dir: o.Local.Gateway.DataDir, gate: rc.RollbackAfter,
		reqs: make(chan request), layers: map[string]*Message{},
		localYAML: o.LocalYAML, localName: o.Local.File, running: o.Local,
		keys: o.Keys,
	}
	if m.gate <= 0 {
		m.gate = DefaultRollbackAfter
	}
	if m.keys == nil {
		ks, err := LoadKeySet(rc.PublicKeys)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", config.ErrConfig, err)
		}
		m.keys = ks
	}
	st, warn := LoadState(m.dir)
	if st == nil {
		return nil, warn
	}
	if warn != nil {
		m.log.Warn(warn.Error())
	}
	m.st = st
	dirty := false
	if p := st.Pending; p != nil {
		// Stopped (or crashed) while a push was on trial: it is not good.
		st.Seen[p.Key] = maxSeen(st.Seen[p.Key], Seen{p.Version, p.Hash})
		st.Handled()[p.Key] = p.Sum
		st.Pending = nil
		st.Last = Outcome{Result: ResultRolledBack, Reason: ReasonInterrupted, Target: p.Key, Version: p.Version, Hash: p.Hash,
			Detail: fmt.Sprintf("%v: version %d was on trial; running the last good config", ErrInterrupted, p.Version), Since: time.Now().UTC()}
		m.log.Warn("the last start ended during the health gate of a pushed config; running the last good config", "key", p.Key, "version", p.Version)
		dirty = true
	}
	for key, raw := range st.Layers {
		msg, err := Verify(key, []byte(raw), m.keys)
		if err != nil || (key != m.gw && key != FleetKey) {
			m.log.Warn("stored remote config dropped (push it again, signed with an accepted key)", "key", key, "err", err)
			delete(st.Layers, key)
			dirty = true
			continue
		}
		m.layers[key] = msg
	}
	if len(m.layers) > 0 {
		cfg, err := m.compose(o.Local, o.LocalYAML, m.layers)
		if err != nil {
			m.log.Error("the last good remote config does not fit the local file; running the local file alone", "err", err)
			st.Last = Outcome{Result: ResultRejected, Reason: ReasonInvalid, Version: m.versionLocked(), Hash: m.hashLocked(),
				Detail: clip(fmt.Sprintf("the stored remote config no longer fits the local file, which runs alone: %v", err)), Since: time.Now().UTC()}
			m.layers = map[string]*Message{}
			st.Layers = map[string]string{}
			dirty = true
		} else {
			m.running = cfg
			m.log.Info("running the last good remote config", "version", m.versionLocked(), "hash", m.hashLocked(), "sections", strings.Join(m.sectionsLocked().Names(), ","))
		}
	}
	if dirty {
		if err := st.Save(m.dir); err != nil {
			return nil, err
		}
	}
	m.setMetrics()
	return m, nil
}

// SetOnChange sets the function called after every outcome (e.g. to
// publish the gateway status at once).
func (m *Manager) SetOnChange(fn func(Status)) {
	m.mu.Lock()
	m.o.OnChange = fn
	m.mu.Unlock()
}

// SetMetrics sets the series to keep current (register their Collectors).
func (m *Manager) SetMetrics(mt *Metrics) {
	m.mu.Lock()
	m.o.Metrics = mt
	m.mu.Unlock()
	m.setMetrics()
}

// Running is the config the gateway runs (start the gateway with it).
func (m *Manager) Running() *config.Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running
}

// Keys returns the accepted key ids.
func (m *Manager) Keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.keys.IDs()
}

// Gate is the health gate (remote_config.rollback_after).
func (m *Manager) Gate() time.Duration { return m.gate }

// Status reports the version and hash in effect and the last outcome.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.statusLocked()
}

func (m *Manager) statusLocked() Status {
	s := Status{
		Version: m.versionLocked(),
		Hash:    m.hashLocked(),
		Result:  m.st.Last.Result, Reason: m.st.Last.Reason, Detail: m.st.Last.Detail,
		ResultVersion: m.st.Last.Version, ResultTarget: m.st.Last.Target, Since: m.st.Last.Since,
	}
	if l := m.layers[FleetKey]; l != nil {
		s.FleetVersion = l.Version
	}
	if l := m.layers[m.gw]; l != nil {
		s.GatewayVersion = l.Version
	}
	return s
}

// Sections returns the pushed sections in effect (fleet, then the
// gateway's own on top).
func (m *Manager) Sections() Sections {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sectionsLocked()
}

func (m *Manager) sectionsLocked() Sections {
	out := Sections{}
	for _, l := range m.ordered(m.layers) {
		for k, v := range l {
			out[k] = v
		}
	}
	return out
}

func (m *Manager) versionLocked() uint64 {
	var v uint64
	for _, l := range m.layers {
		v = max(v, l.Version)
	}
	return v
}

func (m *Manager) hashLocked() string { return m.sectionsLocked().Hash() }

// ordered returns the layers' sections in the order they apply.
func (m *Manager) ordered(layers map[string]*Message) []Sections {
	var out []Sections
	for _, k := range []string{FleetKey, m.gw} {
		if l := layers[k]; l != nil {
			out = append(out, l.Sections)
		}
	}
	return out
}

// compose builds and validates the config of the local file with layers.
func (m *Manager) compose(local *config.Config, localYAML []byte, layers map[string]*Message) (*config.Config, error) {
	if len(layers) == 0 {
		return local, nil
	}
	if err := CheckFiles(localYAML, m.ordered(layers)...); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	doc, err := Compose(localYAML, m.ordered(layers)...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var parts []string
	for _, k := range []string{FleetKey, m.gw} {
		if l := layers[k]; l != nil {
			parts = append(parts, fmt.Sprintf("%s version %d", describeKey(k), l.Version))
		}
	}
	name := fmt.Sprintf("%s with %s", local.File, strings.Join(parts, " and "))
	cfg, err := m.o.Load(name, doc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return cfg, nil
}

func describeKey(k string) string {
	if k == FleetKey {
		return "fleet push"
	}
	return "push for " + k
}

// Offer hands over the latest value of a key of the topic; it returns when
// the manager decided (after the health gate if the config was applied).
// Keys other than this gateway's id and FleetKey are ignored.
func (m *Manager) Offer(ctx context.Context, key string, value []byte) error {
	return m.send(ctx, request{key: key, value: value})
}

// LocalReload applies a changed local file (SIGHUP): its own sections plus
// the pushed sections in effect, validated together. Pushed sections win
// over the local file's same sections. A local reload waits for a health
// gate in progress. The keys of remote_config.public_keys are read again,
// so a key rotation needs no restart.
func (m *Manager) LocalReload(ctx context.Context, local *config.Config, yaml []byte) error {
	return m.send(ctx, request{local: local, yaml: yaml})
}

func (m *Manager) send(ctx context.Context, r request) error {
	r.done = make(chan error, 1)
	select {
	case m.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run handles offers and local reloads until ctx ends.
func (m *Manager) Run(ctx context.Context, t Target) {
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-m.reqs:
			if r.local != nil {
				r.done <- m.localReload(ctx, t, r.local, r.yaml)
			} else {
				r.done <- m.handle(ctx, t, r.key, r.value)
			}
		}
	}
}

func valueSum(v []byte) string {
	s := sha256.Sum256(v)
	return hex.EncodeToString(s[:12])
}

func maxSeen(a, b Seen) Seen {
	if b.Version > a.Version {
		return b
	}
	return a
}

// handle decides about one message. It returns the refusal or rollback
// error (nil when applied or ignored).
func (m *Manager) handle(ctx context.Context, t Target, key string, value []byte) error {
	if key != m.gw && key != FleetKey {
		return nil
	}
	if value == nil {
		m.log.Info("deleted key on the config topic ignored; the config in effect stays (push an empty file to hand sections back to the local file)", "key", key)
		return nil
	}
	sum := valueSum(value)
	m.mu.Lock()
	handled := m.st.Handled()[key] == sum
	m.mu.Unlock()
	if handled {
		return nil // the same message again (a restart reads the topic again)
	}
	msg, err := Verify(key, value, m.keys)
	if err != nil {
		v, _ := PeekVersion(value)
		if errors.Is(err, ErrInvalid) {
			m.mu.Lock()
			m.st.Seen[key] = maxSeen(m.st.Seen[key], Seen{Version: v})
			m.mu.Unlock()
		}
		return m.finish(key, sum, Outcome{Result: ResultRejected, Target: key, Version: v}, err)
	}
	hash := msg.Sections.Hash()
	out := Outcome{Target: key, Version: msg.Version, Hash: hash}
	m.mu.Lock()
	seen := m.st.Seen[key]
	m.mu.Unlock()
	if msg.Version <= seen.Version {
		return m.finish(key, sum, withResult(out, ResultRejected),
			fmt.Errorf("%w: version %d for %s, this gateway already handled version %d", ErrOlderVersion, msg.Version, key, seen.Version))
	}
	m.mu.Lock()
	m.st.Seen[key] = Seen{Version: msg.Version, Hash: hash}
	candidate := map[string]*Message{}
	for k, l := range m.layers {
		candidate[k] = l
	}
	candidate[key] = msg
	local, localYAML := m.localConfig(), m.localYAML
	m.mu.Unlock()

	cfg, err := m.compose(local, localYAML, candidate)
	if err != nil {
		return m.finish(key, sum, withResult(out, ResultRejected), err)
	}
	// On trial: if the gateway stops before the gate closes, the next
	// start runs the last good config.
	was := t.ReadersOnline()
	m.mu.Lock()
	m.st.Pending = &Pending{Key: key, Version: msg.Version, Hash: hash, Sum: sum}
	m.st.Last = withResult(out, ResultChecking)
	m.st.Last.Since = time.Now().UTC()
	m.st.Last.Detail = fmt.Sprintf("applied; health gate closes in %s", m.gate)
	serr := m.st.Save(m.dir)
	m.mu.Unlock()
	if serr != nil {
		m.log.Error("remote config state not saved", "err", serr)
	}
	m.notify()
	m.log.Info("applying pushed config", "key", key, "version", msg.Version, "hash", hash, "sections", strings.Join(msg.Sections.Names(), ","), "key_id", msg.KeyID, "by", msg.By)
	if err := t.Apply(ctx, cfg); err != nil {
		m.mu.Lock()
		m.st.Pending = nil
		m.mu.Unlock()
		return m.finish(key, sum, withResult(out, ResultRejected), fmt.Errorf("%w: %w", ErrInvalid, err))
	}
	timer := time.NewTimer(m.gate)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		// Stopping: the pending mark makes the next start roll back.
		return ctx.Err()
	case <-timer.C:
	}
	if herr := m.health(t, was, cfg, msg.Version); herr != nil {
		m.mu.Lock()
		prev := m.running
		m.st.Pending = nil
		m.mu.Unlock()
		m.log.Error("pushed config failed the health gate; rolling back to the last good config", "key", key, "version", msg.Version, "err", herr)
		if err := t.Apply(ctx, prev); err != nil {
			m.log.Error("rolling back failed", "err", err)
			herr = fmt.Errorf("%w (and rolling back failed: %v)", herr, err)
		}
		return m.finish(key, sum, withResult(out, ResultRolledBack), herr)
	}
	m.mu.Lock()
	m.layers[key] = msg
	m.st.Layers[key] = string(msg.Value)
	m.st.Pending = nil
	m.running = cfg
	m.mu.Unlock()
	m.log.Info("pushed config passed the health gate", "key", key, "version", msg.Version, "hash", hash)
	return m.finish(key, sum, withResult(out, ResultApplied), nil)
}

func withResult(o Outcome, r string) Outcome {
	o.Result = r
	return o
}

// localConfig is the local file's config (the running config's base);
// caller holds mu.
func (m *Manager) localConfig() *config.Config {
	if m.o.Local == nil {
		return m.running
	}
	return m.o.Local
}

// finish records an outcome: state saved, metrics, log, status published.
func (m *Manager) finish(key, sum string, out Outcome, err error) error {
	out.Since = time.Now().UTC()
	if err != nil {
		out.Reason = Reason(err)
		out.Detail = clip(err.Error())
		if out.Result == ResultRejected {
			m.log.Warn("pushed config rejected", "key", key, "version", out.Version, "reason", out.Reason, "err", err)
		}
	}
	m.mu.Lock()
	m.st.Handled()[key] = sum
	m.st.Last = out
	serr := m.st.Save(m.dir)
	m.mu.Unlock()
	if serr != nil {
		m.log.Error("remote config state not saved", "err", serr)
	}
	m.mu.Lock()
	mt := m.o.Metrics
	m.mu.Unlock()
	if mt != nil {
		mt.Pushes.WithLabelValues(out.Result, out.Reason).Inc()
	}
	m.setMetrics()
	m.notify()
	return err
}

func (m *Manager) notify() {
	m.mu.Lock()
	fn := m.o.OnChange
	m.mu.Unlock()
	if fn != nil {
		fn(m.Status())
	}
}

func (m *Manager) setMetrics() {
	m.mu.Lock()
	mt := m.o.Metrics
	m.mu.Unlock()
	if mt != nil {
		mt.set(m.Status())
	}
}

func clip(s string) string {
	if len(s) > maxDetail {
		return s[:maxDetail] + "…"
	}
	return s
}

// health is the gate's verdict: the gateway is ready, and every reader that
// was online before the push and is still configured is online again.
func (m *Manager) health(t Target, was map[string]bool, cfg *config.Config, version uint64) error {
	if err := t.Ready(); err != nil {
		return fmt.Errorf("%w: %v (%s after version %d)", ErrNotReady, err, m.gate, version)
	}
	now := t.ReadersOnline()
	ids := map[string]bool{}
	for _, id := range ReaderIDs(cfg) {
		ids[id] = true
	}
	var lost []string
	for id, up := range was {
		if up && ids[id] && !now[id] {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 {
		sort.Strings(lost)
		return fmt.Errorf("%w: %s online before version %d, offline %s after it", ErrReaderLost, strings.Join(lost, ", "), version, m.gate)
	}
	return nil
}

// ReaderIDs lists the reader ids a config's readers serve.
func ReaderIDs(cfg *config.Config) []string {
	var out []string
	for _, r := range cfg.Readers {
		out = append(out, r.ReaderIDs()...)
	}
	return out
}

// localReload composes the new local file with the pushed sections in
// effect and applies it (no health gate: the field tech who sent SIGHUP is
// watching).
func (m *Manager) localReload(ctx context.Context, t Target, local *config.Config, yaml []byte) error {
	keys, err := LoadKeySet(local.RemoteConfig.PublicKeys)
	if err != nil {
		return fmt.Errorf("%w: %w", config.ErrConfig, err)
	}
	if local.RemoteConfig.Topic != m.o.Local.RemoteConfig.Topic || local.RemoteConfig.RollbackAfter != m.o.Local.RemoteConfig.RollbackAfter {
		m.log.Warn("reload: remote_config.topic and rollback_after take effect only after a restart")
	}
	m.mu.Lock()
	layers := map[string]*Message{}
	var dropped []string
	for k, l := range m.layers {
		if _, ok := keys[l.KeyID]; ok {
			layers[k] = l
		} else {
			dropped = append(dropped, k)
		}
	}
	m.mu.Unlock()
	cfg, err := m.compose(local, yaml, layers)
	if err != nil {
		return fmt.Errorf("the new local file with the pushed config in effect: %w", err)
	}
	if err := t.Apply(ctx, cfg); err != nil {
		return err
	}
	m.mu.Lock()
	m.keys, m.layers, m.running, m.localYAML = keys, layers, cfg, yaml
	m.o.Local = local
	for _, k := range dropped {
		delete(m.st.Layers, k)
	}
	var serr error
	if len(dropped) > 0 {
		serr = m.st.Save(m.dir)
	}
	over := m.sectionsLocked().Names()
	m.mu.Unlock()
	if serr != nil {
		m.log.Error("remote config state not saved", "err", serr)
	}
	for _, k := range dropped {
		m.log.Warn("reload: a pushed config signed with a key no longer in remote_config.public_keys is dropped", "key", k)
	}
	if len(over) > 0 {
		m.log.Info("reload: pushed sections win over the local file's", "sections", strings.Join(over, ","), "version", m.Status().Version)
	}
	if len(dropped) > 0 {
		m.setMetrics()
		m.notify()
	}
	return nil
}

// Handled maps each key to the checksum of the last value decided about, so
// the same message read again (every start reads the topic again) is not
// decided about twice.
func (s *State) Handled() map[string]string {
	if s.HandledSums == nil {
		s.HandledSums = map[string]string{}
	}
	return s.HandledSums
}

// View is what GET /api/config shows.
type View struct {
	Enabled       bool     `json:"enabled"`
	Gateway       string   `json:"gateway"`
	Topic         string   `json:"topic,omitempty"`
	KeyIDs        []string `json:"public_key_ids,omitempty"`
	RollbackAfter string   `json:"rollback_after,omitempty"`
	// Sections are the sections the pushes in effect set (they win over
	// the local file's).
	Sections []string `json:"pushed_sections,omitempty"`
	Status
}

// View returns the remote config view of this gateway.
func (m *Manager) View() View {
	m.mu.Lock()
	defer m.mu.Unlock()
	return View{
		Enabled: true, Gateway: m.gw, Topic: m.o.Local.RemoteConfig.Topic, KeyIDs: m.keys.IDs(),
		RollbackAfter: m.gate.String(), Sections: m.sectionsLocked().Names(), Status: m.statusLocked(),
	}
}
