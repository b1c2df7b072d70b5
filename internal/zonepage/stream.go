package zonepage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// streamWriteTimeout drops a client that cannot take a message within this
// long; its goroutine is the only thing it could hold up.
const streamWriteTimeout = 10 * time.Second

// stream serves /api/stream: server-sent events with a "snapshot" message
// (readers, zones cut to the caps and filtered by ?epc=, uplink) once per
// Interval (a new shared snapshot each time, which also keeps proxies and
// SSH tunnels from timing the stream out), and an "events" message
// with the events the client has not seen yet ({"reset":true} replaces the
// client's list).
func (s *server) stream(w http.ResponseWriter, r *http.Request) {
	filter, err := parseFilter(r.URL.Query().Get("epc"))
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("query parameter epc: %w", err))
		return
	}
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("too many open zone pages (%d): close one or retry later", cap(s.streams)))
		return
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "text/event-stream")
		return
	}

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // a reverse proxy must not hold messages back
	w.WriteHeader(http.StatusOK)

	var (
		buf        bytes.Buffer
		lastSeq    uint64
		lastEvent  []byte
		firstRound = true
	)
	write := func() error {
		if buf.Len() == 0 {
			return nil
		}
		// Not supported by every ResponseWriter (e.g. in tests): then the
		// server's own timeouts apply.
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		_, err := w.Write(buf.Bytes())
		buf.Reset()
		if err == nil {
			err = rc.Flush()
		}
		return err
	}
	buf.WriteString("retry: 2000\n\n") // reconnect quickly after a daemon restart

	tick := time.NewTicker(s.opts.Interval)
	defer tick.Stop()
	for {
		sn := s.snaps.get()
		if sn.seq != lastSeq {
			lastSeq = sn.seq
			p, err := sn.payload(filter, true, s.opts.MaxTagsPerZone, s.opts.MaxTags)
			if err != nil {
				s.log.Error("zonepage: stream snapshot", "err", err)
				return
			}
			writeSSE(&buf, "snapshot", p)
			fresh, reset := newEvents(sn.events, lastEvent)
			if len(fresh) > 0 || reset && (firstRound || lastEvent != nil) {
				p, err := json.Marshal(eventsMessage{Reset: reset, Events: nonNil(fresh)})
				if err != nil {
					s.log.Error("zonepage: stream events", "err", err)
					return
				}
				writeSSE(&buf, "events", p)
			}
			if len(sn.events) > 0 {
				lastEvent = sn.events[0]
			} else {
				lastEvent = nil
			}
			firstRound = false
		}
		if err := write(); err != nil {
			s.log.Debug("zonepage: stream client gone", "remote", r.RemoteAddr, "err", err)
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.opts.Done:
			return
		case <-tick.C:
		}
	}
}

type eventsMessage struct {
	Reset  bool              `json:"reset"`
	Events []json.RawMessage `json:"events"`
}

// writeSSE appends one server-sent event. data is compact JSON, so it is a
// single line (encoding/json escapes U+2028 and U+2029 too).
func writeSSE(buf *bytes.Buffer, event string, data []byte) {
	buf.WriteString("event: ")
	buf.WriteString(event)
	buf.WriteString("\ndata: ")
	buf.Write(data)
	buf.WriteString("\n\n")
}
