"""Synthetic event data with ground truth: scenes rendered, then turned into events by the emulator.

Scene families (one module each): :mod:`.street` (detection, Gen1 geometry and files), :mod:`.depth`
(dense metric depth, MVSEC layout) and :mod:`.gesture` (the 11 DVS128 Gesture classes, AEDAT 3.1).
They share the renderer: :mod:`.world` (a ray-cast street with exact depth), :mod:`.raster`
(anti-aliased 2-D shapes with depth test and visibility), :mod:`.patterns` (footprint-filtered
textures), :mod:`.actors` and :mod:`.layout` (what is in a street), and :mod:`.runner` (frames ->
events). :mod:`.recordings` writes one recording, :mod:`.datasets` a whole split dataset with a
README, :mod:`.demo` the bundled demo, :mod:`.cli` the ``spikesight simulate`` command.
"""
