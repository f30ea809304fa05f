"""The ray-cast street: depths worked out by hand, and the camera's projection against its rays."""

import math

import numpy as np
import pytest

from spikesight.io.sim.world import (
    B_COLS,
    N_WORLD,
    TILE,
    W_BACK,
    W_BACK_H,
    W_FOG,
    W_LEFT,
    W_RIGHT,
    W_ROAD,
    Camera,
    bin_cuboids,
    render_world,
)

W, H = 64, 48


def _world(wall=1e6):
    w = np.zeros(N_WORLD)
    w[W_ROAD], w[W_LEFT], w[W_RIGHT], w[W_BACK], w[W_BACK_H], w[W_FOG] = 5.25, wall, wall, 30.0, 25.0, 100.0
    return w


def _render(cam, w, blocks_r=None, cuboids=None, bins=None):
    img, depth = np.zeros((H, W)), np.zeros((H, W))
    cub = np.zeros((0, 10)) if cuboids is None else cuboids
    br = np.zeros((0, B_COLS)) if blocks_r is None else blocks_r
    render_world(
        img,
        depth,
        cam.array(),
        w,
        np.zeros((0, B_COLS)),
        br,
        np.zeros((0, 2)),
        cub,
        *(bins if bins is not None else bin_cuboids(cub, cam)),
    )
    return img, depth


def test_flat_ground_depth_is_f_h_over_the_row_offset():
    cam = Camera(W, H, f=50.0, cx=32.0, cy=20.0, y=1.5)
    img, depth = _render(cam, _world())
    rows = np.arange(H) + 0.5 - 20.0
    for y in range(H):
        if rows[y] > 0:
            np.testing.assert_allclose(depth[y], 50.0 * 1.5 / rows[y], rtol=1e-12)
        else:
            assert np.all(np.isinf(depth[y]))  # the sky
    assert np.all((img >= 0) & (img <= 1))


def test_facade_depth():
    cam = Camera(W, H, f=50.0, cx=32.0, cy=24.5, y=1.5)
    w = _world()
    w[W_RIGHT] = 8.0
    block = np.array([[-100.0, 1000.0, 60.0, 0.5, 0.2, 3.0, 2.5, 7]])
    _, depth = _render(cam, w, blocks_r=block)
    y = 24  # the horizon row (its centre is at cy): level rays never meet the ground
    for x in range(33, W):
        assert depth[y, x] == pytest.approx(8.0 * 50.0 / (x + 0.5 - 32.0), rel=1e-12)


def test_box_in_front_and_tiles():
    cam = Camera(W, H, f=50.0, cx=32.0, cy=24.0, y=1.5)
    box = np.array(
        [
            [-1.0, 1.0, 0.0, 3.0, 10.0, 12.0, 0.5, 0.2, 5, 0.0],  # in front
            [-1.0, 1.0, 0.0, 3.0, -12.0, -10.0, 0.5, 0.2, 6, 0.0],  # behind the camera
            [3.0, 4.0, 0.0, 2.0, -2.0, 30.0, 0.4, 0.2, 7, 0.3],
        ]
    )  # alongside, reaching behind
    img, depth = _render(cam, _world(), cuboids=box)
    assert depth[24, 32] == pytest.approx(10.0)
    assert depth[24 - 4, 32 - 4] == pytest.approx(10.0)
    _, items = bin_cuboids(box, cam)
    tiles = -(-W // TILE) * -(-H // TILE)
    assert 1 not in items.tolist()
    assert items.tolist().count(2) == tiles  # reaches behind the camera: every tile tests it
    every = (np.arange(tiles + 1) * 3, np.tile(np.arange(3), tiles))
    img2, depth2 = _render(cam, _world(), cuboids=box, bins=every)
    np.testing.assert_array_equal(depth, depth2)
    np.testing.assert_array_equal(img, img2)


@pytest.mark.parametrize(
    "yaw,pitch,x,z", [(0.0, 0.0, 0.0, 0.0), (0.3, 0.05, 1.2, 7.0), (-0.2, -0.02, -0.5, 3.0)]
)
def test_projection_inverts_the_rays(yaw, pitch, x, z):
    cam = Camera(W, H, f=40.0, cx=30.0, cy=22.0, x=x, y=1.3, z=z, yaw=yaw, pitch=pitch)
    _, depth = _render(cam, _world())
    cy_, sy_ = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    for py, px in [(40, 5), (47, 60), (30, 31), (25, 2)]:
        d = depth[py, px]
        assert np.isfinite(d)
        xc, yc = (px + 0.5 - 30.0) / 40.0, (py + 0.5 - 22.0) / 40.0
        # the camera ray (xc, yc, 1) in the world: pitch about x, then yaw about y
        dx0, dy, dz0 = xc, -yc * cp - sp, -yc * sp + cp
        point = np.array([x + d * (dx0 * cy_ + dz0 * sy_), 1.3 + d * dy, z + d * (-dx0 * sy_ + dz0 * cy_)])
        assert point[1] == pytest.approx(0.0, abs=1e-9)  # it lies on the ground
        uv, zc = cam.project(point)
        assert uv == pytest.approx([px + 0.5, py + 0.5], abs=1e-9)
        assert zc == pytest.approx(d)
