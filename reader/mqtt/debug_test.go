package mqtt

import (
	"log"
	"os"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// PAHO_DEBUG=1 go test … prints paho's own trace, for chasing ack/session issues.
func init() {
	if os.Getenv("PAHO_DEBUG") != "" {
		paho.DEBUG = log.New(os.Stderr, "PAHO ", 0)
		paho.ERROR = log.New(os.Stderr, "PAHOERR ", 0)
	}
}
