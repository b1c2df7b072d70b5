package hub

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Handler is the hub's HTTP API: GET /assets/{epc}, /racks/{zone},
// /gateways, /metrics, /healthz and a plain page on /.
func (h *Hub) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /assets/{epc}", func(w http.ResponseWriter, r *http.Request) {
		epc := strings.ToUpper(r.PathValue("epc"))
		a, ok := h.view.Asset(epc)
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "unknown epc " + epc})
			return
		}
		writeJSON(w, http.StatusOK, a)
	})
	mux.HandleFunc("GET /racks/{zone}", func(w http.ResponseWriter, r *http.Request) {
		zone := r.PathValue("zone")
		writeJSON(w, http.StatusOK, map[string]any{"zone": zone, "epcs": h.view.Rack(zone)})
	})
	mux.HandleFunc("GET /gateways", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, h.audit.Gateways())
	})
	mux.HandleFunc("GET /metrics", h.metrics)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /{$}", h.page)
	return h.auth(mux)
}

// auth requires "Authorization: Bearer <token>" when a token is set.
func (h *Hub) auth(next http.Handler) http.Handler {
	if h.cfg.Token == "" {
		return next
	}
	want := []byte(h.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rfidgw-hub"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (h *Hub) metrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	t := h.audit.Totals()
	vs := h.view.Stats()
	gws := h.audit.Gateways()
	var open uint64
	for _, g := range gws {
		open += g.HolesOpen
	}
	m := func(name, typ, help string, v any) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", name, help, name, typ, name, v)
	}
	m("rfidgw_hub_events_total", "counter", "Events read by the audit (all partitions), duplicates included.", t.Events)
	m("rfidgw_hub_events_delivered_total", "counter", "Distinct events per gateway epoch.", t.Delivered)
	m("rfidgw_hub_duplicates_dropped_total", "counter", "Redelivered events dropped by the audit (same id, same content).", t.Duplicates)
	m("rfidgw_hub_missing_events", "gauge", "Seqs judged missing: neither delivered nor named by a gap event.", t.Missing)
	m("rfidgw_hub_gap_dropped_events", "gauge", "Seqs named by gap events (dropped by the gateway's buffer policy).", t.Gapped)
	m("rfidgw_hub_holes_open", "gauge", "Seqs not seen yet that are still in their grace time.", open)
	m("rfidgw_hub_late_events_total", "counter", "Events that arrived after they were judged missing.", t.Late)
	m("rfidgw_hub_gap_events_total", "counter", "Gap events received.", t.GapEvents)
	m("rfidgw_hub_rollbacks_total", "counter", "Rolled-back gateway streams detected (an id with other content, or a restart below the seen seqs).", t.Rollbacks+t.Conflicts)
	m("rfidgw_hub_gateways", "gauge", "Gateways seen.", len(gws))
	m("rfidgw_hub_assets", "gauge", "Assets in the view.", vs.Assets)
	m("rfidgw_hub_view_events_applied_total", "counter", "Movement events applied to asset timelines by this instance.", vs.Applied)
	m("rfidgw_hub_view_duplicates_dropped_total", "counter", "Events dropped by the view because the asset's history holds them.", vs.Duplicates)
	m("rfidgw_hub_order_regressions_total", "counter", "Events of an EPC that came after a later event of the same gateway epoch.", vs.Regressions)
	m("rfidgw_hub_cross_floor_moves_total", "counter", "rack_depart + placement on another gateway merged into one move.", vs.CrossFloor)
	m("rfidgw_hub_locations_published_total", "counter", "Messages written to the locations topic.", h.published.Load())
	m("rfidgw_hub_partitions_assigned", "gauge", "Events partitions this instance owns in the view's consumer group.", h.assigned.Load())
	bad := h.DeadLettered()
	fmt.Fprintf(w, "# HELP rfidgw_hub_dead_lettered_total Unusable messages sent to the dead-letter topic, by reason.\n# TYPE rfidgw_hub_dead_lettered_total counter\n")
	reasons := make([]string, 0, len(bad))
	for k := range bad {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	for _, k := range reasons {
		fmt.Fprintf(w, "rfidgw_hub_dead_lettered_total{reason=%q} %d\n", k, bad[k])
	}
	fmt.Fprintf(w, "# HELP rfidgw_hub_gateway_heartbeat_age_seconds Seconds since the gateway's last status.\n# TYPE rfidgw_hub_gateway_heartbeat_age_seconds gauge\n")
	for _, g := range gws {
		if g.LastHeartbeat != nil {
			fmt.Fprintf(w, "rfidgw_hub_gateway_heartbeat_age_seconds{gateway=%q} %.3f\n", g.Gateway, time.Since(*g.LastHeartbeat).Seconds())
		}
	}
	fmt.Fprintf(w, "# HELP rfidgw_hub_gateway_missing_events Seqs judged missing per gateway.\n# TYPE rfidgw_hub_gateway_missing_events gauge\n")
	for _, g := range gws {
		fmt.Fprintf(w, "rfidgw_hub_gateway_missing_events{gateway=%q} %d\n", g.Gateway, g.Missing)
	}
}

func (h *Hub) page(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	t := h.audit.Totals()
	vs := h.view.Stats()
	fmt.Fprintf(w, "rfidgw hub %s (instance %s)\n\n", h.Addr(), h.cfg.Instance)
	fmt.Fprintf(w, "events %d, distinct %d, duplicates dropped %d, missing %d, dropped by policy %d, rollbacks %d\n",
		t.Events, t.Delivered, t.Duplicates, t.Missing, t.Gapped, t.Rollbacks+t.Conflicts)
	fmt.Fprintf(w, "assets %d, cross-floor moves %d, order regressions %d\n\n", vs.Assets, vs.CrossFloor, vs.Regressions)
	fmt.Fprintf(w, "%-20s %-17s %-25s %8s %8s %8s %8s\n", "gateway", "epoch", "last heartbeat", "offline", "holes", "missing", "dups")
	for _, g := range h.audit.Gateways() {
		hb := "-"
		if g.LastHeartbeat != nil {
			hb = g.LastHeartbeat.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%-20s %-17s %-25s %8d %8d %8d %8d\n", g.Gateway, g.Epoch, hb, len(g.ReadersOffline), g.HolesOpen, g.Missing, g.Duplicates)
	}
	fmt.Fprintf(w, "\nGET /assets/{epc}  /racks/{zone}  /gateways  /metrics\n")
}
