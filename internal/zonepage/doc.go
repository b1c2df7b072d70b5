// Package zonepage owns the zone tuning page: a read-only web page, embedded
// in the binary, that shows live what each antenna sees, which tags the edge
// engine put in which zone, one tag's recent reads as an RSSI-over-time plot,
// the recent events and the buffer and uplink state. The facility team uses it
// to set zones by looking (docs/zone-page.md).
//
// The package defines the Model it reads from (the gateway implements it) and
// serves, through Handler:
//
//	GET /                 the page (HTML; CSS and JS under /static/)
//	GET /static/*         embedded assets
//	GET /api/readers      []ReaderView
//	GET /api/zones        zones with their tags; ?epc=HEX filters by EPC substring
//	GET /api/tag/{epc}    TagDetail
//	GET /api/events       recent events (docs/events.md JSON), newest first; ?limit=N
//	GET /api/uplink       UplinkView
//	GET /api/stream       server-sent events: "snapshot" (readers, zones, uplink)
//	                      and "events" (new events); ?epc=HEX filters server-side
//
// Every other method gets 405: the page changes nothing.
//
// The handler shields the pipeline from browsers: all requests and all stream
// clients share one snapshot of Readers, Zones, Uplink and Events that is
// refreshed at most once per Options.Interval, however many clients there are;
// Tag lookups are cached per EPC for the same interval and limited to
// Options.TagLookupsPerSec in total; the tags sent per zone and in all are
// capped (the rest is counted as "more"), and the number of streams is
// bounded. The handler never writes to what the Model returns.
//
// Helpers for the Model's implementer, so that it is a thin layer:
//
//	ReaderViews(cfg.Readers, cfg.Zones, online)  readers, antennas, zones they feed
//	ReadStats: Observe(reads) in Deliver; FillRates(now, views); TagReads(now, epc)
//	ZoneCollector: engine.Snapshot(now, c.Add) in the engine's owner goroutine;
//	    c.Collect() gives an immutable ZoneSnapshot with Zones() and Tag(epc)
//	EventLog: Add(committed events...); Recent(limit); ForTag(epc, limit)
//
// A Model in the gateway could then be:
//
//	Readers(): v := ReaderViews(...); stats.FillRates(now, v); return v
//	Zones():   ask the owner goroutine for a fresh ZoneSnapshot (the handler
//	           asks at most twice a second, so the owner only walks the
//	           engine while someone looks), keep it, return snap.Zones()
//	Tag(epc):  d, ok := lastSnap.Tag(epc); d.Reads = stats.TagReads(now, epc);
//	           d.Events = events.ForTag(epc, 20); d.At = now; return d, ok
//	Events(n): events.Recent(n)
//	Uplink():  from the buffer's and the forwarder's counters
//
// Wiring (cmd/rfidgw/run.go): gw.Handle("/", zonepage.Handler(model,
// zonepage.Options{Logger: log, Done: ctx.Done()})). Relative URLs are used
// throughout, so the page also works mounted under a prefix with
// http.StripPrefix. With an HTTP token the page is opened as /?token=T; the
// page passes the token on to its assets and API calls.
package zonepage
