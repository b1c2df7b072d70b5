// Package benche2e is the whole-daemon benchmark (`make bench-e2e`): the
// built rfidgw binary fed by simulated LLRP, serial (ThingMagic) and MQTT
// (Impinj JSON, QoS 1) readers, delivering to an in-process kfake broker.
// It prints reads/s, rfidgw CPU µs per read (utime+stime from /proc),
// peak RSS, read→Kafka latency percentiles and idle CPU. It lives behind
// the build tag benche2e, so `go test ./...` does not run it; see
// BENCH.md for the commands and the figures.
package benche2e
