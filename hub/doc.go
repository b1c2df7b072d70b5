// Package hub owns the central side of the fleet, the last stage after
// uplink: `rfidgw hub` consumes the movement events and gateway status of
// every gateway from Kafka and
//
//   - audits every gateway stream epoch with bounded memory (audit.go,
//     window.go): duplicates dropped by a high-water mark plus a window of
//     out-of-order seqs, holes held open while the gateway's status says it
//     still holds older events and judged missing once it has moved past
//     them (or after hole_timeout), gap events closing their ranges,
//     rollbacks (an id that comes back with other content) reported;
//   - keeps one timeline per asset across gateways (view.go): a rack_depart
//     on one gateway and a placement on another within cross_floor_window
//     are one cross-floor move; current locations go to the compacted
//     locations topic, from which every instance (and a restarted one)
//     rebuilds its state;
//   - sends what it cannot use to a dead-letter topic (kafka.go), never
//     blocking on it;
//   - serves the HTTP API and /metrics (http.go).
//
// The asset view runs as several instances in one consumer group
// (partitioned by EPC, the events' key); the audit is not sharded: each
// instance audits every partition (see docs/hub.md for why that scales).
// The only Kafka client is confluent-kafka-go.
package hub
