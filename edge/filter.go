package edge

import (
	"github.com/rfidgw/rfidgw/internal/gs1"
	"github.com/rfidgw/rfidgw/reader"
)

// ReasonFilter is the rfidgw_reads_ignored_total reason of reads a
// ReadFilter drops.
const ReasonFilter = "filter"

// ReadFilter drops reads of foreign tags before the engine sees them: the
// gateway-wide accept/ignore lists (Config.Accept, Config.Ignore, key
// `filter:`) and then the lists of the zone the read's (reader, antenna)
// belongs to (zones[].accept, zones[].ignore). A read passes when it passes
// both. Status lines always pass. The owner of the engine calls Allows
// before Process and counts what it drops (reason "filter"); replay does the
// same, so it shows what the gateway would emit. Allows is safe for
// concurrent use and costs a map lookup per read once an EPC was seen.
type ReadFilter struct {
	gw     *gs1.Filter
	zones  []*gs1.Filter // by zone index
	routes map[string]*routeTable
}

// NewReadFilter compiles the filters of c; nil (everything passes) when c
// has none. It fails on what Config.Validate reports.
func NewReadFilter(c Config) (*ReadFilter, error) {
	l, err := compile(c)
	if err != nil {
		return nil, err
	}
	f := &ReadFilter{routes: l.routes, zones: make([]*gs1.Filter, len(c.Zones))}
	any := false
	if f.gw, err = gs1.NewFilter(c.Accept, c.Ignore); err != nil {
		return nil, err
	}
	any = f.gw != nil
	for i := range c.Zones {
		if f.zones[i], err = gs1.NewFilter(c.Zones[i].Accept, c.Zones[i].Ignore); err != nil {
			return nil, err
		}
		any = any || f.zones[i] != nil
	}
	if !any {
		return nil, nil
	}
	return f, nil
}

// Allows reports whether r passes the filters. A nil ReadFilter allows all.
func (f *ReadFilter) Allows(r *reader.Read) bool {
	if f == nil || r.IsStatus() {
		return true
	}
	if !f.gw.Allows(r.EPC) {
		return false
	}
	t := f.routes[r.Reader]
	if t == nil {
		return true
	}
	rt := t.all
	if r.Antenna >= 0 && r.Antenna < len(t.byAntenna) && t.byAntenna[r.Antenna].zone >= 0 {
		rt = t.byAntenna[r.Antenna]
	}
	if rt.zone < 0 {
		return true
	}
	return f.zones[rt.zone].Allows(r.EPC)
}
