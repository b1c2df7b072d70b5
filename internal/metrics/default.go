package metrics

// Default is the Metrics that the reader sources (reader/...) and the buffer
// (buffer/) still write to directly, through the package-level variables
// below, until they take a *Metrics like the uplink and the edge engine do
// (issue 18). The daemon passes Default to the gateway so that /metrics
// shows every stage; nothing else should use it.
var Default = New()

// Package-level handles into Default for reader/... and buffer/ only.
var (
	ReadsTotal        = Default.ReadsTotal
	ReaderConnected   = Default.ReaderConnected
	ReaderFrameErrors = Default.ReaderFrameErrors
	ReaderReconnects  = Default.ReaderReconnects

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
