package mqtt

import (
	"fmt"
	"strings"
)

// validFilter checks an MQTT topic filter: '+' and '#' only as whole
// levels, '#' only last.
func validFilter(key, f string) error {
	if f == "" {
		return fmt.Errorf("%w: %s: missing; want a topic such as rfid/+/events", ErrConfig, key)
	}
	if strings.ContainsRune(f, 0) {
		return fmt.Errorf("%w: %s: %q contains a NUL byte", ErrConfig, key, f)
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		switch {
		case l == "#" && i != len(levels)-1:
			return fmt.Errorf("%w: %s: %q: '#' must be the last level", ErrConfig, key, f)
		case l != "#" && l != "+" && strings.ContainsAny(l, "+#"):
			return fmt.Errorf("%w: %s: %q: '+' and '#' must fill a whole level (e.g. rfid/+/events)", ErrConfig, key, f)
		}
	}
	return nil
}

// topicMatch reports whether topic matches filter (MQTT 3.1.1 §4.7).
func topicMatch(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false // wildcards never match $SYS-style topics
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		if !fmore || !tmore {
			// "a/#" also matches "a".
			return fmore == tmore || (!tmore && frest == "#")
		}
		filter, topic = frest, trest
	}
}

// topicLevel returns the n-th (1-based) level of topic, or "".
func topicLevel(topic string, n int) string {
	for i := 1; ; i++ {
		l, rest, more := strings.Cut(topic, "/")
		if i == n {
			return l
		}
		if !more {
			return ""
		}
		topic = rest
	}
}
