"""``spikesight depth FILE``: run the depth pipeline headless over any readable event file.

``spikesight depth FILE [--weights NAME|PATH] [--out depth.npz] [--video out.mp4] [--every MS] [-q]``
slices the file into the weights' windows (50 ms for MVSEC-trained weights), runs
:class:`~.pipeline.DepthPipeline` over them in order (membrane state carried across windows unless
``--per-window``), and writes

* ``--out`` (``.npz``): ``t``, int64 [N], the end of each map's window in the file's microseconds,
  and ``depth``, float32 [N, H, W], metres, NaN where there is no estimate, at the sensor's geometry;
* ``--video`` (``.mp4``, optional): each kept map beside the events of its window, depth coloured on
  a log scale (near warm, far cool, NaN black), one frame per map at real-time speed.

``--every MS`` keeps one map every MS milliseconds of recording (the first window ending at or after
each multiple); the network still sees every window. Maps go to a temporary file beside ``--out``
as they come, so memory stays bounded whatever the recording's length.
:func:`add_depth_parser` adds the command to the ``spikesight`` parser.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..weights import DEFAULT_WEIGHTS as SHIPPED

log = logging.getLogger("spikesight")


def _bar(quiet: bool):
    from tqdm import tqdm

    return tqdm(unit="map", desc="depth", disable=quiet, leave=False)


class NpzMapWriter:
    """Streams ``(t, depth map)`` pairs to an ``.npz`` holding ``t`` (int64 [N]) and ``depth``
    (float32 [N, H, W]): maps are appended to a temporary file and copied into the archive on
    :meth:`close`, when N is known."""

    def __init__(self, path: str | os.PathLike, width: int, height: int) -> None:
        self.path = Path(path)
        self.shape = (int(height), int(width))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".raw", dir=self.path.parent)
        self._tmp = Path(tmp)
        self._raw = os.fdopen(fd, "wb")
        self.times: list[int] = []

    def write(self, t: int, depth: np.ndarray) -> None:
        if depth.shape != self.shape:
            raise ValueError(f"depth map of shape {depth.shape}, expected {self.shape}")
        self._raw.write(np.ascontiguousarray(depth, dtype="<f4").tobytes())
        self.times.append(int(t))

    @staticmethod
    def _member(zf: zipfile.ZipFile, name: str, dtype: str, shape: tuple[int, ...], source) -> None:
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
                  "shape": shape}
        with zf.open(name, "w", force_zip64=True) as out:
            np.lib.format.write_array_header_1_0(out, header)
            source(out)

    def close(self) -> None:
        """Write the ``.npz`` (atomically) and remove the temporary file."""
        if self._raw.closed:
            return
        self._raw.close()
        try:
            n = len(self.times)
            part = self.path.with_name(self.path.name + ".part")
            with zipfile.ZipFile(part, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                t = np.asarray(self.times, dtype="<i8")
                self._member(zf, "t.npy", "<i8", (n,), lambda out: out.write(t.tobytes()))

                def copy(out) -> None:
                    with open(self._tmp, "rb") as raw:
                        while block := raw.read(1 << 22):
                            out.write(block)

                self._member(zf, "depth.npy", "<f4", (n, *self.shape), copy)
            os.replace(part, self.path)
        finally:
            self._tmp.unlink(missing_ok=True)

    def abort(self) -> None:
        self._raw.close()
        self._tmp.unlink(missing_ok=True)


class VideoMapWriter:
    """Writes each map beside its window's events as an mp4 frame (OpenCV)."""

    def __init__(self, path: str | os.PathLike, width: int, height: int, fps: float,
                 max_depth: float) -> None:
        import cv2

        self.path = os.fspath(path)
        self.width, self.height, self.max_depth = int(width), int(height), float(max_depth)
        gap = 4
        self._writer = cv2.VideoWriter(self.path, cv2.VideoWriter_fourcc(*"mp4v"), float(fps),
                                       (2 * self.width + gap, self.height))
        if not self._writer.isOpened():
            raise OSError(f"{self.path}: OpenCV cannot write this video")

    def write(self, events: np.ndarray, depth: np.ndarray) -> None:
        from spikesight.io.sim.preview import depth_image, event_image, side_by_side

        self._writer.write(side_by_side(event_image(events, self.width, self.height),
                                        depth_image(depth, self.max_depth)))

    def close(self) -> None:
        self._writer.release()


def cmd_depth(args: argparse.Namespace) -> int:
    from spikesight.io import open_source

    from .pipeline import DepthPipeline

    every_us = None if args.every is None else int(round(args.every * 1000))
    if every_us is not None and every_us <= 0:
        raise ValueError(f"--every must be positive, got {args.every} ms")
    with open_source(args.file) as src:
        width, height = src.info.width, src.info.height
        pipe = DepthPipeline(args.weights, sensor=(width, height), streaming=not args.per_window,
                             monitor=False, device=args.device)
        out = NpzMapWriter(args.out, width, height)
        period = every_us or pipe.window_us
        video = (VideoMapWriter(args.video, width, height, 1e6 / period, pipe.config.max_depth)
                 if args.video else None)
        next_keep: int | None = None
        try:
            with _bar(args.quiet) as bar:
                for window in src.windows(delta_t=pipe.window_us):
                    result = pipe.step(window.events, window.t_start, window.t_end)
                    if next_keep is not None and window.t_end < next_keep:
                        continue
                    next_keep = window.t_end + period if next_keep is None else next_keep + period
                    while next_keep <= window.t_end:
                        next_keep += period
                    out.write(window.t_end, result.output.depth)
                    if video is not None:
                        video.write(window.events, result.output.depth)
                    bar.update(1)
        except BaseException:
            out.abort()
            raise
        finally:
            if video is not None:
                video.close()
        out.close()
    log.info("wrote %d depth maps (%dx%d) to %s%s", len(out.times), width, height, args.out,
             f" and {args.video}" if args.video else "")
    return 0


def add_depth_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``depth`` to a subparsers action."""
    DEFAULT_WEIGHTS = SHIPPED["depth"]

    sp = subparsers.add_parser("depth", help="depth maps from an event file with the spiking depth network",
                               description=__doc__.split("\n\n")[1] if __doc__ else None)
    sp.add_argument("file", help="event file (MVSEC HDF5 or any format spikesight reads)")
    sp.add_argument("--weights", default=DEFAULT_WEIGHTS,
                    help=f"shipped weights name or a .pt path with its manifest (default {DEFAULT_WEIGHTS})")
    sp.add_argument("--out", type=Path, default=Path("depth.npz"),
                    help="output .npz: t (int64 µs) and depth (float32 [N, H, W] metres, NaN: none)")
    sp.add_argument("--video", type=Path, help="also write an .mp4 of the maps beside the events")
    sp.add_argument("--every", type=float, metavar="MS",
                    help="keep one map every MS milliseconds (default: one per window)")
    sp.add_argument("--per-window", action="store_true",
                    help="reset the membranes before every window (default: carry them across windows)")
    sp.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1 ... (default cpu)")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_depth)
    return sp
