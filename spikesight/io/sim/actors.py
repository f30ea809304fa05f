"""The things that move or stand in a street: cars, pedestrians and street furniture.

A car is a 3-D model made of planar quads (body and cabin boxes, windows, lights, plates,
wheels with turning spokes), projected through the camera, with the faces turned away culled;
it has a true perspective outline and a box that encloses it however it is seen. Pedestrians
(a walking, articulated figure: head, torso, arms and legs that swing with the gait) and
street furniture (poles, lamps, trees, signs) are drawn as upright cut-outs facing the camera
at their depth. Every actor adds its primitives to a :class:`~.raster.Shapes` list; the scene
sorts actors far to near before drawing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .raster import Shapes
from .world import Camera

NEAR = 0.5  # metres: the near clipping plane (camera depth)
_BOX_EDGES = np.array([(i, i | b) for i in range(8) for b in (1, 2, 4) if not i & b])  # corners 4x + 2y + z


def _clip_near(points: np.ndarray, zc: np.ndarray) -> np.ndarray:
    """The part of a planar polygon (world ``points`` [n, 3], camera depths ``zc``) at depth >= NEAR."""
    out = []
    n = len(points)
    for i in range(n):
        j = (i + 1) % n
        if zc[i] >= NEAR:
            out.append(points[i])
        if (zc[i] >= NEAR) != (zc[j] >= NEAR):
            out.append(points[i] + (points[j] - points[i]) * ((NEAR - zc[i]) / (zc[j] - zc[i])))
    return np.array(out).reshape(-1, 3)


def _box_faces(x0, x1, y0, y1, z0, z1):
    """The five faces of a box other than its bottom: (quads [5, 4, 3], outward normals [5, 3])."""
    quads = np.array(
        [
            [[x0, y0, z1], [x1, y0, z1], [x1, y1, z1], [x0, y1, z1]],  # front (+z)
            [[x0, y0, z0], [x0, y1, z0], [x1, y1, z0], [x1, y0, z0]],  # back (-z)
            [[x0, y0, z0], [x0, y0, z1], [x0, y1, z1], [x0, y1, z0]],  # left (-x)
            [[x1, y0, z0], [x1, y1, z0], [x1, y1, z1], [x1, y0, z1]],  # right (+x)
            [[x0, y1, z0], [x0, y1, z1], [x1, y1, z1], [x1, y1, z0]],  # top (+y)
        ]
    )
    normals = np.array([[0, 0, 1], [0, 0, -1], [-1, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=np.float64)
    return quads, normals


def _quad_on(face: str, x0, x1, y0, y1, z0, z1, a0, a1, b0, b1, eps=0.01):
    """A rectangle on a box face: ``a`` runs across the face, ``b`` up it (or along z on the top)."""
    if face == "front":
        return [[a0, b0, z1 + eps], [a1, b0, z1 + eps], [a1, b1, z1 + eps], [a0, b1, z1 + eps]]
    if face == "back":
        return [[a0, b0, z0 - eps], [a1, b0, z0 - eps], [a1, b1, z0 - eps], [a0, b1, z0 - eps]]
    if face == "left":
        return [[x0 - eps, b0, a0], [x0 - eps, b0, a1], [x0 - eps, b1, a1], [x0 - eps, b1, a0]]
    return [[x1 + eps, b0, a0], [x1 + eps, b0, a1], [x1 + eps, b1, a1], [x1 + eps, b1, a0]]


_FACE_INDEX = {"front": 0, "back": 1, "left": 2, "right": 3, "top": 4}


@dataclass
class CarLook:
    """Shape and shading of one car (metres, intensities in [0, 1])."""

    length: float
    width: float
    body_height: float
    total_height: float
    cabin: tuple[float, float]  # cabin start and end along the car, fractions of the length
    body: float
    glass: float
    lights: float
    wheel_radius: float = 0.32

    @staticmethod
    def random(rng: np.random.Generator) -> CarLook:
        kind = rng.choice(["compact", "sedan", "suv", "van"], p=[0.3, 0.35, 0.25, 0.1])
        length, width, hb, ht = {
            "compact": (3.8, 1.7, 0.95, 1.45),
            "sedan": (4.6, 1.8, 1.0, 1.45),
            "suv": (4.7, 1.9, 1.1, 1.75),
            "van": (5.2, 2.0, 1.2, 2.1),
        }[kind]
        s = rng.uniform(0.92, 1.08)
        cabin = {"compact": (0.2, 0.85), "sedan": (0.25, 0.72), "suv": (0.12, 0.8), "van": (0.05, 0.85)}[kind]
        body = float(rng.choice([rng.uniform(0.04, 0.15), rng.uniform(0.25, 0.55), rng.uniform(0.65, 0.95)]))
        glass = float(rng.uniform(0.03, 0.15) if body > 0.3 else rng.uniform(0.2, 0.4))
        return CarLook(
            length * s, width * s, hb * s, ht * s, cabin, body, glass, float(rng.uniform(0.5, 1.0))
        )


class CarModel:
    """The quads of a car in its own frame (x right, y up, z forward, origin at ground centre)."""

    def __init__(self, look: CarLook) -> None:
        self.look = look
        L, W, hb, ht = look.length, look.width, look.body_height, look.total_height
        clr = 0.22
        x0, x1, z0, z1 = -W / 2, W / 2, -L / 2, L / 2
        quads, groups, values = [], [], []

        def add(qs, group, value):
            quads.append(np.asarray(qs, dtype=np.float64))
            groups.append(group)
            values.append(value)

        body_q, normals = _box_faces(x0, x1, clr, hb, z0, z1)
        shade = (1.0, 0.95, 0.8, 0.8, 1.15)
        for k in range(5):
            add(body_q[k], k, min(look.body * shade[k], 1.0))
        # tyres seen under the bumpers, lights, plates, grille
        for face in ("front", "back"):
            g = _FACE_INDEX[face]
            for a0, a1 in ((x0 + 0.05, x0 + 0.3), (x1 - 0.3, x1 - 0.05)):
                add(
                    _quad_on(face, x0, x1, 0, hb, z0 + 0.25, z1 - 0.25, a0, a1, 0.0, clr + 0.02, 0.0), g, 0.03
                )
            for a0, a1 in ((x0 + 0.08, x0 + 0.38), (x1 - 0.38, x1 - 0.08)):
                light = look.lights if face == "back" else min(look.lights + 0.2, 1.0)
                add(_quad_on(face, x0, x1, 0, hb, z0, z1, a0, a1, hb - 0.25, hb - 0.08), g, light)
            add(_quad_on(face, x0, x1, 0, hb, z0, z1, -0.26, 0.26, clr + 0.15, clr + 0.27), g, 0.85)
            if face == "front":
                add(_quad_on(face, x0, x1, 0, hb, z0, z1, -0.45, 0.45, hb - 0.3, hb - 0.12), g, 0.06)
        cz0, cz1 = z0 + look.cabin[0] * L, z0 + look.cabin[1] * L
        cx0, cx1 = x0 + 0.12, x1 - 0.12
        cab_q, cab_n = _box_faces(cx0, cx1, hb, ht, cz0, cz1)
        for k in range(5):
            add(cab_q[k], 5 + k, min(look.body * shade[k] * 0.95, 1.0))
        for face in ("front", "back"):
            add(
                _quad_on(face, cx0, cx1, hb, ht, cz0, cz1, cx0 + 0.08, cx1 - 0.08, hb + 0.06, ht - 0.07),
                5 + _FACE_INDEX[face],
                look.glass,
            )
        for face in ("left", "right"):
            mid = 0.5 * (cz0 + cz1)
            for a0, a1 in ((cz0 + 0.12, mid - 0.05), (mid + 0.05, cz1 - 0.12)):
                add(
                    _quad_on(face, cx0, cx1, hb, ht, cz0, cz1, a0, a1, hb + 0.06, ht - 0.08),
                    5 + _FACE_INDEX[face],
                    look.glass,
                )
        self.quads = np.stack(quads)  # [Q, 4, 3]
        self.groups = np.array(groups)
        self.values = np.array(values)
        self.normals = np.concatenate([normals, cab_n])  # [10, 3] per group
        group_points = np.concatenate([body_q[:, 0], cab_q[:, 0]])
        self.group_points = group_points  # a point on each group's plane
        self.corners = np.array([[x, y, z] for x in (x0, x1) for y in (0.0, ht) for z in (z0, z1)])
        # wheels: octagons on the side faces, centres along the car
        r = look.wheel_radius
        self.wheel_centres = np.array(
            [[side * (W / 2 + 0.02), r, zc] for side in (-1, 1) for zc in (z0 + 0.8, z1 - 0.8)]
        )
        self.wheel_groups = np.array([2, 2, 3, 3])


def _rotate(points: np.ndarray, heading: float) -> np.ndarray:
    """Turn car-frame points (or vectors) by ``heading`` about the vertical (0: +Z, pi/2: +X)."""
    c, s = math.cos(heading), math.sin(heading)
    out = np.empty_like(points)
    out[..., 0] = points[..., 0] * c + points[..., 2] * s
    out[..., 1] = points[..., 1]
    out[..., 2] = -points[..., 0] * s + points[..., 2] * c
    return out


@dataclass
class Car:
    """A car at ground position ``(x, z)`` heading ``heading`` (radians, 0 = along +Z) at ``speed``."""

    model: CarModel
    x: float
    z: float
    heading: float
    speed: float
    track_id: int
    parked: bool = False
    wheel_angle: float = 0.0

    label = 0
    ref_height = 0.5

    def step(self, dt: float) -> None:
        self.x += math.sin(self.heading) * self.speed * dt
        self.z += math.cos(self.heading) * self.speed * dt
        self.wheel_angle += self.speed * dt / self.model.look.wheel_radius

    def world(self, points: np.ndarray) -> np.ndarray:
        return _rotate(points, self.heading) + np.array([self.x, 0.0, self.z])

    def depth(self, cam: Camera) -> float:
        return float(cam.project(np.array([self.x, self.ref_height, self.z]))[1])

    def box(self, cam: Camera) -> tuple[float, float, float, float] | None:
        """Image box ``(x, y, w, h)`` enclosing the whole car (its part in front of the near plane),
        or ``None`` when it is all behind it."""
        corners = self.world(self.model.corners)
        _, zc = cam.project(corners)
        front = zc >= NEAR
        if not front.any():
            return None
        points = [corners[front]]
        a, b = _BOX_EDGES[:, 0], _BOX_EDGES[:, 1]
        cut = front[a] != front[b]
        if cut.any():
            za, zb = zc[a][cut], zc[b][cut]
            points.append(
                corners[a][cut] + (corners[b][cut] - corners[a][cut]) * ((NEAR - za) / (zb - za))[:, None]
            )
        uv, _ = cam.project(np.concatenate(points))
        x0, y0 = uv.min(axis=0)
        x1, y1 = uv.max(axis=0)
        return float(x0), float(y0), float(x1 - x0), float(y1 - y0)

    def draw(self, shapes: Shapes, cam: Camera, oid: int) -> bool:
        m = self.model
        quads = self.world(m.quads)
        uv, zc = cam.project(quads)
        front = zc >= NEAR
        if not front.any():
            return False
        cam_pos = np.array([cam.x, cam.y, cam.z])
        normals = _rotate(m.normals, self.heading)
        facing = np.einsum("ij,ij->i", normals, cam_pos - self.world(m.group_points)) > 0
        visible = facing[m.groups] & front.any(axis=1)
        if front[visible].all():
            shapes.polygons(uv[visible], m.values[visible], zc[visible].mean(axis=1), oid)
        else:  # the car reaches behind the near plane: clip the quads that cross it
            for k in np.flatnonzero(visible):
                if front[k].all():
                    shapes.polygon(uv[k], m.values[k], float(zc[k].mean()), oid)
                    continue
                part = _clip_near(quads[k], zc[k])
                if len(part) >= 3:
                    puv, pz = cam.project(part)
                    shapes.polygon(puv, m.values[k], float(pz.mean()), oid)
        self._draw_wheels(shapes, cam, facing, oid)
        return True

    def _draw_wheels(self, shapes: Shapes, cam: Camera, facing: np.ndarray, oid: int) -> None:
        m = self.model
        centres = m.wheel_centres[facing[m.wheel_groups]]
        if not len(centres):
            return
        r = m.look.wheel_radius
        a = self.wheel_angle
        spoke = (
            np.array(
                [
                    [[0.0, -s, -c], [0.0, s, c]]
                    for s, c in ((math.sin(a), math.cos(a)), (math.cos(a), -math.sin(a)))
                ]
            )
            * 0.5
            * r
        )
        width = np.array([[0.0, math.cos(a), -math.sin(a)], [0.0, -math.sin(a), -math.cos(a)]]) * 0.07
        spokes = np.stack(
            [spoke[:, 0] - width, spoke[:, 1] - width, spoke[:, 1] + width, spoke[:, 0] + width], axis=1
        )  # [2, 4, 3]
        parts = np.concatenate(
            [r * _CIRCLE, 0.55 * r * _CIRCLE, spokes.reshape(8, 3)]
        )  # [24, 3] around a wheel centre
        uv, zc = cam.project(self.world(centres[:, None, :] + parts[None]))
        whole = (zc >= NEAR).all(axis=1)  # a wheel reaching behind the near plane is left out
        uv, zc = uv[whole], zc[whole]
        depth = zc.mean(axis=1)
        shapes.polygons(uv[:, :8], 0.04, depth, oid)
        shapes.polygons(uv[:, 8:16], 0.45, depth, oid)
        shapes.polygons(uv[:, 16:].reshape(-1, 4, 2), 0.15, np.repeat(depth, 2), oid)


_CIRCLE = np.stack([np.zeros(8), np.sin(np.arange(8) * np.pi / 4), np.cos(np.arange(8) * np.pi / 4)], axis=-1)


@dataclass
class PersonLook:
    """Height (m), build, and the intensities of skin, hair, top and trousers."""

    height: float
    build: float
    skin: float
    hair: float
    top: float
    legs: float
    stride: float

    @staticmethod
    def random(rng: np.random.Generator) -> PersonLook:
        top = float(rng.choice([rng.uniform(0.03, 0.2), rng.uniform(0.3, 0.6), rng.uniform(0.7, 0.95)]))
        return PersonLook(
            height=float(rng.uniform(1.5, 1.95)),
            build=float(rng.uniform(0.85, 1.2)),
            skin=float(rng.uniform(0.25, 0.75)),
            hair=float(rng.uniform(0.02, 0.6)),
            top=top,
            legs=float(rng.uniform(0.03, 0.6)),
            stride=float(rng.uniform(0.6, 0.8)),
        )


@dataclass
class Pedestrian:
    """A walking person at ground position ``(x, z)``, heading ``heading``, at ``speed`` m/s."""

    look: PersonLook
    x: float
    z: float
    heading: float
    speed: float
    track_id: int
    phase: float = 0.0
    label = 1
    ref_height = 0.9

    def step(self, dt: float) -> None:
        self.x += math.sin(self.heading) * self.speed * dt
        self.z += math.cos(self.heading) * self.speed * dt
        self.phase += self.speed * dt / self.look.stride * math.pi

    def depth(self, cam: Camera) -> float:
        return float(cam.project(np.array([self.x, self.ref_height, self.z]))[1])

    def _anchor(self, cam: Camera) -> tuple[float, float, float, float] | None:
        """Image position of the feet, pixels per metre, and how much of the gait shows side-on."""
        uv, zc = cam.project(np.array([[self.x, 0.0, self.z], [self.x, self.look.height, self.z]]))
        if np.any(zc < NEAR):
            return None
        scale = float(uv[0, 1] - uv[1, 1]) / self.look.height
        # walking direction against the viewing direction: 1 crossing the view, 0 along it
        vx, vz = self.x - cam.x, self.z - cam.z
        view = math.atan2(vx, vz)
        side = math.sin(self.heading - view)
        return float(uv[0, 0]), float(uv[0, 1]), scale, side

    def box(self, cam: Camera) -> tuple[float, float, float, float] | None:
        a = self._anchor(cam)
        if a is None:
            return None
        u, v, s, side = a
        h = self.look.height
        half = max(0.25 * self.look.build, 0.45 * abs(side) * self.look.stride) + 0.12
        return u - half * s, v - h * s, 2 * half * s, h * s

    def draw(self, shapes: Shapes, cam: Camera, oid: int) -> bool:
        a = self._anchor(cam)
        if a is None:
            return False
        u, v, s, side = a
        lk = self.look
        h = lk.height
        d = self.depth(cam)
        swing = 0.45 * math.sin(self.phase)  # hip angle amplitude ~26 degrees
        bob = 0.02 * abs(math.cos(self.phase))

        def P(bx, by):
            return (u + bx * s, v - (by + bob) * s)

        hip, shoulder, neck = 0.52 * h, 0.81 * h, 0.86 * h
        thigh, shin = 0.245 * h, 0.245 * h
        upper, fore = 0.17 * h, 0.16 * h
        lateral = 0.09 * lk.build * (1 - abs(side))  # legs apart when seen front-on

        def limb(root_x, root_y, angle, bend, l1, l2, r0, r1, value):
            # angle swings the limb in the walking plane; side-on it shows as x, front-on as shortening
            kx = root_x + math.sin(angle) * l1 * side
            ky = root_y - math.cos(angle) * l1
            a2 = angle + bend
            ex = kx + math.sin(a2) * l2 * side
            ey = ky - math.cos(a2) * l2
            shapes.capsule(P(root_x, root_y), P(kx, ky), r0 * s, r1 * s, value, d, oid)
            shapes.capsule(P(kx, ky), P(ex, ey), r1 * s, 0.8 * r1 * s, value, d, oid)
            return ex, ey

        # far limbs first, then torso, then near limbs
        knee = 0.35 * max(0.0, math.sin(self.phase + math.pi / 2))
        knee2 = 0.35 * max(0.0, math.sin(self.phase - math.pi / 2))
        limb(-lateral, hip, -swing, -knee2, thigh, shin, 0.075 * lk.build, 0.055 * lk.build, lk.legs * 0.85)
        limb(
            -0.2 * lk.build * (1 - abs(side)),
            shoulder,
            0.6 * swing,
            0.3,
            upper,
            fore,
            0.05 * lk.build,
            0.04 * lk.build,
            lk.top * 0.85,
        )
        shapes.capsule(
            P(0, hip),
            P(0, shoulder),
            0.14 * lk.build * s * (1 - 0.4 * abs(side)) + 0.05 * s,
            0.17 * lk.build * s * (1 - 0.45 * abs(side)) + 0.05 * s,
            lk.top,
            d,
            oid,
        )
        shapes.capsule(P(0, shoulder), P(0, neck + 0.02 * h), 0.045 * s, 0.045 * s, lk.skin, d, oid)
        head_y = 0.935 * h
        shapes.ellipse(P(0, head_y), 0.075 * s, 0.1 * s, 0.0, lk.skin, d, oid)
        shapes.ellipse(P(-0.01 * side, head_y + 0.035), 0.078 * s, 0.07 * s, 0.0, lk.hair, d, oid)
        limb(lateral, hip, swing, -knee, thigh, shin, 0.075 * lk.build, 0.055 * lk.build, lk.legs)
        hx, hy = limb(
            0.2 * lk.build * (1 - abs(side)),
            shoulder,
            -0.6 * swing,
            0.3,
            upper,
            fore,
            0.05 * lk.build,
            0.04 * lk.build,
            lk.top,
        )
        shapes.ellipse(P(hx, hy), 0.045 * s, 0.05 * s, 0.0, lk.skin, d, oid)
        return True


@dataclass
class Prop:
    """Street furniture that does not move: ``kind`` is "pole", "lamp", "tree" or "sign"."""

    kind: str
    x: float
    z: float
    height: float
    value: float
    extra: list[float] = field(default_factory=list)
    track_id: int = -1
    label = -1
    ref_height = 1.0

    def depth(self, cam: Camera) -> float:
        return float(cam.project(np.array([self.x, self.ref_height, self.z]))[1])

    def draw(self, shapes: Shapes, cam: Camera, oid: int = -1) -> bool:
        uv, zc = cam.project(np.array([[self.x, 0.0, self.z], [self.x, self.height, self.z]]))
        if np.any(zc < NEAR):
            return False
        (u0, v0), (u1, v1) = uv
        s = (v0 - v1) / self.height
        d = float(zc.mean())
        if self.kind == "tree":
            shapes.capsule((u0, v0), (u1, v0 - 0.55 * self.height * s), 0.16 * s, 0.1 * s, 0.12, d)
            for k in range(0, len(self.extra), 4):
                dx, dy, r, val = self.extra[k : k + 4]
                shapes.ellipse((u1 + dx * s, v1 + dy * s), r * s, 0.8 * r * s, 0.0, val, d)
            return True
        shapes.capsule((u0, v0), (u1, v1), 0.07 * s, 0.05 * s, self.value, d)
        if self.kind == "lamp":
            arm = self.extra[0]
            shapes.capsule((u1, v1), (u1 + arm * s, v1 + 0.1 * s), 0.04 * s, 0.04 * s, self.value, d)
            shapes.ellipse((u1 + arm * s, v1 + 0.18 * s), 0.25 * s, 0.1 * s, 0.0, 0.9, d)
        elif self.kind == "sign":
            shapes.ellipse((u1, v1), 0.35 * s, 0.35 * s, 0.0, self.extra[0], d)
            shapes.ellipse((u1, v1), 0.26 * s, 0.26 * s, 0.0, self.extra[1], d)
        return True
