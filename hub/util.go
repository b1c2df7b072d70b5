package hub

import "strconv"

func utoa(v uint64) string { return strconv.FormatUint(v, 10) }
