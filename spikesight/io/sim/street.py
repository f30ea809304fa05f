"""Street scenes for object detection, seen from a car at the Gen1 dataset's geometry (304x240).

The camera rides in a car that speeds up, slows down and stops, with a little sway and pitch
from the road. The street (:mod:`.layout`) has building blocks, cross streets, parked cars and
furniture; traffic drives in it: cars ahead in the camera's lane, oncoming cars, cars crossing
at the cross streets (emerging from behind the buildings), and pedestrians walking along the
sidewalks or over the zebra crossings. Cars vary in model, size and shade; pedestrians in
height, build and clothing, with a swinging gait; shades are drawn so that some actors stand
out and some barely differ from what is behind them.

Ground truth: at every label time, a box per car (class 0) and pedestrian (class 1) of which at
least ``min_visible`` of the pixels it would cover show (nearer actors and buildings hide the
rest), enclosing the whole actor and clipped to the frame, with a track id that stays with the
actor (the Gen1 ``*_bbox.npy`` fields).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..bbox import BBOX_DTYPE
from .actors import NEAR, Car, CarLook, CarModel, Pedestrian, PersonLook
from .layout import ROAD_HALF, StreetLayout
from .raster import Canvas, Shapes
from .world import W_FOG, W_HAZE, W_LEFT, W_RIGHT, Camera, bin_cuboids, render_world

CLASSES = ("car", "pedestrian")
FAR = 160.0  # metres: actors further away are neither simulated in view nor drawn
_NO_CUBOIDS = np.zeros((0, 10))


@dataclass(frozen=True)
class StreetConfig:
    """Camera and labelling parameters (pixels, metres, µs), and the pedestrian density.

    ``pedestrian_rate`` multiplies each scene's drawn spawn rates of pedestrians walking along the
    sidewalks and over the zebra crossings (during ``warmup`` too), to balance car and pedestrian
    boxes; 1 leaves every scene exactly as it was.
    """

    width: int = 304
    height: int = 240
    focal: float = 210.0
    horizon: float = 100.0
    camera_height: float = 1.35
    label_period_us: int = 50_000
    min_visible: float = 0.3
    min_pixels: int = 12
    warmup: float = 20.0
    pedestrian_rate: float = 1.0

    def __post_init__(self) -> None:
        if not (self.pedestrian_rate > 0 and math.isfinite(self.pedestrian_rate)):
            raise ValueError(f"pedestrian_rate must be a positive number, got {self.pedestrian_rate!r}")


class StreetScene:
    """A street scene from ``seed``: ``advance(dt)`` moves everything, ``render()`` draws a frame,
    ``labels(t)`` gives the boxes of the last frame drawn."""

    def __init__(self, seed: int, config: StreetConfig | None = None) -> None:
        cfg = self.config = config or StreetConfig()
        self.width, self.height = cfg.width, cfg.height
        self.rng = np.random.default_rng([seed, 1])
        self.layout = StreetLayout(seed, np.random.default_rng([seed, 2]))
        r = self.rng
        self.rates = {
            "oncoming": r.uniform(0.08, 0.4),
            "lead": r.uniform(0.05, 0.3),
            "crossing": r.uniform(0.1, 0.5),
            "walker": r.uniform(0.15, 0.9),
            "zebra": r.uniform(0.03, 0.25),
            "door": r.uniform(0.0, 0.15),
        }
        # a product, not a different draw: the random stream stays the same, and rate 1 changes nothing
        self.rates["walker"] *= cfg.pedestrian_rate
        self.rates["zebra"] *= cfg.pedestrian_rate
        self.cruise = r.uniform(5.0, 12.0)
        self.speed = self.target = r.uniform(0.0, self.cruise)
        self.phases = r.uniform(0, 2 * np.pi, 4)
        self.cam = Camera(cfg.width, cfg.height, cfg.focal, cfg.width / 2, cfg.horizon, y=cfg.camera_height)
        self.canvas = Canvas(cfg.width, cfg.height)
        self.time = -cfg.warmup
        self.cars: list[Car] = []
        self.walkers: list[Pedestrian] = []
        self._track = 0
        self._drawn: list = []
        self._place_camera()
        for _ in range(int(cfg.warmup / 0.05)):
            self.advance(0.05)

    # -- dynamics --------------------------------------------------------------------------

    def _place_camera(self) -> None:
        t, ph = self.time, self.phases
        c = self.cam
        c.x = 0.25 * math.sin(0.35 * t + ph[0])
        c.yaw = 0.035 * math.sin(2 * math.pi * t / 9.0 + ph[1]) + 0.012 * math.sin(
            2 * math.pi * t / 2.9 + ph[2]
        )
        c.pitch = 0.03 + 0.004 * math.sin(2 * math.pi * 1.7 * t + ph[3]) * min(self.speed / 10.0, 1.0)
        c.y = self.config.camera_height
        self.layout.ensure(c.z - 20.0, c.z)

    def _next_track(self) -> int:
        self._track += 1
        return self._track - 1

    def _lead(self) -> Car | None:
        ahead = [c for c in self.cars if abs(c.x) < 1.2 and abs(c.heading) < 0.1 and c.z > self.cam.z]
        return min(ahead, key=lambda c: c.z) if ahead else None

    def advance(self, dt: float) -> None:
        r = self.rng
        self.time += dt
        if r.random() < dt / 4.0:
            self.target = 0.0 if r.random() < 0.15 else r.uniform(0.4, 1.1) * self.cruise
        self.speed += (self.target - self.speed) * min(dt / 1.5, 1.0)
        lead = self._lead()
        if lead is not None:
            gap = lead.z - lead.model.look.length / 2 - self.cam.z
            if gap < 6.0 + 1.2 * self.speed:
                self.speed = max(0.0, min(self.speed, lead.speed - (6.0 - gap) * 0.5))
        self.cam.z += self.speed * dt
        for actor in (*self.cars, *self.walkers):
            actor.step(dt)
        self._follow_lanes()
        self._spawn(dt)
        self._cull()
        self._place_camera()

    def _follow_lanes(self) -> None:
        """Cars in one lane keep their distance; nothing drives through the car ahead of it."""
        for lane in (-1, 1):
            queue = sorted(
                (c for c in self.cars if abs(c.heading - (0 if lane > 0 else math.pi)) < 0.1),
                key=lambda c: c.z,
                reverse=lane > 0,
            )
            for front, back in itertools.pairwise(queue):
                if abs(front.z - back.z) < front.model.look.length + 4.0:
                    back.speed = min(back.speed, front.speed)

    def _spawn(self, dt: float) -> None:
        r, cam, lay = self.rng, self.cam, self.layout
        n = r.poisson(
            [self.rates[k] * dt for k in ("oncoming", "lead", "crossing", "walker", "zebra", "door")]
        )
        for _ in range(n[0]):
            self.cars.append(
                Car(
                    CarModel(CarLook.random(r)),
                    -3.5 + r.uniform(-0.3, 0.3),
                    cam.z + r.uniform(110.0, 140.0),
                    math.pi,
                    r.uniform(6.0, 14.0),
                    self._next_track(),
                )
            )
        if n[1] and self._lead() is None:
            self.cars.append(
                Car(
                    CarModel(CarLook.random(r)),
                    r.uniform(-0.3, 0.3),
                    cam.z + r.uniform(100.0, 130.0),
                    0.0,
                    r.uniform(0.3, 0.9) * self.cruise,
                    self._next_track(),
                )
            )
        c = lay.crossings
        near = c[((c[:, 0] + c[:, 1]) / 2 > cam.z + 25.0) & ((c[:, 0] + c[:, 1]) / 2 < cam.z + 110.0)]
        for _ in range(n[2] if len(near) else 0):
            c0, c1 = near[int(r.integers(0, len(near)))]
            direction = 1.0 if r.random() < 0.5 else -1.0
            wall = lay.world[W_LEFT] if direction > 0 else lay.world[W_RIGHT]
            z = (c0 + c1) / 2 + direction * -2.2 + r.uniform(-0.3, 0.3)
            self.cars.append(
                Car(
                    CarModel(CarLook.random(r)),
                    -direction * (wall + 25.0),
                    z,
                    direction * math.pi / 2,
                    r.uniform(5.0, 12.0),
                    self._next_track(),
                )
            )
        for _ in range(n[3]):
            side = 1.0 if r.random() < 0.5 else -1.0
            wall = lay.world[W_RIGHT] if side > 0 else lay.world[W_LEFT]
            x = side * r.uniform(ROAD_HALF + 0.9, wall - 0.4)
            if r.random() < 0.5:
                z, heading = cam.z + r.uniform(100.0, 140.0), math.pi if r.random() < 0.7 else 0.0
            else:
                z, heading = cam.z - r.uniform(1.0, 4.0), 0.0
            self._walker(x, z, heading)
        zebras = c[:, 0] - 2.75
        zebras = zebras[(zebras > cam.z + 12.0) & (zebras < cam.z + 70.0)]
        for _ in range(n[4] if len(zebras) else 0):
            side = 1.0 if r.random() < 0.5 else -1.0
            self._walker(
                side * (ROAD_HALF + 0.8),
                zebras[int(r.integers(0, len(zebras)))] + r.uniform(-1.2, 1.2),
                -side * math.pi / 2,
            )
        for _ in range(n[5]):  # someone steps out of a doorway
            side = 1.0 if r.random() < 0.5 else -1.0
            wall = lay.world[W_RIGHT] if side > 0 else lay.world[W_LEFT]
            self._walker(
                side * (wall - 0.3), cam.z + r.uniform(15.0, 60.0), -side * math.pi / 2 * r.uniform(0.3, 1.0)
            )

    def _walker(self, x: float, z: float, heading: float) -> None:
        r = self.rng
        self.walkers.append(
            Pedestrian(
                PersonLook.random(r),
                x,
                z,
                heading,
                r.uniform(0.9, 1.8),
                self._next_track(),
                phase=r.uniform(0, 2 * np.pi),
            )
        )

    def _cull(self) -> None:
        z = self.cam.z
        reach = max(self.layout.world[W_LEFT], self.layout.world[W_RIGHT]) + 40.0
        self.cars = [c for c in self.cars if -10.0 < c.z - z < FAR and abs(c.x) < reach]
        kept = []
        for p in self.walkers:
            if not -6.0 < p.z - z < FAR:
                continue
            crossing = abs(math.sin(p.heading)) > 0.2
            if crossing and (abs(p.x) > ROAD_HALF + 1.2 and p.x * math.sin(p.heading) > 0):
                p.heading = (
                    0.0 if math.cos(p.heading) >= 0 else math.pi
                )  # reached the sidewalk: walk along it
            kept.append(p)
        self.walkers = kept

    # -- drawing ---------------------------------------------------------------------------

    def render(self) -> np.ndarray:
        cam, lay, cv = self.cam, self.layout, self.canvas
        render_world(
            cv.image,
            cv.zbg,
            cam.array(),
            lay.world,
            lay.blocks_left,
            lay.blocks_right,
            lay.crossings,
            _NO_CUBOIDS,
            *bin_cuboids(_NO_CUBOIDS, cam),
        )
        cv.depth[:] = cv.zbg
        cv.clear_layers()
        things = [t for t in (*lay.props, *lay.parked, *self.cars, *self.walkers) if -2.0 < t.z - cam.z < FAR]
        pos = np.array([[t.x, t.ref_height, t.z] for t in things]).reshape(-1, 3)
        depth = cam.project(pos)[1]
        order = [k for k in np.argsort(-depth, kind="stable") if NEAR < depth[k] < FAR]
        shapes = Shapes()
        self._drawn = []
        for k in order:
            thing = things[k]
            oid = len(self._drawn) if thing.label >= 0 else -1
            if thing.draw(shapes, cam, oid) and oid >= 0:
                self._drawn.append(thing)
        cv.draw(shapes, lay.world[W_HAZE], lay.world[W_FOG])
        return cv.image.copy()

    def labels(self, t: int) -> np.ndarray:
        """Boxes (:data:`~spikesight.io.bbox.BBOX_DTYPE`) of the labelled actors of the last frame drawn."""
        cfg = self.config
        visible, area = self.canvas.visibility(len(self._drawn))
        rows = []
        for oid, thing in enumerate(self._drawn):
            if area[oid] == 0 or visible[oid] < cfg.min_pixels or visible[oid] < cfg.min_visible * area[oid]:
                continue
            box = thing.box(self.cam)
            if box is None:
                continue
            x0, y0 = max(box[0], 0.0), max(box[1], 0.0)
            x1, y1 = min(box[0] + box[2], cfg.width), min(box[1] + box[3], cfg.height)
            if x1 - x0 < 2.0 or y1 - y0 < 2.0:
                continue
            rows.append((t, x0, y0, x1 - x0, y1 - y0, thing.label, thing.track_id))
        out = np.zeros(len(rows), dtype=BBOX_DTYPE)
        for k, (tt, x, y, w, h, c, tid) in enumerate(rows):
            out[k] = (tt, x, y, w, h, c, tid, 1.0)
        return out
