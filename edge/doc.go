// Package edge owns the turning of raw tag reads into movement events: zones
// (gates and racks), smoothing (min_rssi, min_reads within presence_window,
// lost_after), gate direction, rack moves and departures, and reader health.
//
// The Engine is pure: it has no goroutines and no clock of its own. A single
// owner feeds it reads and the current time and collects the events it
// returns; the same input gives the same events, byte for byte, which is what
// `rfidgw replay` relies on.
package edge
