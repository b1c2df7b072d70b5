#!/bin/sh
# rfidgw postrm: forget the removed unit. /var/lib/rfidgw (the buffer, with
# events Kafka may not have acknowledged yet) and the rfidgw user are kept,
# even on purge: delete them by hand once the buffer is known to be empty.
set -e
case "$1" in
remove | purge)
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		systemctl daemon-reload || true
	fi
	;;
esac
exit 0
