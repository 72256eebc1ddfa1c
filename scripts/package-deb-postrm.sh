#!/bin/sh
# edge-agent .deb postrm: purge removes the config and the buffer (unsent data with it); the
# user stays, as Debian leaves system users in place.
set -e
if [ "$1" = purge ]; then
  rm -rf /etc/edge-agent /var/lib/edge-agent
fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || true; fi
exit 0
