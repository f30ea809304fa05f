"""Depth scenes: a camera driving through a street of textured surfaces at known depths.

The camera (MVSEC's DAVIS346 geometry, 346x260, focal length about that of its left camera)
drives a street like :mod:`.street`'s, with varied speed, turns of the head (yaw), sway and
bounce. Everything whose depth matters is ray-cast exactly: the ground, the facades, the
backdrop, and boxes standing in the street: parked and moving cars (a body box and a cabin box
each), crates, kiosks, bollards and low walls. Thin things (poles, lamps, trees, pedestrians)
are upright cut-outs at one depth each. The ground truth is the camera-frame Z of what each
pixel sees, in metres, ``NaN`` where it sees the sky.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .actors import NEAR, Pedestrian, PersonLook
from .layout import PARKING_X, ROAD_HALF, SEGMENT, StreetLayout
from .raster import Canvas, Shapes
from .world import C_COLS, W_FOG, W_HAZE, W_LEFT, W_RIGHT, Camera, bin_cuboids, render_world

MVSEC_GEOMETRY = (346, 260)


@dataclass(frozen=True)
class DepthConfig:
    """Camera parameters (pixels, metres) and the depth map period (µs)."""

    width: int = 346
    height: int = 260
    focal: float = 226.0
    cx: float = 173.0
    cy: float = 130.0
    depth_period_us: int = 50_000


def _car_boxes(x: float, z: float, heading_along: bool, rng: np.random.Generator, shade: float) -> list:
    """A car as two cuboids (body, cabin): rows of the world's cuboid table."""
    length, width = rng.uniform(3.8, 5.0), rng.uniform(1.65, 1.95)
    hb, ht = rng.uniform(0.9, 1.15), rng.uniform(1.4, 1.8)
    if not heading_along:
        length, width = width, length
    salt = int(rng.integers(0, 2**31))
    body = [x - width / 2, x + width / 2, 0.2, hb, z - length / 2, z + length / 2, shade, 0.15, salt, 0.0]
    cab_l = 0.55 * (length if heading_along else width)
    if heading_along:
        cab = [x - width / 2 + 0.1, x + width / 2 - 0.1, hb, ht, z - cab_l / 2, z + cab_l / 2]
    else:
        cab = [x - cab_l / 2, x + cab_l / 2, hb, ht, z - length / 2 + 0.1, z + length / 2 - 0.1]
    glass = rng.uniform(0.05, 0.2) if shade > 0.3 else rng.uniform(0.3, 0.5)
    return [body, [*cab, glass, 0.3, salt + 1, 0.0]]


class DepthScene:
    """A depth scene from ``seed``: ``advance(dt)``, ``render()`` (intensity), ``depth()`` (metres)."""

    def __init__(self, seed: int, config: DepthConfig | None = None) -> None:
        cfg = self.config = config or DepthConfig()
        self.width, self.height = cfg.width, cfg.height
        self.rng = np.random.default_rng([seed, 11])
        self.layout = StreetLayout(seed, np.random.default_rng([seed, 12]), parked_cars=False)
        self.seed = int(seed)
        r = self.rng
        self.cruise = r.uniform(4.0, 11.0)
        self.speed = self.target = r.uniform(0.3, 1.0) * self.cruise
        self.phases = r.uniform(0, 2 * np.pi, 5)
        self.lateral = r.uniform(-1.2, 1.2)
        self.cam = Camera(
            cfg.width, cfg.height, cfg.focal, cfg.cx, cfg.cy, x=self.lateral, y=r.uniform(1.2, 1.7)
        )
        self.canvas = Canvas(cfg.width, cfg.height)
        self.time = 0.0
        self._statics: dict[int, list] = {}
        self._movers: list[dict] = []
        self.walkers: list[Pedestrian] = []
        self._rates = {"oncoming": r.uniform(0.1, 0.4), "walker": r.uniform(0.2, 0.8)}
        self._place_camera()
        for _ in range(200):  # a few seconds of traffic before the first frame
            self._traffic(0.05)

    def _place_camera(self) -> None:
        t, ph, c = self.time, self.phases, self.cam
        c.x = self.lateral + 0.4 * math.sin(0.3 * t + ph[0])
        c.yaw = 0.08 * math.sin(2 * math.pi * t / 7.0 + ph[1]) + 0.03 * math.sin(
            2 * math.pi * t / 2.3 + ph[2]
        )
        c.pitch = 0.02 + 0.01 * math.sin(2 * math.pi * t / 5.0 + ph[3])
        self.layout.ensure(c.z - 20.0, c.z)
        first = int(np.floor((c.z - 20.0) / SEGMENT))
        for s in range(first, int(np.floor((c.z + 160.0) / SEGMENT)) + 1):
            if s not in self._statics:
                self._statics[s] = self._segment_boxes(s)

    def _segment_boxes(self, s: int) -> list:
        """Parked cars and street objects of segment ``s`` (its own random stream)."""
        rng = np.random.default_rng([self.seed, 13, s + (1 << 20)])
        lay = self.layout
        rows = []
        z = s * SEGMENT + rng.uniform(0.0, 10.0)
        while z < (s + 1) * SEGMENT:
            if not lay.in_crossing(z, 6.0) and rng.random() < 0.6:
                shade = float(
                    rng.choice([rng.uniform(0.05, 0.15), rng.uniform(0.3, 0.6), rng.uniform(0.7, 0.95)])
                )
                rows += _car_boxes(PARKING_X, z, True, rng, shade)
            z += rng.uniform(5.5, 20.0)
        for side in (-1.0, 1.0):
            wall = lay.world[W_RIGHT] if side > 0 else lay.world[W_LEFT]
            z = s * SEGMENT + rng.uniform(0.0, 15.0)
            while z < (s + 1) * SEGMENT:
                if not lay.in_crossing(z, 2.0):
                    kind = rng.choice(["crate", "kiosk", "bollard", "wall"], p=[0.4, 0.15, 0.25, 0.2])
                    w, h, d = {
                        "crate": (rng.uniform(0.5, 1.2), rng.uniform(0.4, 1.2), rng.uniform(0.5, 1.2)),
                        "kiosk": (rng.uniform(1.5, 2.5), rng.uniform(2.2, 2.8), rng.uniform(1.5, 3.0)),
                        "bollard": (0.25, rng.uniform(0.6, 1.0), 0.25),
                        "wall": (0.3, rng.uniform(0.5, 1.3), rng.uniform(3.0, 8.0)),
                    }[kind]
                    w = min(w, wall - ROAD_HALF - 0.9)  # fits on the sidewalk
                    x = side * rng.uniform(ROAD_HALF + 0.5 + w / 2, wall - w / 2 - 0.2)
                    plank = 0.3 if kind == "crate" else (0.25 if kind == "wall" else 0.0)
                    rows.append(
                        [
                            x - w / 2,
                            x + w / 2,
                            0.0,
                            h,
                            z - d / 2,
                            z + d / 2,
                            rng.uniform(0.1, 0.9),
                            rng.uniform(0.1, 0.4),
                            int(rng.integers(0, 2**31)),
                            plank,
                        ]
                    )
                z += rng.uniform(6.0, 25.0)
        return rows

    def _traffic(self, dt: float) -> None:
        r, c = self.rng, self.cam
        for m in self._movers:
            m["z"] += m["v"] * dt
        self._movers = [m for m in self._movers if -10.0 < m["z"] - c.z < 170.0]
        for p in self.walkers:
            p.step(dt)
        self.walkers = [p for p in self.walkers if -6.0 < p.z - c.z < 160.0]
        for _ in range(r.poisson(self._rates["oncoming"] * dt)):
            shade = float(r.uniform(0.05, 0.95))
            self._movers.append(
                {
                    "x": -3.5 + r.uniform(-0.3, 0.3),
                    "z": c.z + r.uniform(110.0, 140.0),
                    "v": -r.uniform(5.0, 13.0),
                    "boxes": _car_boxes(0.0, 0.0, True, r, shade),
                }
            )
        for _ in range(r.poisson(self._rates["walker"] * dt)):
            side = 1.0 if r.random() < 0.5 else -1.0
            wall = self.layout.world[W_RIGHT] if side > 0 else self.layout.world[W_LEFT]
            self.walkers.append(
                Pedestrian(
                    PersonLook.random(r),
                    side * r.uniform(ROAD_HALF + 0.8, wall - 0.4),
                    c.z + r.uniform(20.0, 120.0),
                    math.pi if r.random() < 0.6 else 0.0,
                    r.uniform(0.9, 1.7),
                    -1,
                    phase=r.uniform(0, 2 * np.pi),
                )
            )

    def advance(self, dt: float) -> None:
        r = self.rng
        self.time += dt
        if r.random() < dt / 3.0:
            self.target = r.uniform(0.2, 1.2) * self.cruise
        self.speed += (self.target - self.speed) * min(dt / 1.5, 1.0)
        self.cam.z += self.speed * dt
        self._traffic(dt)
        self._place_camera()

    def _cuboids(self) -> np.ndarray:
        c = self.cam
        rows = []
        for s, boxes in self._statics.items():
            if c.z - 2 * SEGMENT < s * SEGMENT < c.z + 200.0:
                rows += boxes
        for m in self._movers:
            for b in m["boxes"]:
                rows.append([b[0] + m["x"], b[1] + m["x"], b[2], b[3], b[4] + m["z"], b[5] + m["z"], *b[6:]])
        return np.array(rows, dtype=np.float64).reshape(-1, C_COLS)

    def render(self) -> np.ndarray:
        cam, lay, cv = self.cam, self.layout, self.canvas
        cuboids = self._cuboids()
        render_world(
            cv.image,
            cv.zbg,
            cam.array(),
            lay.world,
            lay.blocks_left,
            lay.blocks_right,
            lay.crossings,
            cuboids,
            *bin_cuboids(cuboids, cam),
        )
        cv.depth[:] = cv.zbg
        cv.clear_layers()
        things = [t for t in (*lay.props, *self.walkers) if -2.0 < t.z - cam.z < 160.0]
        depth = cam.project(np.array([[t.x, t.ref_height, t.z] for t in things]).reshape(-1, 3))[1]
        shapes = Shapes()
        for k in np.argsort(-depth, kind="stable"):
            if NEAR < depth[k] < 160.0:
                things[k].draw(shapes, cam, -1)
        cv.draw(shapes, lay.world[W_HAZE], lay.world[W_FOG])
        return cv.image.copy()

    def depth(self) -> np.ndarray:
        """Metric depth (camera Z, float32) of the last frame drawn; ``NaN`` where there is no surface."""
        d = self.canvas.depth.astype(np.float32)
        d[~np.isfinite(d)] = np.nan
        return d

    def pose(self) -> np.ndarray:
        """The camera pose ``T_world_camera`` (4x4): camera axes x right, y down, z forward; world Y up."""
        c = self.cam
        cy, sy = math.cos(c.yaw), math.sin(c.yaw)
        cp, sp = math.cos(c.pitch), math.sin(c.pitch)
        t = np.eye(4)
        t[:3, 0] = (cy, 0.0, -sy)
        t[:3, 1] = (-sp * sy, -cp, -sp * cy)
        t[:3, 2] = (cp * sy, -sp, cp * cy)
        t[:3, 3] = (c.x, c.y, c.z)
        return t
