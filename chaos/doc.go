// Package chaos is the fault-injection suite of the delivery guarantee
// (docs/events.md, "Delivery"; issue 10). Its tests run the real binaries on loopback — the
// gateway (`rfidgw run`), simulated readers of all three kinds (`rfidgw sim`:
// LLRP, a ThingMagic module on a pty, an Impinj MQTT publisher through a real
// Mosquitto) and the dev Kafka broker (`devkafka`) — play a slice of the
// busy_floor scenario, inject one fault per run (SIGKILLs, Kafka outages and
// log loss, reader drops, a full buffer under both policies, a full disk,
// malformed frames, SIGHUP reloads), read the topic from the beginning and
// print one row per run: events expected, delivered, missing, duplicates,
// gaps reported, per-EPC order violations, max lag and peak RSS.
//
// `go test ./chaos/` runs the short form (>= 20 kills, one outage, a few
// minutes); `go test ./chaos/ -run . -v -timeout 60m -args -chaos.full` the
// full one. docs/reliability.md explains what each run may honestly expect.
// The package has no non-test API.
package chaos
