package mqtt_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/reader"
	"github.com/rfidgw/rfidgw/reader/mqtt"
	"github.com/rfidgw/rfidgw/reader/mqtt/mqttsim"
)

// Single-read payloads as the readers send them (Impinj with the default
// base64 epc plus epcHex, Zebra with typical metadata).
var benchPayloads = map[string]string{
	mqtt.FormatImpinj: `{"timestamp":"2026-11-25T10:00:00.123456789Z","hostname":"impinj-14-4a-8b","eventType":"tagInventory","tagInventoryEvent":{"epc":"4oARYGAAAg2POhss","epcHex":"E28011606000020D8F3A1B2C","antennaPort":3,"antennaName":"Antenna 3","peakRssiCdbm":-5250,"frequency":920250,"transmitPowerCdbm":3000,"lastSeenTime":"2026-11-25T10:00:00.120000Z","phaseAngle":69.00}}`,
	mqtt.FormatZebra:  `{"type":"SIMPLE","timestamp":"2026-11-25T10:00:00.123+0000","data":{"eventNum":231,"format":"epc","idHex":"e28011606000020d8f3a1b2c","antenna":3,"peakRssi":-52,"reads":2,"channel":915.75,"phase":0.0,"PC":"3000","CRC":"1a2b","MAC":"C4:7D:CC:FF:FF:FF"}}`,
	mqtt.FormatJSON:   `{"time":"2026-11-25T10:00:00.123456Z","reader":"dock-door-1","antenna":3,"epc":"E28011606000020D8F3A1B2C","rssi":-52.5}`,
}

func benchParse(b *testing.B, format, payload string, readsPer int) {
	p := []byte(payload)
	now := time.Now()
	dst := make([]reader.Read, 0, readsPer)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		var err error
		dst, err = mqtt.Parse(format, p, now, dst[:0])
		if err != nil || len(dst) != readsPer {
			b.Fatalf("%v, %d reads", err, len(dst))
		}
	}
	// The build box is shared (load far above its cores), so wall time
	// overstates the cost; process CPU time per payload (with -cpu 1, GC
	// included) gives the per-core rate.
	cpu := (cpuTime() - cpu0).Seconds()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payloads/s")
	if cpu > 0 {
		b.ReportMetric(cpu*1e9/float64(b.N), "cpu-ns/op")
		b.ReportMetric(float64(b.N)/cpu, "payloads/cpu-s")
		b.ReportMetric(float64(b.N*readsPer)/cpu, "reads/cpu-s")
	}
}

// cpuTime is the CPU time (user+system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkParseSingle(b *testing.B) {
	for _, f := range []string{mqtt.FormatImpinj, mqtt.FormatZebra, mqtt.FormatJSON} {
		b.Run(f, func(b *testing.B) { benchParse(b, f, benchPayloads[f], 1) })
	}
}

// A Zebra batching array of 50 events (batching on in the IoT Connector).
func BenchmarkParseZebraArray50(b *testing.B) {
	one := benchPayloads[mqtt.FormatZebra]
	benchParse(b, mqtt.FormatZebra, "["+strings.TrimSuffix(strings.Repeat(one+",", 50), ",")+"]", 50)
}

// countingSink counts tag reads and signals when want were delivered.
type countingSink struct {
	n, want int
	done    chan struct{}
}

func (c *countingSink) Deliver(_ context.Context, reads []reader.Read) error {
	for i := range reads {
		if !reads[i].IsStatus() {
			c.n++
		}
	}
	if c.n >= c.want && c.want > 0 {
		close(c.done)
		c.want = 0
	}
	return nil
}

// End to end through a real mosquitto: QoS 1 messages of one Zebra read
// each, published ahead (queued in the gateway's persistent session), then
// drained by Run with acks after Deliver. Measures the gateway side.
func BenchmarkSourceThroughMosquitto(b *testing.B) {
	br := startBroker(b, brokerOpts{})
	cfg := reader.Config{ID: "bench", Type: reader.TypeMQTT, Settings: &mqtt.Settings{Broker: br.URL, Topic: "bench/events", Format: mqtt.FormatZebra}}
	src, err := mqtt.New(cfg, reader.Env{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	// Create the persistent session, then stop so messages queue up.
	ctx, cancel := context.WithCancel(context.Background())
	sink := &countingSink{done: make(chan struct{})}
	on := watchOnline(sink, "bench")
	ran := make(chan error, 1)
	go func() { ran <- src.Run(ctx, on) }()
	<-on.online
	cancel()
	if err := <-ran; err != nil {
		b.Fatal(err)
	}

	pub, err := mqttsim.New(mqttsim.Options{Broker: br.URL, Topic: "bench/events", Format: mqtt.FormatZebra, ClientID: "bench-pub", Queue: b.N + 1})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		pub.Feed(reader.Read{Time: t0, Reader: "bench", Antenna: 1, EPC: fmt.Sprintf("%024X", i), RSSI: -50})
	}
	if err := pub.Close(); err != nil {
		b.Fatal(err)
	}

	sink = &countingSink{want: b.N, done: make(chan struct{})}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	b.ResetTimer()
	cpu0 := cpuTime()
	go src.Run(ctx, sink)
	<-sink.done
	b.StopTimer()
	cpu := (cpuTime() - cpu0).Seconds()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu, "msgs/cpu-s(gateway+paho)")
	}
}
