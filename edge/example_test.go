package edge_test

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/rfidgw/rfidgw/edge"
	"github.com/rfidgw/rfidgw/reader"
)

// The owner's loop in miniature: a tag read in rack A01 for 8 seconds is
// placed there once dwell has passed; its state change is what the owner
// persists with the event.
func ExampleEngine() {
	eng, err := edge.New(edge.Config{
		Zones: []edge.Zone{{
			ID: "rack-A01", Kind: edge.KindRack, Floor: "3", Room: "3.1", Row: "A", Rack: "01",
			Antennas: []edge.AntennaRef{{Reader: "rack-row-a", Antennas: []int{1}}},
		}},
		Settings: edge.DefaultSettings(),
		Logger:   slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	t0 := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	var events []edge.Event
	for at := time.Duration(0); at < 8*time.Second; at += 200 * time.Millisecond {
		r := reader.Read{Time: t0.Add(at), Reader: "rack-row-a", Antenna: 1, EPC: "E28011606000020D8F3A1B2C", RSSI: -50}
		events = eng.Tick(events, r.Time) // the daemon's ticker does this every 100 ms..1 s
		events = eng.Process(events, &r)
	}
	for _, ev := range events {
		fmt.Println(ev.Type, ev.EPC, ev.From == nil, ev.To.Zone, ev.Time.Format("15:04:05.000"))
	}
	fmt.Println(eng.TakeStateChanges(nil))
	// Output:
	// rack_move E28011606000020D8F3A1B2C true rack-A01 08:00:05.200
	// [{E28011606000020D8F3A1B2C rack-A01}]
}
