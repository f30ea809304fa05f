#!/usr/bin/env bash
# `make demo`: the shipped SpikeYOLO detector on the bundled demo recording. With a display it opens
# the viewer with the detector running; without one (CI, a server) it writes the detections (.npy in
# the Gen1 box dtype), a video of them, and screenshots of the viewer into demo-out/, and says where.
# The depth network runs beside the detector (it was trained on streets too); the gesture network is
# left off: it recognises hand gestures of a person facing a 128x128 camera, not street scenes.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
DEMO=spikesight/assets/demo/street.raw
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
    exec "$BIN/spikesight" app "$DEMO" --play --task detection --task depth
fi
OUT=demo-out
mkdir -p "$OUT"
echo "no display: rendering the demo offscreen into $OUT/"
"$BIN/spikesight" info "$DEMO" -q | tee "$OUT/info.txt"
"$BIN/spikesight" detect "$DEMO" --out "$OUT/detections.npy" --video "$OUT/detections.mp4" -q
for s in 2 5 8; do
    QT_QPA_PLATFORM=offscreen "$BIN/spikesight" app "$DEMO" --play --task detection --task depth --quit-after "$s" \
        --screenshot "$OUT/viewer-${s}s.png" 2>/dev/null
done
echo "wrote:"
ls -1 "$OUT" | sed "s|^|  $OUT/|"
