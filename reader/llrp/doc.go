// Package llrp owns the connection to fixed RFID readers that speak LLRP
// (EPCglobal Low Level Reader Protocol 1.0.1, TCP 5084 or TLS 5085): the
// binary codec and the client session that turns RO_ACCESS_REPORTs into
// reader.Read (the simulated reader for `rfidgw sim` and tests is in
// llrp/llrpsim). It is written from the protocol tables of the LLRP standard
// (1.0.1 and 1.1, binary encoding; machine-readable in the LLRP Toolkit's
// llrp-1x0-def.xml), not on an LLRP library.
//
// Wiring (the daemon in internal/gateway builds it through the registry):
//
//	src, err := llrp.New(cfg, reader.Env{Log: logger, Metrics: m}) // cfg: a readers: entry with type llrp
//	// rfidgw run:   go src.Run(ctx, sink)  // reader.Source; returns nil when ctx ends
//	// rfidgw check: line, err := src.Check(ctx) // "Impinj model 2001002 firmware 5.14.0.240 antennas 4"
//
//	sim := llrpsim.New(llrpsim.Options{Antennas: 4}) // llrp/llrpsim
//	addr, err := sim.Listen("127.0.0.1:5084")
//	sim.Feed(reader.Read{Antenna: 1, EPC: "E280...", RSSI: -55}) // reader.Emulator
//	defer sim.Close()
//
// The session: connect (TCP or TLS), wait for the ConnectionAttemptEvent
// (a refusal, e.g. another client connected, is ErrConnectionRefused),
// ENABLE_EVENTS_AND_REPORTS, GET_READER_CAPABILITIES, SET_READER_CONFIG
// (factory reset + periodic keepalive), DELETE_ROSPEC 0, ADD_ROSPEC (one
// continuous inventory over the configured antennas, one report per tag),
// ENABLE_ROSPEC, START_ROSPEC; then KEEPALIVE_ACKs and one Sink.Deliver per
// RO_ACCESS_REPORT. Three keepalive intervals without any message mean a
// dead reader. Run reconnects under reader.Supervise with backoff 1 s ..
// 30 s (±20 % jitter), reset after a connection that was up 10 s or
// delivered reads, and delivers reader.StatusRead online/offline on every
// change (and offline after the first failed attempt). Metrics: rfidgw_reader_connected,
// rfidgw_reads_total, rfidgw_reader_frame_errors_total,
// rfidgw_reader_reconnects_total.
//
// Read times: the reader's LastSeen (else FirstSeen) timestamp, UTC or
// uptime. Uptime is anchored to the gateway clock; a UTC clock more than 2 s
// off is corrected to the gateway clock (logged once). See clock.go.
//
// Decoding: DecodeROAccessReport decodes into a reused []TagReport with one
// allocation per tag report (its EPC string).
package llrp
