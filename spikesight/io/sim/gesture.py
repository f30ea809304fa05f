"""Gesture scenes: a person in front of a still camera performing the 11 DVS128 Gesture classes.

The camera (128x128, as the DVS128) sees a subject's upper body against a room wall. Each arm
is two tapered segments and a hand, placed by two-link inverse kinematics so that the hand
follows the gesture's path; the elbow bends outwards. Subjects differ in size, position,
build, shades of skin, hair, shirt and wall, sleeve length, speed and amplitude of the
movement, and in how much the body sways. Class numbers and names are the dataset's (1-11);
"right" and "left" are the subject's, who faces the camera, so the right arm is on the left of
the image, and "clockwise" is as the camera sees it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .patterns import filtered_noise
from .raster import Canvas, Shapes

GESTURE_CLASSES = (
    "hand_clapping",
    "right_hand_wave",
    "left_hand_wave",
    "right_arm_clockwise",
    "right_arm_counter_clockwise",
    "left_arm_clockwise",
    "left_arm_counter_clockwise",
    "arm_roll",
    "air_drums",
    "air_guitar",
    "other_gestures",
)
DVS128_SIZE = 128
RIGHT, LEFT = -1.0, 1.0  # image-x direction of the subject's right and left side
ARM_SHADE = 0.7
TRANSITION = 0.4  # seconds for the hands to move from one gesture (or rest) into the next


@dataclass
class Subject:
    """One person: geometry in pixels, shades in [0, 1], movement style."""

    cx: float
    shoulder_y: float
    shoulder_half: float
    upper: float
    fore: float
    head: float
    skin: float
    hair: float
    shirt: float
    sleeve: float
    wall: float
    wall_salt: int
    tempo: float
    amplitude: float
    sway: float
    phases: np.ndarray

    @staticmethod
    def random(rng: np.random.Generator) -> Subject:
        scale = rng.uniform(0.8, 1.15)
        skin = rng.uniform(0.25, 0.8)
        shirt = float(rng.choice([rng.uniform(0.03, 0.2), rng.uniform(0.3, 0.6), rng.uniform(0.7, 0.95)]))
        wall = rng.uniform(0.2, 0.85)
        if abs(wall - shirt) < 0.08:
            wall = min(0.95, wall + 0.2) if wall < 0.6 else wall - 0.2
        return Subject(
            cx=64.0 + rng.uniform(-10.0, 10.0),
            shoulder_y=rng.uniform(44.0, 58.0),
            shoulder_half=21.0 * scale,
            upper=rng.uniform(24.0, 29.0) * scale,
            fore=rng.uniform(22.0, 27.0) * scale,
            head=10.5 * scale,
            skin=skin,
            hair=rng.uniform(0.02, 0.6),
            shirt=shirt,
            sleeve=shirt if rng.random() < 0.6 else skin,
            wall=wall,
            wall_salt=int(rng.integers(0, 2**31)),
            tempo=rng.uniform(0.75, 1.3),
            amplitude=rng.uniform(0.8, 1.15),
            sway=rng.uniform(0.3, 1.5),
            phases=rng.uniform(0, 2 * np.pi, 12),
        )


def _ik(sx, sy, tx, ty, l1, l2, side):
    """Elbow position of a two-link arm from shoulder ``(sx, sy)`` reaching for ``(tx, ty)``."""
    dx, dy = tx - sx, ty - sy
    d = math.hypot(dx, dy)
    d = min(max(d, abs(l1 - l2) + 1e-3), l1 + l2 - 1e-3)
    base = math.atan2(dy, dx)
    bend = math.acos((l1 * l1 + d * d - l2 * l2) / (2 * l1 * d))
    # bend the elbow outwards (away from the body's midline): pick the sign that puts it there
    a1, a2 = base + bend, base - bend
    e1 = (sx + l1 * math.cos(a1), sy + l1 * math.sin(a1))
    e2 = (sx + l1 * math.cos(a2), sy + l1 * math.sin(a2))
    return e1 if (e1[0] - sx) * side > (e2[0] - sx) * side else e2


class GestureScene:
    """One subject performing gestures: ``plan`` lists ``(start µs, end µs, class)``, at rest in between;
    without a plan, :meth:`perform` switches gestures."""

    width = height = DVS128_SIZE

    def __init__(
        self, subject: Subject, rng: np.random.Generator, plan: list[tuple[int, int, int]] | None = None
    ) -> None:
        self.s = subject
        self.rng = rng
        self.plan = plan or []
        self.time = 0.0
        self.clock_us = 0
        self.gesture = 0  # 0: at rest
        self.gesture_time = 0.0
        self._other = rng.uniform(0, 2 * np.pi, (2, 2, 3))
        self._last: tuple | None = None  # hand positions of the last frame
        self._from: tuple | None = None  # hand positions when the gesture started
        self.canvas = Canvas(self.width, self.height)
        self.background = self._background()

    def _background(self) -> np.ndarray:
        s = self.s
        img = np.empty((self.height, self.width))
        for y in range(self.height):
            for x in range(self.width):
                img[y, x] = s.wall * (0.85 + 0.3 * filtered_noise(x / 23.0, y / 23.0, 0.0, s.wall_salt))
        # a door or a shelf edge behind the subject: still, so it gives no events but noise
        x0 = int(self.rng.integers(0, 30)) if self.rng.random() < 0.5 else int(self.rng.integers(98, 126))
        img[:, x0 : x0 + 2] *= 0.7
        return img

    def perform(self, gesture: int) -> None:
        """Start gesture ``gesture`` (1-11), or rest (0); the hands move there smoothly."""
        self.gesture = gesture
        self.gesture_time = 0.0
        self._from = self._last
        self._other = self.rng.uniform(0, 2 * np.pi, (2, 2, 3))

    def advance(self, dt: float) -> None:
        self.time += dt
        self.gesture_time += dt
        self.clock_us += round(dt * 1e6)
        if self.plan:
            planned = next((g for start, end, g in self.plan if start <= self.clock_us < end), 0)
            if planned != self.gesture:
                self.perform(planned)

    def _hands(self, sh_r, sh_l) -> tuple[tuple[float, float], tuple[float, float]]:
        s, g = self.s, self.gesture
        arm = s.upper + s.fore
        t = self.gesture_time * s.tempo
        amp = s.amplitude
        ph = 2 * math.pi * t
        rest_r = (sh_r[0] + RIGHT * 0.15 * arm, sh_r[1] + 0.93 * arm)
        rest_l = (sh_l[0] + LEFT * 0.15 * arm, sh_l[1] + 0.93 * arm)
        mid = (sh_r[0] + sh_l[0]) / 2
        if g == 0:
            return rest_r, rest_l
        if g == 1:  # hand clapping: hands meet in front of the chest
            gap = 0.04 * arm + 0.28 * arm * amp * (1 + math.cos(ph * 1.6)) / 2
            y = sh_r[1] + 0.55 * arm
            return (mid + RIGHT * gap, y), (mid + LEFT * gap, y)
        if g in (2, 3):  # hand wave: the forearm up, waving side to side
            side, sh = (RIGHT, sh_r) if g == 2 else (LEFT, sh_l)
            hand = (sh[0] + side * (0.45 + 0.22 * amp * math.sin(ph * 1.4)) * arm, sh[1] - 0.55 * arm)
            return (hand, rest_l) if g == 2 else (rest_r, hand)
        if g in (4, 5, 6, 7):  # arm circles, clockwise on screen (image y points down)
            side, sh = (RIGHT, sh_r) if g in (4, 5) else (LEFT, sh_l)
            direction = 1.0 if g in (4, 6) else -1.0
            a = direction * ph * 0.8
            r = 0.38 * arm * amp
            centre = (sh[0] + side * 0.5 * arm, sh[1] - 0.05 * arm)
            hand = (centre[0] + r * math.cos(a), centre[1] + r * math.sin(a))
            return (hand, rest_l) if side == RIGHT else (rest_r, hand)
        if g == 8:  # arm roll: the forearms roll around each other in front of the chest
            a = ph * 1.2
            r = 0.14 * arm * amp
            c = (mid, sh_r[1] + 0.6 * arm)
            return (
                (c[0] + r * math.cos(a) + RIGHT * 0.05 * arm, c[1] + r * math.sin(a)),
                (c[0] - r * math.cos(a) + LEFT * 0.05 * arm, c[1] - r * math.sin(a)),
            )
        if g == 9:  # air drums: both hands beat up and down, in turn
            h = 0.16 * arm * amp
            return (
                (sh_r[0] + RIGHT * 0.3 * arm, sh_r[1] + 0.62 * arm + h * math.sin(ph * 1.8)),
                (sh_l[0] + LEFT * 0.3 * arm, sh_l[1] + 0.62 * arm + h * math.sin(ph * 1.8 + math.pi)),
            )
        if g == 10:  # air guitar: the left hand on the neck, the right hand strumming at the hip
            neck = (sh_l[0] + LEFT * 0.6 * arm + 0.03 * arm * math.sin(ph * 0.7), sh_l[1] + 0.3 * arm)
            strum = (mid + RIGHT * 0.08 * arm, sh_r[1] + 0.8 * arm + 0.13 * arm * amp * math.sin(ph * 2.2))
            return strum, neck
        # other gestures: smooth but aimless movement of both hands
        hands = []
        for k, (sh, side) in enumerate(((sh_r, RIGHT), (sh_l, LEFT))):
            p = self._other[k]
            ox = sum(math.sin(ph * (0.4 + 0.35 * j) + p[0, j]) for j in range(3)) / 2
            oy = sum(math.sin(ph * (0.45 + 0.3 * j) + p[1, j]) for j in range(3)) / 2
            hands.append((sh[0] + side * (0.35 + 0.35 * ox) * arm, sh[1] + (0.3 + 0.45 * oy) * arm))
        return hands[0], hands[1]

    def render(self) -> np.ndarray:
        s, cv = self.s, self.canvas
        cv.image[:] = self.background
        cv.clear_layers()
        sway = s.sway * math.sin(2 * math.pi * 0.23 * self.time + s.phases[0])
        bob = 0.4 * s.sway * math.sin(2 * math.pi * 0.31 * self.time + s.phases[1])
        cx, sy = s.cx + sway, s.shoulder_y + bob
        sh_r = (cx + RIGHT * s.shoulder_half, sy)
        sh_l = (cx + LEFT * s.shoulder_half, sy)
        hand_r, hand_l = self._hands(sh_r, sh_l)
        if self._from is not None and self.gesture_time < TRANSITION:
            b = self.gesture_time / TRANSITION
            b = b * b * (3 - 2 * b)
            (fr, fl) = self._from
            hand_r = (fr[0] + (hand_r[0] - fr[0]) * b, fr[1] + (hand_r[1] - fr[1]) * b)
            hand_l = (fl[0] + (hand_l[0] - fl[0]) * b, fl[1] + (hand_l[1] - fl[1]) * b)
        self._last = (hand_r, hand_l)
        shapes = Shapes()
        w = s.shoulder_half
        shapes.polygon(
            [(cx - w - 3, sy - 2), (cx + w + 3, sy - 2), (cx + 0.8 * w, 140.0), (cx - 0.8 * w, 140.0)],
            s.shirt,
            2.0,
        )
        shapes.capsule((cx, sy - 6), (cx, sy - 12), 4.0, 4.0, s.skin, 2.0)
        hx, hy = cx + 0.3 * sway, sy - 12 - s.head
        shapes.ellipse((hx, hy), 0.8 * s.head, s.head, 0.0, s.skin, 2.0)
        shapes.ellipse((hx, hy - 0.45 * s.head), 0.85 * s.head, 0.6 * s.head, 0.0, s.hair, 2.0)
        for sh, hand, side in ((sh_r, hand_r, RIGHT), (sh_l, hand_l, LEFT)):
            ex, ey = _ik(sh[0], sh[1], hand[0], hand[1], s.upper, s.fore, side)
            # the forearm ends at the wrist, the hand continues along it
            fx, fy = hand[0] - ex, hand[1] - ey
            n = math.hypot(fx, fy) or 1.0
            wx, wy = ex + fx / n * s.fore, ey + fy / n * s.fore
            # arms are shaded apart from the torso (turned away from the light), so that an arm
            # in front of the body still shows, as it does in real recordings
            shapes.capsule(sh, (ex, ey), 5.0, 4.2, ARM_SHADE * s.shirt, 1.0)
            shapes.capsule((ex, ey), (wx, wy), 4.0, 3.0, ARM_SHADE * s.sleeve, 1.0)
            shapes.ellipse(
                (wx + fx / n * 3.0, wy + fy / n * 3.0),
                3.6,
                4.6,
                math.atan2(fy, fx) - math.pi / 2,
                s.skin,
                1.0,
            )
        cv.draw(shapes)
        return cv.image.copy()
