// Package sim owns the scenario of `rfidgw sim`: which simulated readers
// exist (an LLRP reader on a TCP port, a serial module on a pseudo-terminal,
// an MQTT publisher) and which tag reads they report over time, either
// replayed from a reads file (docs/zones.md) or generated from scripted tag
// movements. The simulated readers themselves live beside their protocols
// (reader/llrp/llrpsim, reader/serial/serialsim, reader/mqtt/mqttsim) and
// register their kind with package reader; this package paces the reads
// and hands each one to the emulator of its reader.
package sim

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"

	"github.com/rfidgw/rfidgw/internal/keyed"
	"github.com/rfidgw/rfidgw/reader"
	_ "github.com/rfidgw/rfidgw/reader/all" // every simulated reader kind
)

// Sighting is a tag being read at one antenna during a step.
type Sighting struct {
	Reader  string  `mapstructure:"reader"`
	Antenna int     `mapstructure:"antenna"`
	RSSI    float64 `mapstructure:"rssi"` // mean dBm
	Rate    float64 `mapstructure:"rate"` // reads per second (default 7)
}

// Step is one stretch of a tag's scripted life: where it is read, from At for For.
type Step struct {
	At      time.Duration `mapstructure:"at"`
	For     time.Duration `mapstructure:"for"`
	Reader  string        `mapstructure:"reader"`
	Antenna int           `mapstructure:"antenna"`
	RSSI    float64       `mapstructure:"rssi"`
	Rate    float64       `mapstructure:"rate"`
	Also    []Sighting    `mapstructure:"also"` // cross-reads by other antennas
}

// Tag is one scripted tag.
type Tag struct {
	EPC   string `mapstructure:"epc"`
	Steps []Step `mapstructure:"steps"`
}

// Scenario is a `rfidgw sim` scenario file.
type Scenario struct {
	// Readers are the simulated readers, each decoded and checked by its
	// kind as registered in package reader (see reader/all).
	Readers []reader.SimEntry `mapstructure:"-"`
	Reads   string            `mapstructure:"reads"` // a reads file to replay (relative to the scenario file)
	Speed   float64           `mapstructure:"speed"` // 1 = recorded pace (default), 10 = ten times faster
	Loop    bool              `mapstructure:"loop"`
	Seed    int64             `mapstructure:"seed"`
	// StartDelay waits this long after the readers are up before playing,
	// so a gateway started alongside can connect first.
	StartDelay time.Duration `mapstructure:"start_delay"`
	Tags       []Tag         `mapstructure:"tags"`
	// Garbage is the share of reads after which the reader's emulator also
	// writes a malformed frame or payload (0.1: after 10% of the reads), for
	// testing that bad input is skipped without losing the good.
	Garbage float64 `mapstructure:"garbage"`

	dir         string
	garbageSent int
}

// GarbageWriter is implemented by emulators that can put a malformed frame
// or payload on their line (the scenario's garbage key).
type GarbageWriter interface {
	WriteGarbage(rng *rand.Rand) error
}

// GarbageSent is how many malformed frames Play wrote.
func (s *Scenario) GarbageSent() int { return s.garbageSent }

// Load reads and checks a scenario file. Problems come back as a
// *keyed.List, one "file: key.path: message" per line.
func Load(path string) (*Scenario, error) {
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", path, err)
	}
	var raw struct {
		Scenario `mapstructure:",squash"`
		Readers  []map[string]any `mapstructure:"readers"`
	}
	raw.Scenario = Scenario{Speed: 1, Seed: 1}
	p := &keyed.List{File: path}
	dec := keyed.Decoder{}
	if err := v.UnmarshalExact(&raw, func(dc *mapstructure.DecoderConfig) {
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(keyed.DurationHook(), mapstructure.StringToSliceHookFunc(","))
	}); err != nil {
		p.Items = append(p.Items, dec.Problems(err)...)
	}
	s := &raw.Scenario
	for i, entry := range raw.Readers {
		e, errs := reader.DecodeSimEntry(entry, dec)
		p.Items = append(p.Items, keyed.In(fmt.Sprintf("readers[%d]", i), errs)...)
		s.Readers = append(s.Readers, e)
	}
	s.dir = filepath.Dir(path)
	p.Items = append(p.Items, s.check()...)
	if len(p.Items) > 0 {
		return nil, p
	}
	return s, nil
}

// check checks what spans entries: tags, their readers, speed, garbage.
func (s *Scenario) check() []error {
	var errs []error
	ids := map[string]bool{}
	for _, r := range s.Readers {
		ids[r.ID] = true
	}
	if s.Reads == "" && len(s.Tags) == 0 {
		errs = append(errs, keyed.Errorf("", "give reads (a reads file) or tags (scripted movements)"))
	}
	for i, t := range s.Tags {
		if _, err := reader.NormalizeEPC(t.EPC); err != nil {
			errs = append(errs, keyed.Errorf(fmt.Sprintf("tags[%d].epc", i), "%v", err))
		}
		for j, st := range t.Steps {
			if !ids[st.Reader] {
				errs = append(errs, keyed.Errorf(fmt.Sprintf("tags[%d].steps[%d].reader", i, j), "unknown reader %q", st.Reader))
			}
			for k, a := range st.Also {
				if !ids[a.Reader] {
					errs = append(errs, keyed.Errorf(fmt.Sprintf("tags[%d].steps[%d].also[%d].reader", i, j, k), "unknown reader %q", a.Reader))
				}
			}
		}
	}
	if s.Garbage < 0 || s.Garbage >= 1 {
		errs = append(errs, keyed.Errorf("garbage", "%v must be at least 0 and below 1 (0.1 = after 10%% of the reads)", s.Garbage))
	}
	if s.Speed <= 0 {
		errs = append(errs, keyed.Errorf("speed", "must be positive"))
	}
	return errs
}

// Timeline returns every read of the scenario in time order, with times
// relative to the scenario's start (as offsets from the zero time.Time).
func (s *Scenario) Timeline() ([]reader.Read, error) {
	var out []reader.Read
	if s.Reads != "" {
		path := s.Reads
		if !filepath.IsAbs(path) {
			path = filepath.Join(s.dir, path)
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("reads: %w", err)
		}
		defer f.Close()
		var in io.Reader = f
		if strings.HasSuffix(path, ".gz") {
			zr, err := gzip.NewReader(f)
			if err != nil {
				return nil, fmt.Errorf("reads %s: %w", path, err)
			}
			in = zr
		}
		var t0 time.Time
		err = reader.ScanReads(in, func(n int, r reader.Read, perr error) error {
			if perr != nil {
				return fmt.Errorf("line %d: %w", n, perr)
			}
			if t0.IsZero() {
				t0 = r.Time
			}
			r.Time = time.Time{}.Add(r.Time.Sub(t0))
			out = append(out, r)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reads %s: %w", path, err)
		}
	}
	rng := rand.New(rand.NewSource(s.Seed))
	const step = 100 * time.Millisecond
	for _, tag := range s.Tags {
		epc, _ := reader.NormalizeEPC(tag.EPC)
		for _, st := range tag.Steps {
			sights := append([]Sighting{{Reader: st.Reader, Antenna: st.Antenna, RSSI: st.RSSI, Rate: st.Rate}}, st.Also...)
			for t := st.At; t < st.At+st.For; t += step {
				for _, si := range sights {
					rate := si.Rate
					if rate == 0 {
						rate = 7
					}
					if rng.Float64() >= rate*step.Seconds() {
						continue
					}
					rssi := si.RSSI + rng.NormFloat64()*2.5
					rssi = math.Round(math.Max(-90, math.Min(-25, rssi))*2) / 2
					out = append(out, reader.Read{
						Time:    time.Time{}.Add(t + time.Duration(rng.Int63n(int64(step)))),
						Reader:  si.Reader,
						Antenna: si.Antenna,
						EPC:     epc,
						RSSI:    rssi,
					})
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// Outage is implemented by emulators that can drop off like a real reader
// (a serial module unplugged, an LLRP reader refusing connections) and come
// back. Play calls it for the status lines of a reads file; emulators without
// it get status reads through Feed (an MQTT publisher sends them to its
// status topic).
type Outage interface {
	GoOffline()
	GoOnline() error
}

// Play paces the timeline at the scenario's speed and feeds each read to the
// emulator of its reader, stamped with the wall-clock time it is played at.
// It returns when the timeline ends (or loops until ctx ends with loop: true).
func (s *Scenario) Play(ctx context.Context, emus map[string]reader.Emulator) (int, error) {
	tl, err := s.Timeline()
	if err != nil {
		return 0, err
	}
	fed := 0
	grng := rand.New(rand.NewSource(s.Seed + 1))
	select {
	case <-ctx.Done():
		return 0, nil
	case <-time.After(s.StartDelay):
	}
	for {
		start := time.Now()
		for i := range tl {
			r := tl[i]
			em, ok := emus[r.Reader]
			if !ok {
				continue
			}
			due := start.Add(time.Duration(float64(r.Time.Sub(time.Time{})) / s.Speed))
			if wait := time.Until(due); wait > time.Millisecond {
				select {
				case <-ctx.Done():
					return fed, nil
				case <-time.After(wait):
				}
			}
			// Stamp the time the read was due, not when this goroutine got
			// to it: a scheduling delay must not bunch reads together.
			r.Time = due.UTC()
			if o, ok := em.(Outage); ok && r.IsStatus() {
				if r.Status == reader.StatusOffline {
					o.GoOffline()
				} else if err := o.GoOnline(); err != nil {
					return fed, fmt.Errorf("reader %s back online: %w", r.Reader, err)
				}
				continue
			}
			em.Feed(r)
			fed++
			if s.Garbage > 0 && grng.Float64() < s.Garbage {
				if g, ok := em.(GarbageWriter); ok && g.WriteGarbage(grng) == nil {
					s.garbageSent++
				}
			}
		}
		if !s.Loop || ctx.Err() != nil {
			return fed, nil
		}
	}
}
