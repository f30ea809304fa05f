"""The static street: blocks of buildings, cross streets, parked cars and street furniture.

The street is laid out in 100 m segments along Z, each drawn from its own random stream
(``seed``, segment index), and generated when the camera first gets near: the street is the
same whatever the duration of a scene and however far it drives.
"""

from __future__ import annotations

import numpy as np

from .actors import Car, CarLook, CarModel, Prop
from .world import (
    B_COLS,
    N_WORLD,
    W_ASPHALT,
    W_BACK,
    W_BACK_H,
    W_FOG,
    W_HAZE,
    W_LEFT,
    W_LINE,
    W_RIGHT,
    W_ROAD,
    W_SALT,
    W_SKY_LOW,
    W_SKY_TOP,
    W_WALK,
)

SEGMENT = 100.0
AHEAD = 160.0  # metres of street kept ready in front of the camera
ROAD_HALF = 5.25
PARKING_X = ROAD_HALF - 1.05


class StreetLayout:
    """Everything in the street that does not move, generated segment by segment."""

    def __init__(self, seed: int, rng: np.random.Generator, parked_cars: bool = True) -> None:
        self.seed = int(seed)
        self.parked_cars = parked_cars
        w = np.zeros(N_WORLD)
        w[W_ROAD] = ROAD_HALF
        w[W_LEFT] = ROAD_HALF + rng.uniform(2.5, 5.0)
        w[W_RIGHT] = ROAD_HALF + rng.uniform(2.5, 5.0)
        w[W_BACK] = 30.0
        w[W_BACK_H] = 25.0
        w[W_FOG] = rng.uniform(120.0, 250.0)
        w[W_SKY_TOP] = rng.uniform(0.55, 0.9)
        w[W_SKY_LOW] = w[W_SKY_TOP] * rng.uniform(0.75, 0.95)
        w[W_HAZE] = w[W_SKY_LOW]
        w[W_ASPHALT] = rng.uniform(0.12, 0.3)
        w[W_WALK] = rng.uniform(0.3, 0.55)
        w[W_LINE] = rng.uniform(0.7, 0.95)
        w[W_SALT] = int(rng.integers(0, 2**31))
        self.world = w
        self.blocks_left = np.zeros((0, B_COLS))
        self.blocks_right = np.zeros((0, B_COLS))
        self.crossings = np.zeros((0, 2))
        self.props: list[Prop] = []
        self.parked: list[Car] = []
        self._segments: set[int] = set()
        self._next_track = 1_000_000  # track ids of parked cars (moving ones count from 0)

    def ensure(self, z_from: float, z_to: float) -> None:
        """Generate every segment that overlaps ``[z_from, z_to + AHEAD)``."""
        for s in range(int(np.floor(z_from / SEGMENT)), int(np.floor((z_to + AHEAD) / SEGMENT)) + 1):
            if s not in self._segments:
                self._segments.add(s)
                self._segment(s)

    def in_crossing(self, z: float, margin: float = 0.0) -> bool:
        c = self.crossings
        return bool(np.any((z >= c[:, 0] - margin) & (z < c[:, 1] + margin)))

    def _segment(self, s: int) -> None:
        rng = np.random.default_rng([self.seed, 7, s + (1 << 20)])
        z0, z1 = s * SEGMENT, (s + 1) * SEGMENT
        crossings = []
        if rng.random() < 0.6:
            c0 = z0 + rng.uniform(15.0, 70.0)
            crossings.append((c0, c0 + rng.uniform(10.0, 15.0)))
        free = [(z0, z1)]
        for c0, c1 in crossings:
            free = [(a, b) for a, b in ((z0, c0), (c1, z1)) if b > a]
        for store in ("blocks_left", "blocks_right"):
            rows = []
            for a, b in free:
                z = a
                while z < b - 1.0:
                    length = min(rng.uniform(8.0, 30.0), b - z)
                    if rng.random() < 0.12:  # an alley or a yard between buildings
                        z += rng.uniform(2.0, 6.0)
                        continue
                    floor_h = rng.uniform(2.8, 3.6)
                    base = rng.uniform(0.15, 0.7)
                    window = rng.choice([rng.uniform(0.03, 0.15), rng.uniform(0.75, 0.95)])
                    rows.append(
                        (
                            z,
                            z + length,
                            rng.uniform(4.0, 24.0),
                            base,
                            window,
                            floor_h,
                            rng.uniform(1.8, 3.4),
                            rng.integers(0, 2**31),
                        )
                    )
                    z += length
            if rows:
                merged = np.concatenate([getattr(self, store), np.array(rows, dtype=np.float64)])
                setattr(self, store, merged[np.argsort(merged[:, 0], kind="stable")])
        if crossings:
            merged = np.concatenate([self.crossings, np.array(crossings)])
            self.crossings = merged[np.argsort(merged[:, 0], kind="stable")]
        self._furniture(rng, z0, z1)

    def _furniture(self, rng: np.random.Generator, z0: float, z1: float) -> None:
        for side in (-1.0, 1.0):
            z = z0 + rng.uniform(0.0, 20.0)
            while z < z1:
                if not self.in_crossing(z, 1.0):
                    kind = rng.choice(["lamp", "pole", "tree", "sign"], p=[0.35, 0.15, 0.35, 0.15])
                    if kind == "tree":
                        extra = []
                        for _ in range(int(rng.integers(2, 5))):
                            extra += [
                                rng.uniform(-0.8, 0.8),
                                rng.uniform(-0.6, 0.9),
                                rng.uniform(0.8, 1.6),
                                rng.uniform(0.06, 0.35),
                            ]
                        self.props.append(
                            Prop("tree", side * (ROAD_HALF + 1.6), z, rng.uniform(4.0, 7.0), 0.12, extra)
                        )
                    else:
                        height = {
                            "lamp": rng.uniform(5.0, 7.0),
                            "pole": rng.uniform(2.5, 4.0),
                            "sign": rng.uniform(2.2, 2.8),
                        }[kind]
                        extra = (
                            [-side * rng.uniform(0.8, 1.5)]
                            if kind == "lamp"
                            else [rng.uniform(0.6, 0.95), rng.uniform(0.05, 0.4)]
                        )
                        self.props.append(
                            Prop(kind, side * (ROAD_HALF + 0.45), z, height, rng.uniform(0.05, 0.5), extra)
                        )
                z += rng.uniform(12.0, 30.0)
        if not self.parked_cars:
            return
        z = z0 + rng.uniform(0.0, 15.0)
        while z < z1:
            look = CarLook.random(rng)
            gap = rng.uniform(0.8, 25.0)
            if not self.in_crossing(z, look.length + 5.0) and rng.random() < 0.7:
                self.parked.append(
                    Car(
                        CarModel(look),
                        PARKING_X + rng.uniform(-0.15, 0.15),
                        z + look.length / 2,
                        rng.choice([0.0, np.pi]) + rng.uniform(-0.03, 0.03),
                        0.0,
                        self._next_track,
                        parked=True,
                    )
                )
                self._next_track += 1
            z += look.length + gap
