// Package all registers every reader type of this build and its simulated
// reader: import it for its side effect wherever readers are configured,
// started or simulated (config loading, the daemon, `rfidgw check`, `rfidgw
// sim`). A new protocol is one folder under reader/ (with its sim
// sub-package) plus its import lines here.
package all

import (
	_ "github.com/rfidgw/rfidgw/reader/file"             // type file
	_ "github.com/rfidgw/rfidgw/reader/llrp"             // type llrp
	_ "github.com/rfidgw/rfidgw/reader/llrp/llrpsim"     // sim kind llrp
	_ "github.com/rfidgw/rfidgw/reader/mqtt"             // type mqtt
	_ "github.com/rfidgw/rfidgw/reader/mqtt/mqttsim"     // sim kind mqtt
	_ "github.com/rfidgw/rfidgw/reader/serial"           // type serial
	_ "github.com/rfidgw/rfidgw/reader/serial/serialsim" // sim kind serial
)
