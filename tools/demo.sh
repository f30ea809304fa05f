#!/usr/bin/env bash
# `make demo`: the viewer on the bundled demo recording. With a display it opens the window;
# without one (CI, a server) it renders the same view offscreen into demo-out/ and says where.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
DEMO=spikesight/assets/demo/street.raw
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    exec "$BIN/spikesight" app "$DEMO" --play
fi
OUT=demo-out
mkdir -p "$OUT"
echo "no display: rendering the demo offscreen into $OUT/"
"$BIN/spikesight" info "$DEMO" -q | tee "$OUT/info.txt"
"$BIN/spikesight" render "$DEMO" "$OUT/demo.mp4" --accumulation-ms 20 --fps 30 -q
for s in 2 5 8; do
    QT_QPA_PLATFORM=offscreen "$BIN/spikesight" app "$DEMO" --play --quit-after "$s" \
        --screenshot "$OUT/viewer-${s}s.png" 2>/dev/null
done
echo "wrote:"
ls -1 "$OUT" | sed "s|^|  $OUT/|"
