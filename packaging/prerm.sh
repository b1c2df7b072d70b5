#!/bin/sh
# rfidgw prerm: on remove, stop the service (SIGTERM closes the buffer
# cleanly) and disable it. On upgrade it keeps running until postinst
# restarts it onto the new binary.
set -e

UNIT=rfidgw.service

case "$1" in
remove | deconfigure)
	if command -v systemctl >/dev/null 2>&1; then
		if [ -d /run/systemd/system ]; then
			systemctl stop "$UNIT" || true
		fi
		systemctl disable "$UNIT" || true
	fi
	;;
esac
exit 0
