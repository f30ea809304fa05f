"""A street world ray-cast per pixel: intensity and metric depth seen from a moving camera.

The world, in metres (X right, Y up, Z forward along the street): a ground plane (asphalt road
with lane markings and crossings, sidewalks with slabs and kerbs, cross streets), building
facades at ``X = -wall_left`` and ``X = +wall_right`` in blocks of varied height and window
pattern with gaps at cross streets, a low-contrast backdrop behind the gaps, textured boxes
(cuboids: crates, kiosks, parked vans, walls), and a sky (no surface: depth ``inf``). Textures
are filtered to each pixel's footprint (:mod:`.patterns`) and fade with distance into haze.

The camera is a pinhole (focal length ``f`` pixels, principal point ``cx, cy``) at a world
position with yaw (turning right is positive) and pitch (looking down is positive). Depth is
the camera-frame Z of the surface hit, as depth cameras and MVSEC's ``depth_image_raw`` give it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from .patterns import band, filtered_noise, pulse

# world scalar layout
(
    W_ROAD,
    W_LEFT,
    W_RIGHT,
    W_BACK,
    W_BACK_H,
    W_FOG,
    W_HAZE,
    W_SKY_TOP,
    W_SKY_LOW,
    W_ASPHALT,
    W_WALK,
    W_LINE,
    W_SALT,
) = range(13)
N_WORLD = 13
# block columns: z0, z1, height, base intensity, window intensity, floor height, window period, salt
B_COLS = 8
# cuboid columns: x0, x1, y0, y1, z0, z1, base intensity, texture contrast, salt, plank period
C_COLS = 10
_INF = np.inf


@dataclass
class Camera:
    """Pinhole camera pose and intrinsics (pixels, metres, radians)."""

    width: int
    height: int
    f: float
    cx: float
    cy: float
    x: float = 0.0
    y: float = 1.3
    z: float = 0.0
    yaw: float = 0.0
    pitch: float = 0.0

    def array(self) -> np.ndarray:
        return np.array([self.x, self.y, self.z, self.yaw, self.pitch, self.f, self.cx, self.cy])

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points ``[..., 3]`` to image coordinates ``[..., 2]`` and camera depth ``[...]``."""
        q = np.asarray(points, dtype=np.float64) - np.array([self.x, self.y, self.z])
        cy, sy = math.cos(self.yaw), math.sin(self.yaw)
        cp, sp = math.cos(self.pitch), math.sin(self.pitch)
        x1 = q[..., 0] * cy - q[..., 2] * sy
        z1 = q[..., 0] * sy + q[..., 2] * cy
        zc = -q[..., 1] * sp + z1 * cp
        yc = -q[..., 1] * cp - z1 * sp
        with np.errstate(divide="ignore", invalid="ignore"):
            uv = np.stack([self.cx + self.f * x1 / zc, self.cy + self.f * yc / zc], axis=-1)
        return uv, zc


@njit(cache=True, nogil=True)
def _find_block(blocks, z):
    """Index of the block holding ``z`` (blocks sorted by z0, not overlapping), or -1."""
    k = np.searchsorted(blocks[:, 0], z, side="right") - 1
    if k >= 0 and z < blocks[k, 1]:
        return k
    return -1


@njit(cache=True, nogil=True)
def _facade(b, z, y, fz, fy, left):
    """Intensity of a building facade at height ``y`` and street position ``z`` (footprints fz, fy)."""
    floor_h = b[5]
    period = b[6]
    salt = np.int64(b[7])
    win = pulse(y, 0.9, floor_h - 0.7, floor_h, fy) * pulse(z, 0.25 * period, 0.75 * period, period, fz)
    if y < floor_h:  # shop fronts: wide windows on the ground floor
        win = band(y, 0.4, floor_h - 0.5, fy) * pulse(z, 0.1 * period, 0.9 * period, period, fz)
    stain = filtered_noise(z / 1.7, y / 1.7, max(fz, fy) / 1.7, salt)
    base = b[3] * (0.8 + 0.4 * stain)
    v = base + (b[4] - base) * win
    return v * (0.82 if left else 1.0)


@njit(cache=True, nogil=True)
def _ground(w, crossings, x, z, fx, fz):
    """Intensity of the ground at ``(x, z)`` (footprints fx across, fz along the street)."""
    road = w[W_ROAD]
    ax = abs(x)
    salt = np.int64(w[W_SALT])
    j = np.searchsorted(crossings[:, 0], z, side="right")  # the next cross street starts at j
    in_cross = j > 0 and z < crossings[j - 1, 1]
    if ax >= road and not in_cross:
        slabs = pulse(x, 0.0, 0.06, 1.2, fx) + pulse(z, 0.0, 0.06, 1.2, fz)
        v = w[W_WALK] * (0.9 + 0.2 * filtered_noise(x / 0.6, z / 0.6, max(fx, fz) / 0.6, salt + 7))
        v *= 1.0 - 0.35 * min(slabs, 1.0)
        return v + (0.75 - v) * band(ax, road, road + 0.2, fx)  # kerb stone
    v = w[W_ASPHALT] * (0.8 + 0.4 * filtered_noise(x / 0.8, z / 0.8, max(fx, fz) / 0.8, salt + 3))
    v *= 0.9 + 0.2 * filtered_noise(x / 3.0, z / 3.0, max(fx, fz) / 3.0, salt + 5)
    line = 0.0
    if ax < road and not in_cross:
        line += band(x, -road + 0.25, -road + 0.4, fx) + band(x, road - 0.4, road - 0.25, fx)
        dashed = band(x, -1.81, -1.69, fx) + band(x, 1.69, 1.81, fx)
        line += dashed * pulse(z, 0.0, 3.0, 9.0, fz)
        if j < crossings.shape[0]:  # zebra crossing just before each cross street
            zebra = crossings[j, 0] - 4.5
            line += band(z, zebra, zebra + 3.5, fz) * pulse(x, 0.0, 0.5, 1.0, fx)
    line = min(line, 1.0)
    return v + (w[W_LINE] - v) * line


@njit(cache=True, nogil=True)
def _cuboid_hit(c, ox, oy, oz, dx, dy, dz):
    """Entry distance and face axis (0 x, 1 y, 2 z) of a ray into a box, or (inf, -1)."""
    t0 = 0.0
    t1 = _INF
    axis = -1
    o = (ox, oy, oz)
    d = (dx, dy, dz)
    for a in range(3):
        lo = c[2 * a]
        hi = c[2 * a + 1]
        if abs(d[a]) < 1e-12:
            if o[a] < lo or o[a] > hi:
                return _INF, -1
            continue
        ta = (lo - o[a]) / d[a]
        tb = (hi - o[a]) / d[a]
        if ta > tb:
            ta, tb = tb, ta
        if ta > t0:
            t0 = ta
            axis = a
        t1 = min(t1, tb)
        if t0 > t1:
            return _INF, -1
    if axis < 0:
        return _INF, -1
    return t0, axis


@njit(cache=True, nogil=True)
def _cuboid_shade(c, axis, x, y, z, fp, cos_in):
    salt = np.int64(c[8])
    plank = c[9]
    if axis == 0:
        u, v = z, y
        shade = 0.8
    elif axis == 1:
        u, v = x, z
        shade = 1.1
    else:
        u, v = x, y
        shade = 1.0
    f2 = fp / max(cos_in, 0.1)
    n = filtered_noise(u / 0.35, v / 0.35, f2 / 0.35, salt)
    v_ = c[6] * (1.0 + c[7] * (n - 0.5) * 2.0)
    if plank > 0:
        v_ *= 1.0 - 0.4 * pulse(v, 0.0, 0.04, plank, f2)
    edge = 0.0
    if axis != 0:
        edge += band(x, c[0], c[0] + 0.05, f2) + band(x, c[1] - 0.05, c[1], f2)
    if axis != 1:
        edge += band(y, c[2], c[2] + 0.05, f2) + band(y, c[3] - 0.05, c[3], f2)
    if axis != 2:
        edge += band(z, c[4], c[4] + 0.05, f2) + band(z, c[5] - 0.05, c[5], f2)
    return v_ * shade * (1.0 - 0.3 * min(edge, 1.0))


TILE = 16  # pixels: cuboids are tested only in the screen tiles their outline overlaps


def bin_cuboids(cuboids: np.ndarray, cam: Camera, far: float = 250.0) -> tuple[np.ndarray, np.ndarray]:
    """Which cuboids each screen tile must test: CSR ``(start [n_tiles + 1], items)``.

    A cuboid behind the camera is dropped; one that reaches behind it may cover any tile.
    """
    tw = -(-cam.width // TILE)
    th = -(-cam.height // TILE)
    if not len(cuboids):
        return np.zeros(tw * th + 1, np.int64), np.zeros(0, np.int64)
    c = cuboids
    corners = np.stack(
        [
            np.stack([c[:, 0 + (k & 1)], c[:, 2 + ((k >> 1) & 1)], c[:, 4 + ((k >> 2) & 1)]], -1)
            for k in range(8)
        ],
        axis=1,
    )  # [m, 8, 3]
    uv, zc = cam.project(corners)
    near = zc > 0.05
    keep = near.any(axis=1) & (zc.min(axis=1) < far)
    whole = keep & ~near.all(axis=1)
    with np.errstate(invalid="ignore"):
        x0 = np.where(whole, 0, np.floor(np.nan_to_num(uv[..., 0].min(axis=1), nan=0.0) / TILE))
        x1 = np.where(whole, tw - 1, np.floor(np.nan_to_num(uv[..., 0].max(axis=1), nan=0.0) / TILE))
        y0 = np.where(whole, 0, np.floor(np.nan_to_num(uv[..., 1].min(axis=1), nan=0.0) / TILE))
        y1 = np.where(whole, th - 1, np.floor(np.nan_to_num(uv[..., 1].max(axis=1), nan=0.0) / TILE))
    keep &= (x1 >= 0) & (x0 <= tw - 1) & (y1 >= 0) & (y0 <= th - 1)
    ranges = np.stack([np.clip(v, 0, n - 1) for v, n in ((x0, tw), (x1, tw), (y0, th), (y1, th))], -1)
    return _bin(ranges.astype(np.int64), keep, tw, th)


@njit(cache=True, nogil=True)
def _bin(ranges, keep, tw, th):
    counts = np.zeros(tw * th + 1, np.int64)
    for k in range(ranges.shape[0]):
        if keep[k]:
            for ty in range(ranges[k, 2], ranges[k, 3] + 1):
                for tx in range(ranges[k, 0], ranges[k, 1] + 1):
                    counts[ty * tw + tx + 1] += 1
    start = np.cumsum(counts)
    items = np.empty(start[-1], np.int64)
    fill = start[:-1].copy()
    for k in range(ranges.shape[0]):
        if keep[k]:
            for ty in range(ranges[k, 2], ranges[k, 3] + 1):
                for tx in range(ranges[k, 0], ranges[k, 1] + 1):
                    items[fill[ty * tw + tx]] = k
                    fill[ty * tw + tx] += 1
    return start, items


@njit(cache=True, nogil=True)
def render_world(img, depth, cam, w, blocks_l, blocks_r, crossings, cuboids, tile_start, tile_items):
    """Ray-cast every pixel: intensity into ``img`` and camera depth (``inf`` for sky) into ``depth``.

    ``tile_start``, ``tile_items``: which cuboids to test in each screen tile (:func:`bin_cuboids`).
    """
    height, width = img.shape
    tiles_x = (width + TILE - 1) // TILE
    ox, oy, oz, yaw, pitch, f, cx, cy = cam[0], cam[1], cam[2], cam[3], cam[4], cam[5], cam[6], cam[7]
    cyaw, syaw = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    fog = w[W_FOG]
    for py in range(height):
        yc = (py + 0.5 - cy) / f
        for px in range(width):
            xc = (px + 0.5 - cx) / f
            # camera ray (xc, yc, 1) in world coordinates: pitch, then yaw
            d_x0 = xc
            dy = -yc * cp - sp
            d_z0 = -yc * sp + cp
            dx = d_x0 * cyaw + d_z0 * syaw
            dz = -d_x0 * syaw + d_z0 * cyaw
            norm = math.sqrt(xc * xc + yc * yc + 1.0)
            best = _INF
            kind = 0
            aux = -1
            aux2 = 0
            if dy < -1e-9:
                t = -oy / dy
                if t < best:
                    best, kind = t, 1
            for side in range(2):
                if side == 0 and dx < -1e-9:
                    wx = -w[W_LEFT]
                    blocks = blocks_l
                elif side == 1 and dx > 1e-9:
                    wx = w[W_RIGHT]
                    blocks = blocks_r
                else:
                    continue
                t = (wx - ox) / dx
                if 0 < t < best:
                    hy = oy + t * dy
                    k = _find_block(blocks, oz + t * dz)
                    if k >= 0 and 0.0 <= hy < blocks[k, 2]:
                        best, kind, aux, aux2 = t, 2, k, side
                        continue
                bx = wx - w[W_BACK] if side == 0 else wx + w[W_BACK]
                t = (bx - ox) / dx
                if 0 < t < best and 0.0 <= oy + t * dy < w[W_BACK_H]:
                    best, kind, aux2 = t, 3, side
            tile = (py // TILE) * tiles_x + px // TILE
            for q in range(tile_start[tile], tile_start[tile + 1]):
                k = tile_items[q]
                t, axis = _cuboid_hit(cuboids[k], ox, oy, oz, dx, dy, dz)
                if 1e-6 < t < best:
                    best, kind, aux, aux2 = t, 4, k, axis
            if kind == 0:
                v = w[W_SKY_LOW] + (w[W_SKY_TOP] - w[W_SKY_LOW]) * min(max(dy / norm * 3.0, 0.0), 1.0)
                img[py, px] = v
                depth[py, px] = _INF
                continue
            hx = ox + best * dx
            hy = oy + best * dy
            hz = oz + best * dz
            fp = best * norm / f  # footprint across the ray, metres per pixel
            if kind == 1:
                cos_in = max(abs(dy) / norm, 0.02)
                v = _ground(w, crossings, hx, hz, fp, fp / cos_in)
            elif kind == 2:
                cos_in = max(abs(dx) / norm, 0.02)
                blocks = blocks_l if aux2 == 0 else blocks_r
                v = _facade(blocks[aux], hz, hy, fp / cos_in, fp, aux2 == 0)
            elif kind == 3:
                v = 0.45 * (0.9 + 0.2 * filtered_noise(hz / 6.0, hy / 6.0, fp / 6.0, 11))
            else:
                dd = (dx, dy, dz)
                cos_in = max(abs(dd[aux2]) / norm, 0.02)
                v = _cuboid_shade(cuboids[aux], aux2, hx, hy, hz, fp, cos_in)
            haze = 1.0 - math.exp(-best * norm / fog)
            img[py, px] = v + (w[W_HAZE] - v) * haze
            depth[py, px] = best
