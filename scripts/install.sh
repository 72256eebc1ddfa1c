#!/bin/sh
# Installs edge-agent on a machine without dpkg: the same files and setup as the .deb.
#
#   npm run package                    # on the build machine
#   sudo scripts/install.sh            # here, from a checkout or an unpacked dist/package
#
# Options: --from DIR (default: dist/package/linux-<arch> next to this script).
# DESTDIR=/some/root installs into a staging root instead (files only: no user, no systemctl).
#
# Over an installed edge-agent, every file is written beside its target and renamed over it: a
# running agent keeps the inode it executes (writing into it would fail with "Text file busy"),
# and a restart at any moment finds either the old file or the new one, never half of one.
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
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
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

# put MODE SRC DEST: SRC to DEST.install-new beside it, then rename(2) over DEST.
put() {
  install -d -m 0755 "$(dirname "$3")"
  install -m "$1" "$2" "$3.install-new"
  mv -f "$3.install-new" "$3"
}
lib="$root/usr/lib/edge-agent"
install -d -m 0755 "$lib" "$root/usr/bin" "$root/lib/systemd/system"
(cd "$from" && find . -type f) | while IFS= read -r f; do
  f=${f#./}
  if [ "$f" = edge-agent ]; then mode=0755; else mode=0644; fi
  put "$mode" "$from/$f" "$lib/$f"
done
# What the previous version had and this one has not (an addon for a libc we no longer ship).
(cd "$lib" && find . -type f) | while IFS= read -r f; do
  [ -e "$from/${f#./}" ] || rm -f "$lib/${f#./}"
done
ln -sfn ../lib/edge-agent/edge-agent "$root/usr/bin/edge-agent.install-new"
mv -f "$root/usr/bin/edge-agent.install-new" "$root/usr/bin/edge-agent"
put 0644 "$unit" "$root/lib/systemd/system/edge-agent.service"
put 0644 "$repo/scripts/debian/sysusers.conf" "$root/usr/lib/sysusers.d/edge-agent.conf"
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

# The service user and groups: from the sysusers.d file as the .deb does, or, without
# systemd-sysusers, with whatever this system has (shadow's useradd or busybox adduser).
if command -v systemd-sysusers >/dev/null; then
  systemd-sysusers edge-agent.conf
fi
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
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  # As the .deb's upgrade does: a running agent moves onto the new binary, a stopped one stays stopped.
  if systemctl --quiet is-active edge-agent.service; then
    systemctl try-restart edge-agent.service
    echo "install.sh: upgraded and restarted edge-agent"
    exit 0
  fi
fi
echo "install.sh: installed. Edit /etc/edge-agent/config.json, then: systemctl enable --now edge-agent"
