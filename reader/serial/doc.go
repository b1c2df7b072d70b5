// Package serial owns the readers on serial lines (USB-serial modules and
// ASCII line printers, `type: serial` in docs/config.md): the three wire protocols
// (ThingMagic Mercury, the R2000 "0xA0" protocol, ASCII lines), the
// connection to the tty through go.bug.st/serial with hot-plug handling, and
// a simulated module on a pseudo-terminal for `rfidgw sim` and the tests.
//
// # API (the daemon in internal/gateway builds it through the registry)
//
//	src, err := serial.New(cfg, reader.Env{Log: log, Metrics: m}) // cfg is a reader.Config with type: serial; errors wrap ErrConfig
//	err = src.Run(ctx, sink)         // reader.Source: reads until ctx ends, reconnects on its own
//	desc, err := src.Check(ctx)      // reader.Checker: one line for `rfidgw check`
//
//	sim, err := serialsim.New("thingmagic", log) // serial/serialsim; or "r2000", "ascii"; a pty pair
//	sim.Path()                  // the tty to put in the reader's `device:`
//	sim.Link("/run/rfidgw-sim/rack-row-a") // optional stable symlink, like /dev/serial/by-id
//	sim.WaitReading(ctx)        // returns once the gateway has started reading (Reading() reports it)
//	sim.Feed(read)              // reader.Emulator: the read as a frame (dropped unless Reading())
//	sim.Close()
//
// Config keys used: id, device (a path or a /dev/serial/by-id symlink,
// resolved again on every connection attempt), protocol (thingmagic | r2000 |
// ascii), baud (default 115200), antennas (optional: filters reads; also
// sets the ThingMagic antenna search list and the R2000 work-antenna cycle),
// region (thingmagic: NA2, EU3 …, set on connect when given) and pattern
// (ascii: a regular expression with named groups epc, antenna or antenna0,
// rssi; default DefaultASCIIPattern).
//
// # Behaviour
//
// ThingMagic: stop any continuous read left running, GET_VERSION, boot the
// firmware if the module sits in its bootloader, SET_REGION (if configured),
// SET_TAG_PROTOCOL GEN2, the antenna list (if configured), then continuous
// reading with metadata 0x01FF; keep-alives (status 0x0400) prove the line
// alive, 5 s of silence is a disconnect; on shutdown reading is stopped.
// R2000: get_firmware_version, then cmd_real_time_inventory re-issued back to
// back (one round each, cycling the work antenna over `antennas` when set);
// three unanswered rounds in a row are a disconnect. ASCII: one tag per line.
//
// Read.Time is the host's receive time (UTC, µs): the ThingMagic timestamp
// metadata is decoded (Tag.OffsetMs) but counts from a base that differs
// between firmwares, and the receive time is monotonic per reader.
//
// Framing is done by pure, incremental decoders (ThingMagicDecoder,
// R2000Decoder, ASCIIDecoder: Feed bytes, call Next until ErrIncomplete) that
// resynchronise after garbage, reassemble frames split across reads and take
// several frames from one read. Every skipped run of bytes, bad checksum or
// undecodable record increments rfidgw_reader_frame_errors_total{reader}.
//
// A read error, a hangup, the device node vanishing or the by-id link
// pointing elsewhere is a disconnect: a status Read "offline" is delivered,
// rfidgw_reader_connected{reader} drops to 0, and the port is reopened by
// reader.Supervise with backoff (250 ms doubling to 10 s, ±20 % jitter,
// reset after a connection that came online); on reconnect "online" is
// delivered and the gauge returns to 1.
package serial
