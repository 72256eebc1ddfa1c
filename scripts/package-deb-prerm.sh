#!/bin/sh
# edge-agent .deb prerm: stop the service before its binary goes (SIGTERM: the buffer is flushed
# and closed; what is unsent stays in /var/lib/edge-agent).
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  systemctl disable --now edge-agent.service >/dev/null 2>&1 || true
fi
exit 0
