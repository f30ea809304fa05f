"""Anti-aliased shapes: coverage worked out by hand and against exact areas, depth test, visibility."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io.sim.raster import Canvas, Shapes


def _draw(shapes, w=40, h=30, zbg=None, haze=0.0, fog=np.inf):
    cv = Canvas(w, h)
    cv.image[:] = 0.0
    if zbg is not None:
        cv.zbg[:] = zbg
    cv.depth[:] = cv.zbg
    cv.draw(shapes, haze, fog)
    return cv


def test_square_on_pixel_boundaries_covers_whole_pixels():
    s = Shapes()
    s.polygon([(5, 4), (15, 4), (15, 14), (5, 14)], 1.0, 3.0)
    img = _draw(s).image
    want = np.zeros((30, 40))
    want[4:14, 5:15] = 1.0
    np.testing.assert_array_equal(img, want)


def test_sub_pixel_edge_gives_partial_coverage():
    s = Shapes()
    s.polygon([(5.25, 4), (15, 4), (15, 14), (5.25, 14)], 0.8, 3.0)
    img = _draw(s).image
    # pixel 5's centre (5.5) is 0.25 inside the edge: coverage 0.5 + 0.25
    np.testing.assert_allclose(img[4:14, 5], 0.8 * 0.75)
    np.testing.assert_allclose(img[4:14, 6:15], 0.8)
    assert np.all(img[:, 4] == 0) and np.all(img[3] == 0)


def test_winding_order_does_not_matter():
    pts = [(3.3, 2.1), (20.7, 5.2), (14.2, 19.9), (4.1, 12.5)]
    a, b = Shapes(), Shapes()
    a.polygon(pts, 0.6, 1.0)
    b.polygon(pts[::-1], 0.6, 1.0)
    np.testing.assert_allclose(_draw(a).image, _draw(b).image, rtol=0, atol=1e-12)


def _hull(points):
    pts = sorted(map(tuple, points))

    def half(seq):
        out = []
        for p in seq:
            while (
                len(out) >= 2
                and (
                    (out[-1][0] - out[-2][0]) * (p[1] - out[-2][1])
                    - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])
                )
                <= 0
            ):
                out.pop()
            out.append(p)
        return out

    return half(pts)[:-1] + half(pts[::-1])[:-1]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(4, 36), st.floats(4, 26)), min_size=3, max_size=8))
def test_polygon_coverage_sums_to_its_area(points):
    hull = _hull(points)
    if len(hull) < 3:
        return
    xs, ys = np.array(hull).T
    area = 0.5 * abs(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1)))
    perimeter = float(np.sum(np.hypot(np.diff(np.r_[xs, xs[0]]), np.diff(np.r_[ys, ys[0]]))))
    if area < 4.0 or area < perimeter:  # slivers: the signed distance of a thin shape is not its coverage
        return
    s = Shapes()
    s.polygon(hull, 1.0, 1.0)
    got = _draw(s).image.sum()
    # coverage clip(0.5 - d), with d the largest edge distance, integrates to the area plus, at each
    # corner of interior angle a, the miter of the offset polygons: cot(a / 2) / 12; sampling it at
    # pixel centres may miss those slivers and adds a small error along the edges
    p = np.array(hull)
    e_in, e_out = p - np.roll(p, 1, axis=0), np.roll(p, -1, axis=0) - p
    cos_turn = np.einsum("ij,ij->i", e_in, e_out) / np.hypot(*e_in.T) / np.hypot(*e_out.T)
    interior = np.pi - np.arccos(np.clip(cos_turn, -1, 1))
    miter = np.sum(1 / np.tan(interior / 2)) / 12
    tol = 0.1 * len(hull) + 0.02 * perimeter
    assert -tol <= got - area <= miter + tol


def test_capsule_and_ellipse_areas():
    s = Shapes()
    s.capsule((10, 15), (30, 15), 4.0, 4.0, 1.0, 1.0)
    cap = _draw(s).image.sum()
    assert abs(cap - (math.pi * 16 + 20 * 8)) < 0.01 * cap
    e = Shapes()
    e.ellipse((20, 15), 9.0, 5.0, 0.6, 1.0, 1.0)
    ell = _draw(e).image.sum()
    assert abs(ell - math.pi * 45) < 0.02 * ell


def test_background_nearer_than_a_shape_hides_it():
    zbg = np.full((30, 40), np.inf)
    zbg[:, :20] = 5.0
    s = Shapes()
    s.polygon([(10, 5), (30, 5), (30, 25), (10, 25)], 1.0, 8.0, oid=0)
    cv = _draw(s, zbg=zbg)
    assert np.all(cv.image[5:25, 10:20] == 0) and np.all(cv.image[5:25, 20:30] == 1)
    assert np.all(cv.depth[5:25, 20:30] == 8.0) and np.all(cv.depth[:, :20] == 5.0)
    visible, area = cv.visibility(1)
    assert visible[0] == area[0] == 200


def test_visibility_counts_what_nearer_objects_hide():
    s = Shapes()
    s.polygon([(5, 5), (15, 5), (15, 15), (5, 15)], 0.3, 9.0, oid=0)  # far, 100 px
    s.polygon([(5, 5), (10, 5), (10, 10), (5, 10)], 0.3, 9.0, oid=0)  # a second part of it: no new area
    s.polygon([(0, 0), (10, 0), (10, 20), (0, 20)], 0.9, 4.0, oid=1)  # near, hides its left half
    s.capsule((30, 5), (30, 20), 2.0, 2.0, 0.5, 2.0)  # unlabelled
    visible, area = _draw(s).visibility(2)
    assert area.tolist() == [100, 200]
    assert visible.tolist() == [50, 200]


def test_haze_fades_with_depth():
    s = Shapes()
    s.polygon([(0, 0), (40, 0), (40, 30), (0, 30)], 0.2, 10.0)
    img = _draw(s, haze=0.7, fog=10.0).image
    np.testing.assert_allclose(img, 0.2 + 0.5 * (1 - math.exp(-1.0)))
