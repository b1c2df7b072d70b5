// Package remoteconfig owns configuring a fleet of gateways from the centre:
// the signed config messages on a compacted Kafka topic (format, ed25519
// signing and verification, key files), what a gateway accepts and why it
// refuses, composing the remotely changeable sections (zones, filter, edge, readers)
// over the local file, applying them behind a health gate that rolls back to
// the last good config by itself, keeping that last good config in the data
// dir, and reporting what runs (version, hash, last result). It also holds
// the tools behind `rfidgw config keygen|push|status`.
//
// It never touches the gateway id, data dir, buffer, uplink or HTTP settings:
// a push cannot cut a gateway off from Kafka or from its operators.
//
// The pieces:
//
//   - keys.go: key files (PEM, PKCS#8 / PKIX), key ids.
//   - message.go: the envelope and payload, Sign and Verify, Sections.
//   - compose.go: local YAML + fleet layer + gateway layer -> one YAML.
//   - state.go: the last good layers, versions seen and last result, written
//     atomically to gateway.data_dir/remote-config.json.
//   - manager.go: the decisions (accept, refuse, apply, health gate, roll
//     back), local SIGHUP reloads, the report.
//   - consumer.go: the gateway's confluent-kafka-go consumer of the topic.
//   - tools.go: push (sign and publish) and fleet status (read the status
//     topic) for the command line.
package remoteconfig
