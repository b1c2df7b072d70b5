package metrics

// Default is the Metrics that the buffer (buffer/) still writes to directly,
// through the package-level variables below, until it takes a *Metrics like
// the readers, the edge engine and the uplink do (issue 18). The daemon
// passes Default to the gateway so that /metrics shows every stage; nothing
// else should use it.
var Default = New()

// Package-level handles into Default for buffer/ only.
var (
	EventsTotal = Default.EventsTotal

	BufferEvents        = Default.BufferEvents
	BufferBytes         = Default.BufferBytes
	BufferFileBytes     = Default.BufferFileBytes
	BufferCommitSeconds = Default.BufferCommitSeconds
	EventsDropped       = Default.EventsDropped
	BufferWriteErrors   = Default.BufferWriteErrors
	BufferCorruptFiles  = Default.BufferCorruptFiles
	BufferCompactions   = Default.BufferCompactions
	UplinkLagSeconds    = Default.UplinkLagSeconds
)
