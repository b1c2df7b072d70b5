// Package all registers every reader type of this build: import it for its
// side effect wherever readers are configured or started (the daemon, its
// config loading, `rfidgw check` and `rfidgw sim`). A new protocol is one
// folder under reader/ plus one import line here.
package all

import (
	_ "github.com/rfidgw/rfidgw/reader/file"   // type file
	_ "github.com/rfidgw/rfidgw/reader/llrp"   // type llrp
	_ "github.com/rfidgw/rfidgw/reader/mqtt"   // type mqtt
	_ "github.com/rfidgw/rfidgw/reader/serial" // type serial
)
