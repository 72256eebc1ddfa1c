#!/bin/sh
# Installs edge-agent on a machine without dpkg: the same files and setup as the .deb.
#
#   npm run package                    # on the build machine
#   sudo scripts/install.sh            # here, from a checkout or an unpacked dist/package
#
# Options: --from DIR (default: dist/package/linux-<arch> next to this script).
# DESTDIR=/some/root installs into a staging root instead (files only: no user, no systemctl).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "install.sh: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
from=""
while [ $# -gt 0 ]; do
  case "$1" in
    --from) from=$2; shift 2 ;;
    -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$from" ] || from="$here/../dist/package/linux-$arch"
[ -x "$from/edge-agent" ] || { echo "install.sh: no edge-agent in $from (run npm run package, or give --from DIR)" >&2; exit 1; }
repo=$(cd "$here/.." && pwd)
unit="$repo/config/edge-agent.service"
config="$repo/config/edge-agent.json"
[ -f "$unit" ] && [ -f "$config" ] || { echo "install.sh: config/edge-agent.service and config/edge-agent.json are needed beside scripts/" >&2; exit 1; }

root=${DESTDIR:-}
if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then echo "install.sh: run as root (or set DESTDIR to stage into a directory)" >&2; exit 1; fi

install -d -m 0755 "$root/usr/lib/edge-agent" "$root/usr/bin" "$root/lib/systemd/system"
cp -R "$from/." "$root/usr/lib/edge-agent/"
ln -sf ../lib/edge-agent/edge-agent "$root/usr/bin/edge-agent"
install -m 0644 "$unit" "$root/lib/systemd/system/edge-agent.service"
install -d -m 0750 "$root/etc/edge-agent"
if [ -e "$root/etc/edge-agent/config.json" ]; then
  echo "install.sh: keeping the existing /etc/edge-agent/config.json"
else
  install -m 0640 "$config" "$root/etc/edge-agent/config.json"
fi

if [ -n "$root" ]; then
  echo "install.sh: staged into $root (no user created, systemd not told: DESTDIR install)"
  exit 0
fi

# The service user and groups, with whatever this system has (shadow's useradd or busybox adduser).
if ! getent group edge-agent >/dev/null 2>&1; then
  if command -v groupadd >/dev/null; then groupadd --system edge-agent; else addgroup -S edge-agent; fi
fi
if ! getent passwd edge-agent >/dev/null 2>&1; then
  if command -v useradd >/dev/null; then
    useradd --system --gid edge-agent --home-dir /var/lib/edge-agent --no-create-home --shell /usr/sbin/nologin edge-agent
  else
    adduser -S -D -H -h /var/lib/edge-agent -s /sbin/nologin -G edge-agent edge-agent
  fi
fi
if getent group dialout >/dev/null 2>&1; then
  if command -v usermod >/dev/null; then usermod -aG dialout edge-agent; else addgroup edge-agent dialout; fi
fi
chgrp edge-agent /etc/edge-agent /etc/edge-agent/config.json
if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
echo "install.sh: installed. Edit /etc/edge-agent/config.json, then: systemctl enable --now edge-agent"
