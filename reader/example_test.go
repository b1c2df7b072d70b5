package reader_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/rfidgw/rfidgw/internal/backoff"
	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
)

// The smallest protocol: a reader that sends one EPC per line over TCP.
// Its folder would hold exactly this (plus tests and a sim sub-package),
// and reader/all one import line for it.

// Settings are the keys of a `readers:` entry of type lines.
type Settings struct {
	Address string        `mapstructure:"address"`
	Timeout time.Duration `mapstructure:"timeout"`
}

// Validate checks the settings; keys are relative to the entry.
func (s *Settings) Validate(*reader.Config) []error {
	if _, _, err := net.SplitHostPort(s.Address); err != nil {
		return []error{keyed.Errorf("address", "%q is not host:port", s.Address)}
	}
	return nil
}

// Source is one connection.
type Source struct {
	id  string
	set *Settings
}

// Run leaves reconnecting, statuses and metrics to reader.Supervise.
func (s *Source) Run(ctx context.Context, sink reader.Sink) error {
	sup := &reader.Supervisor{ID: s.id, Kind: "lines", Sink: sink,
		Backoff: backoff.Backoff{Min: time.Second, Max: 30 * time.Second, Jitter: 0.2}}
	return sup.Supervise(ctx, s.session)
}

// session is one connection: connect, say online, deliver until it fails.
func (s *Source) session(ctx context.Context, link *reader.Link) error {
	c, err := (&net.Dialer{Timeout: s.set.Timeout}).DialContext(ctx, "tcp", s.set.Address)
	if err != nil {
		return err
	}
	defer c.Close()
	context.AfterFunc(ctx, func() { c.Close() })
	if err := link.Online(); err != nil {
		return err
	}
	var epc string
	for {
		if _, err := fmt.Fscanln(c, &epc); err != nil {
			return err
		}
		read := reader.Read{Time: time.Now().UTC(), Reader: s.id, Antenna: 1, EPC: epc}
		if err := link.Deliver(ctx, []reader.Read{read}); err != nil {
			return err
		}
	}
}

func Example() {
	reader.Register(reader.Type{
		Name:     "lines",
		Settings: func() reader.Settings { return &Settings{Timeout: 5 * time.Second} },
		New: func(c reader.Config, env reader.Env) (reader.Source, error) {
			return &Source{id: c.ID, set: c.Settings.(*Settings)}, nil
		},
		Fix: "check the address and that the reader is powered",
	})

	// What config loading does with a readers[i] entry:
	_, errs := reader.DecodeEntry(map[string]any{"id": "dock-9", "type": "lines", "address": "10.0.0.9:4000", "baud": 9600}, keyed.Decoder{})
	fmt.Println(errs)
	c, _ := reader.DecodeEntry(map[string]any{"id": "dock-9", "type": "lines", "address": "10.0.0.9"}, keyed.Decoder{})
	fmt.Println(c.Validate(), c.Settings.(*Settings).Timeout)
	// Output:
	// [baud: unknown key for type lines]
	// [address: "10.0.0.9" is not host:port] 5s
}
