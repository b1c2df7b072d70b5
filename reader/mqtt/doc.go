// Package mqtt owns the readers that publish tag reads to an MQTT broker:
// the Impinj IoT device interface (R700/R720, `format: impinj`), the Zebra
// IoT Connector (FX7500/FX9600/ATR7000, `format: zebra`) and any JSON with a
// field mapping (`format: json`). It owns the subscription, the payload
// parsers, at-least-once acknowledgement towards the broker, reader
// online/offline from the broker connection and the reader's own status
// topic. The publisher that plays simulated reads in a vendor's format is
// in mqtt/mqttsim.
//
// The type registers itself as "mqtt" with package reader (config.go:
// Settings, Validate); the daemon builds it through the registry. Direct API:
//
//	src, err := mqtt.New(cfg, reader.Env{GatewayID: gw, Log: log, Metrics: m}) // cfg: a readers: entry of type mqtt
//	err = src.Run(ctx, sink)                                 // reader.Source
//	line, err := src.Check(ctx)                              // reader.Checker, for `rfidgw check`
//
//	pub, err := mqttsim.New(mqttsim.Options{Broker: …, Topic: "rfid/{reader}/events", Format: "zebra"})
//	pub.Feed(read); pub.Close()                              // reader.Emulator, for `rfidgw sim`
//
//	reads, err := mqtt.Parse("impinj", payload, receivedAt, reads[:0]) // pure, for tools and fuzzing
//
// Delivery: the session is persistent (clean session off, a fixed client
// id, default "rfidgw-<gateway>-<reader id>") with QoS 1, and paho's
// automatic acks are off. A message's PUBACK is sent only after
// Sink.Deliver returned nil for the batch holding its reads, in the order
// the messages arrived, so a crash, a lost connection or a refusing sink
// leaves the message with the broker, which sends it again. Reads can
// therefore arrive twice, never not at all (while the broker keeps the
// session: mosquitto needs persistence on and a max_queued_messages large
// enough for the longest gateway outage).
//
// Payloads that cannot be decoded (not JSON, no epc, wrong types) are
// counted in rfidgw_reader_frame_errors_total, logged at most once per 10 s
// per reader with a sample, and acked: they never block the session.
package mqtt
