package mqtt

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rfidgw/rfidgw/reader"
)

// Single-read payloads as the readers send them (Impinj with the default
// base64 epc plus epcHex, Zebra with typical metadata).
var benchPayloads = map[string]string{
	FormatImpinj: `{"timestamp":"2026-11-25T10:00:00.123456789Z","hostname":"impinj-14-4a-8b","eventType":"tagInventory","tagInventoryEvent":{"epc":"4oARYGAAAg2POhss","epcHex":"E28011606000020D8F3A1B2C","antennaPort":3,"antennaName":"Antenna 3","peakRssiCdbm":-5250,"frequency":920250,"transmitPowerCdbm":3000,"lastSeenTime":"2026-11-25T10:00:00.120000Z","phaseAngle":69.00}}`,
	FormatZebra:  `{"type":"SIMPLE","timestamp":"2026-11-25T10:00:00.123+0000","data":{"eventNum":231,"format":"epc","idHex":"e28011606000020d8f3a1b2c","antenna":3,"peakRssi":-52,"reads":2,"channel":915.75,"phase":0.0,"PC":"3000","CRC":"1a2b","MAC":"C4:7D:CC:FF:FF:FF"}}`,
	FormatJSON:   `{"time":"2026-11-25T10:00:00.123456Z","reader":"dock-door-1","antenna":3,"epc":"E28011606000020D8F3A1B2C","rssi":-52.5}`,
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
		dst, err = Parse(format, p, now, dst[:0])
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
	for _, f := range []string{FormatImpinj, FormatZebra, FormatJSON} {
		b.Run(f, func(b *testing.B) { benchParse(b, f, benchPayloads[f], 1) })
	}
}

// A Zebra batching array of 50 events (batching on in the IoT Connector).
func BenchmarkParseZebraArray50(b *testing.B) {
	one := benchPayloads[FormatZebra]
	benchParse(b, FormatZebra, "["+strings.TrimSuffix(strings.Repeat(one+",", 50), ",")+"]", 50)
}
