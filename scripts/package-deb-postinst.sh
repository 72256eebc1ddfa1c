#!/bin/sh
# edge-agent .deb postinst: the service user, its groups and the config's permissions.
# The service is not started: /etc/edge-agent/config.json needs the device's connection string first.
set -e
if [ "$1" = configure ]; then
  if ! getent group edge-agent >/dev/null; then addgroup --system edge-agent >/dev/null; fi
  if ! getent passwd edge-agent >/dev/null; then
    adduser --system --ingroup edge-agent --home /var/lib/edge-agent --no-create-home --shell /usr/sbin/nologin --gecos 'edge-agent service' edge-agent >/dev/null
  fi
  # Serial ports (RS-485 adapters) belong to dialout.
  if getent group dialout >/dev/null; then adduser edge-agent dialout >/dev/null 2>&1 || true; fi
  # systemd creates /var/lib and /run/edge-agent for the user; the config dir stays root's,
  # readable by the service's group (it holds the device key).
  chgrp edge-agent /etc/edge-agent /etc/edge-agent/config.json
  chmod 0750 /etc/edge-agent
  chmod 0640 /etc/edge-agent/config.json
  if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
  echo "edge-agent: edit /etc/edge-agent/config.json, then: systemctl enable --now edge-agent"
  echo "edge-agent: technicians in group edge-agent may run 'edge-agent status' (usermod -aG edge-agent <user>)"
fi
exit 0
