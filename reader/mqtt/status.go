package mqtt

import (
	"bytes"
	"strings"

	"github.com/rfidgw/rfidgw/reader"
)

// parseStatus reads a reader's own status message from its status (will)
// topic. Impinj sends plain text ("connected" as connectMessage, "connection
// lost" as will); Zebra sends JSON management events, of which a heartbeat
// means online. Other shapes found in the field: {"status":"online"},
// {"state":"offline"}, "1"/"0". ok is false for anything else, including an
// empty payload (a retained message being cleared).
func parseStatus(payload []byte) (st reader.Status, ok bool) {
	p := bytes.TrimSpace(payload)
	if len(p) == 0 {
		return "", false
	}
	if p[0] == '{' {
		return statusJSON(p)
	}
	if p[0] == '"' { // a bare JSON string
		var s scanner
		s.reset(p)
		v, err := s.str()
		if err != nil {
			return "", false
		}
		p = bytes.TrimSpace(v)
	}
	return statusWord(string(p))
}

func statusWord(w string) (reader.Status, bool) {
	switch strings.ToLower(w) {
	case "online", "connected", "connect", "up", "running", "alive", "true", "1", "heartbeat", "ready":
		return reader.StatusOnline, true
	case "offline", "connection lost", "disconnected", "disconnect", "lost", "down", "dead", "false", "0", "unavailable":
		return reader.StatusOffline, true
	}
	return "", false
}

// statusJSON looks at the top-level keys status, state, connection and type.
func statusJSON(p []byte) (reader.Status, bool) {
	var s scanner
	s.reset(p)
	s.pos++
	var found reader.Status
	for n := 0; ; n++ {
		key, more, err := s.member(n)
		if err != nil {
			return "", false
		}
		if !more {
			break
		}
		k := strings.ToLower(string(key))
		if (k == "status" || k == "state" || k == "connection" || k == "type") && s.peek() == '"' {
			v, err := s.str()
			if err != nil {
				return "", false
			}
			if st, ok := statusWord(string(v)); ok && (found == "" || k != "type") {
				found = st
			}
			continue
		}
		if err := s.skip(1); err != nil {
			return "", false
		}
	}
	return found, found != ""
}
