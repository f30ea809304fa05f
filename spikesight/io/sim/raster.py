"""2-D shapes drawn with anti-aliased edges, a depth test and per-object visibility.

The actors of the scenes (cars, pedestrians, poles, arms) are built from three primitives,
convex polygons, tapered capsules and ellipses, each with a constant intensity and a depth. A
pixel's coverage comes from the shape's signed distance at the pixel centre
(``clip(0.5 - d, 0, 1)``), so edges are smooth and sub-pixel motion changes intensity
gradually, as it does on a real sensor. Coordinates are continuous image coordinates: pixel
``(x, y)`` covers ``[x, x + 1) x [y, y + 1)``.

Primitives are collected in a :class:`Shapes` list and drawn in one call, in list order
(painter's algorithm: far to near). Each one is hidden where the background is nearer
(``depth >= zbg``). Where a primitive covers at least half a pixel it writes its depth (the
depth ground truth) and its object id (the visibility ground truth: ``ids``); ``area[oid]``
counts the pixels an object would cover if nothing hid it, so ``visible / area`` is the share of
it that shows. The parts of one object must be consecutive in the list.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

POLYGON, CAPSULE, ELLIPSE = 0, 1, 2
MAX_VERTICES = 8
ROW = 5 + 2 * MAX_VERTICES  # kind, value, depth, oid, n | params


class Shapes:
    """A list of primitives to draw; coordinates in pixels, ``oid`` -1 for unlabelled things."""

    def __init__(self) -> None:
        self._rows: list[list[float]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def polygon(self, points, value: float, depth: float, oid: int = -1) -> None:
        """A convex polygon (vertices in either winding order)."""
        pts = np.asarray(points, dtype=np.float64).ravel().tolist()
        if not 6 <= len(pts) <= 2 * MAX_VERTICES:
            raise ValueError(f"a polygon needs 3 to {MAX_VERTICES} vertices, got {len(pts) / 2:g}")
        self._rows.append([POLYGON, value, depth, oid, len(pts), *pts])

    def polygons(self, points, values, depths, oid: int = -1) -> None:
        """Several convex polygons with the same vertex count: ``points`` is ``[k, n, 2]``."""
        pts = np.asarray(points, dtype=np.float64)
        if pts.ndim != 3 or not 3 <= pts.shape[1] <= MAX_VERTICES or pts.shape[2] != 2:
            raise ValueError(f"polygons need [k, 3..{MAX_VERTICES}, 2] points, got shape {pts.shape}")
        if not len(pts):
            return
        n = 2 * pts.shape[1]
        values = np.broadcast_to(values, len(pts)).tolist()
        depths = np.broadcast_to(depths, len(pts)).tolist()
        for p, v, d in zip(pts.reshape(len(pts), -1).tolist(), values, depths, strict=True):
            self._rows.append([POLYGON, v, d, oid, n, *p])

    def capsule(self, a, b, ra: float, rb: float, value: float, depth: float, oid: int = -1) -> None:
        """A segment from ``a`` to ``b`` thickened by a radius going from ``ra`` to ``rb``."""
        self._rows.append([CAPSULE, value, depth, oid, 6, a[0], a[1], b[0], b[1], ra, rb])

    def ellipse(
        self, centre, rx: float, ry: float, angle: float, value: float, depth: float, oid: int = -1
    ) -> None:
        """An ellipse with semi-axes ``rx``, ``ry`` turned by ``angle`` radians."""
        self._rows.append([ELLIPSE, value, depth, oid, 5, centre[0], centre[1], rx, ry, angle])

    def extend(self, other: Shapes) -> None:
        """Append all of ``other``'s primitives."""
        self._rows.extend(other._rows)

    def array(self) -> np.ndarray:
        out = np.zeros((len(self._rows), ROW))
        for k, row in enumerate(self._rows):
            out[k, : len(row)] = row
        return out


@njit(cache=True, nogil=True)
def _bbox(kind, p, n):
    if kind == POLYGON:
        x0 = x1 = p[0]
        y0 = y1 = p[1]
        for k in range(1, n // 2):
            x0 = min(x0, p[2 * k])
            x1 = max(x1, p[2 * k])
            y0 = min(y0, p[2 * k + 1])
            y1 = max(y1, p[2 * k + 1])
        return x0, y0, x1, y1
    if kind == CAPSULE:
        r = max(p[4], p[5])
        return min(p[0], p[2]) - r, min(p[1], p[3]) - r, max(p[0], p[2]) + r, max(p[1], p[3]) + r
    r = max(p[2], p[3])
    return p[0] - r, p[1] - r, p[0] + r, p[1] + r


@njit(cache=True, nogil=True)
def _sd_polygon(px, py, p, nv, orient):
    d = -1e30
    for k in range(nv):
        ax, ay = p[2 * k], p[2 * k + 1]
        j = (k + 1) % nv
        bx, by = p[2 * j], p[2 * j + 1]
        ex, ey = bx - ax, by - ay
        ln = math.sqrt(ex * ex + ey * ey)
        if ln < 1e-12:
            continue
        # outward normal of edge a->b for a counter-clockwise polygon (y down: orient flips it)
        s = orient * (ex * (py - ay) - ey * (px - ax)) / ln
        d = max(d, -s)
    return d


@njit(cache=True, nogil=True)
def _sd_capsule(px, py, p):
    ax, ay, bx, by, ra, rb = p[0], p[1], p[2], p[3], p[4], p[5]
    ex, ey = bx - ax, by - ay
    ll = ex * ex + ey * ey
    h = 0.0
    if ll > 1e-12:
        h = min(max(((px - ax) * ex + (py - ay) * ey) / ll, 0.0), 1.0)
    dx, dy = px - ax - h * ex, py - ay - h * ey
    return math.sqrt(dx * dx + dy * dy) - (ra + (rb - ra) * h)


@njit(cache=True, nogil=True)
def _sd_ellipse(px, py, p, cos_a, sin_a):
    dx, dy = px - p[0], py - p[1]
    u = (dx * cos_a + dy * sin_a) / p[2]
    v = (-dx * sin_a + dy * cos_a) / p[3]
    k0 = math.sqrt(u * u + v * v)
    uu, vv = u / p[2], v / p[3]
    k1 = math.sqrt(uu * uu + vv * vv)
    if k1 < 1e-12:
        return -min(p[2], p[3])
    return k0 * (k0 - 1.0) / k1


@njit(cache=True, nogil=True)
def draw_shapes(img, zbg, zout, ids, own, area, rows, haze, fog):
    """Draw ``rows`` (from :meth:`Shapes.array`) into ``img`` in order; see the module docstring.

    Intensities fade towards ``haze`` with depth: by ``1 - exp(-depth / fog)``.
    """
    height, width = img.shape
    for r in range(rows.shape[0]):
        kind = np.int64(rows[r, 0])
        depth = rows[r, 2]
        value = rows[r, 1] + (haze - rows[r, 1]) * (1.0 - math.exp(-depth / fog))
        oid = np.int64(rows[r, 3])
        n = np.int64(rows[r, 4])
        p = rows[r, 5:]
        bx0, by0, bx1, by1 = _bbox(kind, p, n)
        x0 = max(np.int64(math.floor(bx0 - 1.0)), 0)
        y0 = max(np.int64(math.floor(by0 - 1.0)), 0)
        x1 = min(np.int64(math.ceil(bx1 + 1.0)), width)
        y1 = min(np.int64(math.ceil(by1 + 1.0)), height)
        nv = n // 2
        orient = 1.0
        cos_a = 1.0
        sin_a = 0.0
        if kind == POLYGON:
            s = 0.0
            for k in range(nv):
                j = (k + 1) % nv
                s += p[2 * k] * p[2 * j + 1] - p[2 * j] * p[2 * k + 1]
            orient = 1.0 if s > 0 else -1.0
        elif kind == ELLIPSE:
            cos_a = math.cos(p[4])
            sin_a = math.sin(p[4])
        for y in range(y0, y1):
            py = y + 0.5
            for x in range(x0, x1):
                if depth >= zbg[y, x]:
                    continue
                px = x + 0.5
                if kind == POLYGON:
                    d = _sd_polygon(px, py, p, nv, orient)
                elif kind == CAPSULE:
                    d = _sd_capsule(px, py, p)
                else:
                    d = _sd_ellipse(px, py, p, cos_a, sin_a)
                cov = 0.5 - d
                if cov <= 0.0:
                    continue
                if cov > 1.0:
                    cov = 1.0
                img[y, x] += (value - img[y, x]) * cov
                if cov >= 0.5:
                    zout[y, x] = depth
                    ids[y, x] = oid
                    if oid >= 0 and own[y, x] != oid:
                        own[y, x] = oid
                        area[oid] += 1


class Canvas:
    """An image with its depth and object-id layers, redrawn every frame."""

    def __init__(self, width: int, height: int, max_objects: int = 4096) -> None:
        self.width, self.height = int(width), int(height)
        self.image = np.zeros((height, width), dtype=np.float64)
        self.zbg = np.full((height, width), np.inf)
        self.depth = np.full((height, width), np.inf)
        self.ids = np.full((height, width), -1, dtype=np.int64)
        self.own = np.full((height, width), -1, dtype=np.int64)
        self.area = np.zeros(max_objects, dtype=np.int64)

    def clear_layers(self) -> None:
        """Forget the ids and areas of the previous frame (the image and depths are redrawn)."""
        self.ids.fill(-1)
        self.own.fill(-1)
        self.area.fill(0)

    def draw(self, shapes: Shapes, haze: float = 0.0, fog: float = np.inf) -> None:
        """Draw ``shapes``, their intensities fading towards ``haze`` with depth (fog distance ``fog``)."""
        draw_shapes(
            self.image,
            self.zbg,
            self.depth,
            self.ids,
            self.own,
            self.area,
            shapes.array(),
            float(haze),
            float(fog),
        )

    def visibility(self, n_objects: int) -> tuple[np.ndarray, np.ndarray]:
        """Pixels showing each object ``0..n_objects-1`` now, and pixels it would cover unhidden."""
        ids = self.ids[self.ids >= 0]
        visible = np.bincount(ids, minlength=n_objects)[:n_objects]
        return visible, self.area[:n_objects].copy()
