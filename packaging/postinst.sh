#!/bin/sh
# rfidgw postinst: create the rfidgw user, enable the service at boot.
# It does NOT start the service: the field tech edits
# /etc/rfidgw/gateway.yaml, runs `rfidgw check`, then starts it.
# On upgrade a running service is restarted onto the new binary.
set -e

UNIT=rfidgw.service
CONF=/etc/rfidgw/gateway.yaml

case "$1" in
configure) ;;
*) exit 0 ;; # abort-upgrade, abort-remove, ...: nothing to redo
esac
old_version="$2" # empty on a first install

# The user: systemd-sysusers reads our sysusers.d file; without systemd
# fall back to the shadow tools (same result).
if command -v systemd-sysusers >/dev/null 2>&1; then
	systemd-sysusers /usr/lib/sysusers.d/rfidgw.conf
elif ! getent passwd rfidgw >/dev/null 2>&1; then
	useradd --system --user-group --home-dir /var/lib/rfidgw --no-create-home \
		--shell /usr/sbin/nologin --comment "RFID edge gateway" rfidgw
	usermod --append --groups dialout rfidgw
fi

# StateDirectory= creates /var/lib/rfidgw at the first start; creating it now
# lets `sudo -u rfidgw rfidgw check` test it before the service ever ran.
if [ ! -d /var/lib/rfidgw ]; then
	install -d -o rfidgw -g rfidgw -m 0750 /var/lib/rfidgw
fi

# First install only: the config may hold credentials, so readable by the
# service's group and not by everyone. Later, the admin's choice stands.
if [ -z "$old_version" ] && [ -f "$CONF" ]; then
	chgrp rfidgw "$CONF"
	chmod 0640 "$CONF"
fi

if command -v systemctl >/dev/null 2>&1; then
	if [ -d /run/systemd/system ]; then
		systemctl daemon-reload || true
	fi
	if [ -z "$old_version" ]; then
		# Enable for boot; works without a running systemd (chroot, image build).
		systemctl enable "$UNIT" || true
	elif [ -d /run/systemd/system ]; then
		# Upgrade: only a service that was running is restarted (buffer kept).
		systemctl try-restart "$UNIT" || true
	fi
fi
exit 0
