#!/bin/sh
# Debian packages the tests drive for real (sshd, QEMU, the Arm toolchain, PostgreSQL,
# Chromium and poppler for the report checks). Installed when we are root or have sudo;
# otherwise the command is printed and the tests that need a missing tool are skipped
# (or fail, with CI=true).
set -eu
PACKAGES="$(sed -e 's/#.*//' "$(dirname "$0")/system-packages.txt" | tr '\n' ' ')"
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: not a Debian/Ubuntu machine; install the equivalents of:$missing" >&2
  exit 0
fi
if [ "$(id -u)" = 0 ]; then SUDO=""; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
  echo "system-deps: run as root to install:$missing" >&2
  echo "  sudo apt-get install -y$missing" >&2
  exit 0
fi
echo "system-deps: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
