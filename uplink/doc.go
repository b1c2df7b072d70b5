// Package uplink owns the delivery of buffered events to Kafka and the tools
// that read them back.
//
// The Forwarder leases records from the buffer (Queue), produces them with an
// idempotent confluent-kafka-go producer (acks=all, compression, a bounded
// in-flight window) and acknowledges each record to the buffer only from a
// successful delivery report. The buffer, not librdkafka's queue, holds the
// backlog: librdkafka's message timeout is always infinite (a configured
// message.timeout.ms is the forwarder's own deadline for delivery reports,
// after which it recreates the producer), gaps inside librdkafka are fatal
// (enable.gapless.guarantee), and any failed delivery makes the forwarder stop, wait for every outstanding
// report, rewind the buffer and produce again from the oldest unacknowledged
// record, after a backoff with jitter. Fatal producer errors (an idempotent
// producer whose sequence no longer matches the broker's log) close and
// recreate the producer. Messages carry CloudEvents binary-mode headers and
// the id "<gateway>-<seq>" the hub dedupes by (docs/events.md).
//
// Wiring (internal/gateway):
//
//	fw, err := uplink.NewForwarder(cfg, gatewayID, queue, logger)
//	fw.SetStatusFunc(func() uplink.GatewayStatus { ... })   // heartbeat every cfg.Heartbeat
//	go fw.Run(ctx)                                           // returns nil when ctx ends
//	fw.Connected()                                           // for /readyz
//	fw.PublishStatus(s)                                      // e.g. when a reader goes offline
//
//	msg, err := uplink.Check(ctx, cfg)                       // `rfidgw check`
//	err = uplink.Tail(ctx, uplink.TailOptions{...}, os.Stdout, os.Stderr) // `rfidgw tail`
//
// Check and Tail also serve field techs; README.md describes the message
// format for the hub team.
package uplink
