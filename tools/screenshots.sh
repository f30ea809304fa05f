#!/usr/bin/env bash
# Screenshots of the real spikesight window under a virtual X server (Xvfb), with pixel checks.
#
#   tools/screenshots.sh [SOURCE] [OUTDIR]
#
# SOURCE defaults to the bundled demo recording (spikesight/assets/demo/street.raw) or, without it,
# tests/data/evk4_evt3_prefix.raw; OUTDIR defaults to screenshots/. On Debian/Ubuntu it installs
# Xvfb, ImageMagick and the xcb libraries Qt needs when they are missing (needs root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
SOURCE=${1:-}
OUT=${2:-screenshots}
if [ -z "$SOURCE" ]; then
    SOURCE=spikesight/assets/demo/street.raw
    [ -f "$SOURCE" ] || SOURCE=tests/data/evk4_evt3_prefix.raw
fi

PKGS="xvfb imagemagick libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
      libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libegl1 libgl1
      libfontconfig1 libdbus-1-3"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "installing:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

# a free display number
N=99
while [ -e "/tmp/.X11-unix/X$N" ] || [ -e "/tmp/.X$N-lock" ]; do N=$((N + 1)); done
Xvfb ":$N" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
XVFB_PID=$!
trap 'kill "$XVFB_PID" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$N" ] && break; sleep 0.1; done

DISPLAY=":$N" QT_QPA_PLATFORM=xcb "$PY" tools/screenshots.py "$SOURCE" "$OUT" \
    --root-command "import -window root"
