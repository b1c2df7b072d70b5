// Package reader owns the connections to RFID readers and the Read they
// produce. Each protocol lives in its own sub-package (file, llrp, serial,
// mqtt) and registers its type here (Register): its settings struct,
// validation, Source constructor and check probe; its simulated reader in
// a sub-package (llrp/llrpsim, ...) registers a scenario kind (RegisterSim).
// This package holds what they share: the Read with its JSON-lines codec,
// the Sink a source hands reads to, the common part of a `readers:` entry
// (Config) with its strict decoding (DecodeEntry), and Supervise, the one
// reconnect loop (backoff, status reads, metrics, logging) around a
// protocol's session. See README.md, "Adding a protocol".
//
// Acknowledgements travel with the data: a Source hands a batch to
// Sink.Deliver, which returns only once the edge stage took responsibility for
// it. Only then may a source acknowledge its own input (an MQTT PUBACK, a file
// offset).
package reader

import (
	"context"
	"time"
)

// Status is a reader's connection state as carried by a status Read.
type Status string

// Connection states of a reader.
const (
	StatusOnline  Status = "online"
	StatusOffline Status = "offline"
)

// MaxEPCHex bounds an EPC, in hex digits, for every source: 496 bits (124
// digits) is the longest EPC, the rest leaves room for PC/XPC words. The
// gateway refuses longer ones where reads enter it (reason epc_too_long);
// parsers may refuse them earlier.
const MaxEPCHex = 256

// Read is one tag observation, or a reader status change when Status is set
// (and EPC empty). It is the unit that flows from readers to the edge engine,
// and one line of the record/replay format (docs/zones.md, "The reads format").
type Read struct {
	Time    time.Time // UTC, microsecond precision where the reader gives it
	Reader  string    // reader id from the config
	Antenna int       // 1-based antenna port
	EPC     string    // upper-case hex
	RSSI    float64   // dBm
	Status  Status    // set only on a status line
}

// IsStatus reports whether r is a reader status change rather than a tag read.
func (r *Read) IsStatus() bool { return r.Status != "" }

// Sink receives batches of reads from a Source. Deliver returns nil once the
// next stage took responsibility for every read in the batch; the source may
// then acknowledge its input. It returns an error only when ctx ends or the
// pipeline shuts down, and then the batch must be considered not taken.
// Deliver must not keep the slice after it returns.
type Sink interface {
	Deliver(ctx context.Context, reads []Read) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, reads []Read) error

// Deliver calls f.
func (f SinkFunc) Deliver(ctx context.Context, reads []Read) error { return f(ctx, reads) }

// Source is one reader connection (or one file, or one MQTT subscription).
// Run connects, keeps the connection alive, reconnects with backoff and
// reports every connection change as a status Read for each reader id it
// serves, until ctx ends. It returns nil on a clean shutdown and an error only
// when it cannot run at all (e.g. a config it cannot use).
type Source interface {
	Run(ctx context.Context, sink Sink) error
}

// Checker is implemented by sources that can identify their reader for
// `rfidgw check`: it connects once and describes what answered (model,
// firmware, antenna count) or says why it could not.
type Checker interface {
	Check(ctx context.Context) (string, error)
}

// StatusRead builds a status Read for reader id at t.
func StatusRead(t time.Time, id string, s Status) Read {
	return Read{Time: t.UTC(), Reader: id, Status: s}
}

// Emulator is a simulated reader for `rfidgw sim` and for tests: it speaks
// its protocol on a real transport (a TCP listener, a pseudo-terminal, an
// MQTT broker) and reports the tag reads fed to it as a real reader would.
// Feed does not block for long: an emulator that cannot keep up drops the
// oldest reads, like a real reader's buffer.
type Emulator interface {
	Feed(r Read)
	Close() error
}
