package sdnotify

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// maxOfflineNames caps the reader ids listed in a status line: systemctl
// shows one line, and a floor with every reader down needs no full list.
const maxOfflineNames = 3

// StatusLine formats the STATUS= text of `systemctl status rfidgw` from the
// readers' state (id -> online, e.g. Gateway.ReadersOnline()), the buffer
// depth and the uplink lag (age of the oldest event not yet in Kafka):
//
//	readers 2/3 online (offline: rack-row-a), buffer 120 events, lag 2s
func StatusLine(readers map[string]bool, bufferEvents int64, lag time.Duration) string {
	var offline []string
	for id, up := range readers {
		if !up {
			offline = append(offline, id)
		}
	}
	sort.Strings(offline)
	var b strings.Builder
	fmt.Fprintf(&b, "readers %d/%d online", len(readers)-len(offline), len(readers))
	if len(offline) > 0 {
		shown := offline
		if len(shown) > maxOfflineNames {
			shown = shown[:maxOfflineNames]
		}
		fmt.Fprintf(&b, " (offline: %s", strings.Join(shown, ", "))
		if more := len(offline) - len(shown); more > 0 {
			fmt.Fprintf(&b, " +%d more", more)
		}
		b.WriteString(")")
	}
	if lag < 0 {
		lag = 0
	}
	fmt.Fprintf(&b, ", buffer %d events, lag %s", bufferEvents, lag.Round(time.Second))
	return b.String()
}
