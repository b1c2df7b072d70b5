package buffer

import (
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/rfidgw/rfidgw/internal/metrics"
)

// On-full policies (buffer.on_full in docs/config.md).
const (
	DropOldest = "drop_oldest"
	RejectNew  = "reject_new"
)

// Defaults of Options.
const (
	DefaultMaxBytes            = 2 << 30
	DefaultMinFreeDisk         = 256 << 20
	DefaultMaxBatchEvents      = 1000
	DefaultMaxBatchBytes       = 256 << 10
	DefaultGapInterval         = time.Minute
	DefaultTickInterval        = time.Second
	DefaultCompactMinFileBytes = 64 << 20
	DefaultCompactMaxEvents    = 10000
	DefaultLockTimeout         = time.Second
	DefaultSeqBlock            = 1000000
)

// Options configure a Queue. Zero values mean the defaults above.
type Options struct {
	Gateway     string // gateway id: fills Event.Gateway; gap events are keyed by it
	MaxBytes    int64  // payload bytes (stored record sizes); default 2 GiB
	MinFreeDisk int64  // free bytes to leave on the filesystem; default 256 MiB, < 0 disables
	OnFull      string // "drop_oldest" (default) | "reject_new"
	Log         *slog.Logger
	// Metrics receives the rfidgw_buffer_* metrics, rfidgw_events_dropped_total,
	// the gap events' rfidgw_events_total and rfidgw_uplink_lag_seconds (the
	// daemon's); nil gives the Queue a private Metrics that nobody serves.
	Metrics *metrics.Metrics

	// MaxBatchEvents and MaxBatchBytes bound how many waiting Append calls the
	// committer takes into one transaction (one call is never split).
	MaxBatchEvents int
	MaxBatchBytes  int
	// GapInterval is the longest a run of drops stays open before its gap
	// event is written (it is also written as soon as room returns).
	GapInterval time.Duration
	// TickInterval paces the lag metric, the gap and compaction checks and,
	// while writes fail, the probe commit that finds out they work again.
	TickInterval time.Duration
	// The file is compacted (copied and renamed) when it is at least
	// CompactMinFileBytes, holds at most CompactMaxEvents events and its
	// payload is under an eighth of the file.
	CompactMinFileBytes int64
	CompactMaxEvents    int
	// LockTimeout is how long Open waits for the file lock.
	LockTimeout time.Duration
	// SeqBlock is how far ahead the seq ceiling in buffer.seq is reserved
	// (one extra fsync per SeqBlock events).
	SeqBlock uint64
	// NoSync turns off fsync. For benchmarks that build a backlog only: a
	// crash or power loss can then lose or corrupt the buffer.
	NoSync bool

	noPrealloc   bool          // benchmarks: compare with bbolt growing the file itself
	compactEvery time.Duration // tests: least time between compactions (default 1 min)
}

// GatewayIDPattern is what a gateway id (gateway.id) must be: it names the
// gateway in every event and keys its gap events. The config checks it here.
const GatewayIDPattern = `[a-z0-9._-]{1,64}`

var gatewayID = regexp.MustCompile(`^` + GatewayIDPattern + `$`)

// ValidGatewayID reports whether id matches GatewayIDPattern.
func ValidGatewayID(id string) bool { return gatewayID.MatchString(id) }

// ValidOnFull reports whether s is an on-full policy (DropOldest or
// RejectNew); "" is not (Options takes it as the default, the config file
// has filled it in).
func ValidOnFull(s string) bool { return s == DropOldest || s == RejectNew }

func (o Options) withDefaults() (Options, error) {
	if !ValidGatewayID(o.Gateway) {
		return o, fmt.Errorf("%w: buffer option gateway %q: want %s", ErrInvalid, o.Gateway, GatewayIDPattern)
	}
	if o.OnFull == "" {
		o.OnFull = DropOldest
	}
	if !ValidOnFull(o.OnFull) {
		return o, fmt.Errorf("%w: buffer.on_full %q: want %s or %s", ErrInvalid, o.OnFull, DropOldest, RejectNew)
	}
	if o.MaxBytes < 0 {
		return o, fmt.Errorf("%w: buffer.max_bytes %d: must not be negative", ErrInvalid, o.MaxBytes)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MinFreeDisk == 0 {
		o.MinFreeDisk = DefaultMinFreeDisk
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	if o.MaxBatchEvents <= 0 {
		o.MaxBatchEvents = DefaultMaxBatchEvents
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if o.GapInterval <= 0 {
		o.GapInterval = DefaultGapInterval
	}
	if o.TickInterval <= 0 {
		o.TickInterval = DefaultTickInterval
	}
	if o.CompactMinFileBytes <= 0 {
		o.CompactMinFileBytes = DefaultCompactMinFileBytes
	}
	if o.CompactMaxEvents <= 0 {
		o.CompactMaxEvents = DefaultCompactMaxEvents
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.compactEvery <= 0 {
		o.compactEvery = time.Minute
	}
	if o.SeqBlock == 0 {
		o.SeqBlock = DefaultSeqBlock
	}
	return o, nil
}
