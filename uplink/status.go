package uplink

import (
	"encoding/json"
	"log/slog"
	"slices"
	"time"
)

// MaxStatusReaders bounds the readers listed in one status message, so that
// reader ids learned from the network (reader_from_topic) can never make it
// larger than a broker accepts (about 40 bytes each: 80 KB at most). The
// rest are counted in ReadersOmitted.
const MaxStatusReaders = 2000

// Reader states in GatewayStatus.Readers.
const (
	ReaderOnline  = "online"
	ReaderOffline = "offline"
)

// GatewayStatus is the value of a message on the status topic, keyed by the
// gateway id (docs/events.md, "Gateway status topic"). The lead's status function fills it; the
// forwarder sets Gateway, Time, Kind and UplinkConnected when left empty.
type GatewayStatus struct {
	Schema  int       `json:"schema"`  // 1
	Gateway string    `json:"gateway"` // set by the forwarder
	Time    time.Time `json:"time"`    // when the status was taken
	// Kind is "heartbeat" for the periodic status, else what changed
	// (e.g. "reader", "startup", "shutdown").
	Kind    string `json:"kind"`
	Version string `json:"version,omitempty"`
	// Readers maps each reader id to ReaderOnline or ReaderOffline.
	Readers map[string]string `json:"readers"`
	// ReadersOmitted counts readers left out of Readers (MaxStatusReaders;
	// the first ids in sort order are listed).
	ReadersOmitted int   `json:"readers_omitted,omitempty"`
	BufferEvents   int64 `json:"buffer_events"` // committed, not yet acknowledged
	BufferBytes    int64 `json:"buffer_bytes"`
	// LagSeconds is the age of the oldest event not yet acknowledged by Kafka.
	LagSeconds      float64 `json:"lag_seconds"`
	EventsDropped   uint64  `json:"events_dropped"`
	UplinkConnected bool    `json:"uplink_connected"`

	// Epoch is the gateway's current stream epoch and EpochFirstSeq its
	// first seq; NewEpoch is true on the startup status of the start that
	// created it, with EpochReason saying why. Set by the forwarder when its
	// queue has epochs.
	Epoch         string `json:"epoch,omitempty"`
	EpochFirstSeq uint64 `json:"epoch_first_seq,omitempty"`
	NewEpoch      bool   `json:"new_epoch,omitempty"`
	EpochReason   string `json:"epoch_reason,omitempty"`
	// LastSeq is the highest seq the gateway assigned so far; OldestSeq the
	// oldest seq still in its buffer (0 when the buffer is empty): every
	// seq below it was delivered to Kafka or reported in a gap event.
	LastSeq   uint64 `json:"last_seq"`
	OldestSeq uint64 `json:"oldest_seq"`
	// Config is the remotely pushed config this gateway runs and the result
	// of the last push (absent when remote_config is off).
	Config *ConfigStatus `json:"config,omitempty"`
}

// ConfigStatus is what a gateway reports about remote config: the version
// and hash of what it runs and the result of the last push it handled.
type ConfigStatus struct {
	// Version is the highest version of the pushes in effect (0: the local
	// file only); FleetVersion and GatewayVersion are the versions of the
	// fleet-wide and the gateway's own push in effect.
	Version        uint64 `json:"version"`
	FleetVersion   uint64 `json:"fleet_version,omitempty"`
	GatewayVersion uint64 `json:"gateway_version,omitempty"`
	// Hash fingerprints the pushed sections in effect ("-" for none).
	Hash string `json:"hash"`
	// Result of the last push: applied, rejected, rolled_back or checking
	// (health gate open); "" before the first push.
	Result string `json:"result,omitempty"`
	// Reason is a one-word code (unsigned, unknown_key, bad_signature,
	// older_version, other_gateway, invalid, not_ready, reader_offline,
	// interrupted); Detail says what exactly.
	Reason        string    `json:"reason,omitempty"`
	Detail        string    `json:"detail,omitempty"`
	ResultVersion uint64    `json:"result_version,omitempty"` // the version the result is about
	ResultTarget  string    `json:"result_target,omitempty"`  // its key: this gateway's id or "*"
	Since         time.Time `json:"since,omitzero"`           // when the result happened
}

// Status kinds.
const (
	StatusHeartbeat = "heartbeat"
	StatusStartup   = "startup"
	StatusShutdown  = "shutdown"
	StatusReader    = "reader"
	StatusConfig    = "config" // a push was applied, refused or rolled back
)

// SetStatusFunc sets the function Run calls for the heartbeat status (every
// Config.Heartbeat, and once when Run starts and stops). Safe to call at any
// time.
func (f *Forwarder) SetStatusFunc(fn func() GatewayStatus) {
	f.statusMu.Lock()
	f.statusFn = fn
	f.statusMu.Unlock()
}

// PublishStatus sends s to the status topic, keyed by the gateway id. Best
// effort: it is not buffered on disk, and it is dropped while the producer is
// being recreated.
func (f *Forwarder) PublishStatus(s GatewayStatus) {
	if s.Schema == 0 {
		s.Schema = 1
	}
	s.Gateway = f.gateway
	if s.Time.IsZero() {
		s.Time = time.Now()
	}
	s.Time = s.Time.UTC()
	if s.Kind == "" {
		s.Kind = StatusReader
	}
	s.UplinkConnected = f.Connected()
	if es, ok := f.q.(EpochSource); ok {
		e := es.Epoch()
		s.Epoch, s.EpochFirstSeq = e.ID, e.FirstSeq
		if e.New && s.Kind == StatusStartup {
			s.NewEpoch, s.EpochReason = true, e.Reason
		}
	}
	if n := len(s.Readers); n > MaxStatusReaders {
		ids := make([]string, 0, n)
		for id := range s.Readers {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		kept := make(map[string]string, MaxStatusReaders)
		for _, id := range ids[:MaxStatusReaders] {
			kept[id] = s.Readers[id]
		}
		s.Readers, s.ReadersOmitted = kept, n-MaxStatusReaders
		f.m.UplinkErrors.WithLabelValues("status_truncated").Inc()
		f.logEvery("status-readers", slog.LevelWarn, "uplink: gateway status lists only the first readers; the rest are counted in readers_omitted", "readers", n, "limit", MaxStatusReaders)
	}
	value, err := json.Marshal(s)
	if err != nil {
		f.log.Warn("uplink: gateway status not encodable", "err", err)
		return
	}
	f.prodMu.RLock()
	defer f.prodMu.RUnlock()
	if f.prod == nil {
		f.log.Debug("uplink: gateway status dropped, producer not ready", "kind", s.Kind)
		return
	}
	if err := f.prod.Produce(statusMessage(&f.cfg.StatusTopic, f.gateway, value, s.Time), nil); err != nil {
		f.log.Warn("uplink: gateway status not sent", "topic", f.cfg.StatusTopic, "err", err)
	}
}

// heartbeat publishes the status function's status with the given kind.
func (f *Forwarder) heartbeat(kind string) {
	f.statusMu.Lock()
	fn := f.statusFn
	f.statusMu.Unlock()
	var s GatewayStatus
	if fn != nil {
		s = fn()
	}
	s.Kind = kind
	f.PublishStatus(s)
}
