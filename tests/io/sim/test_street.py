"""Street scenes: determinism, boxes that enclose what is drawn, and the Gen1 files."""

import numpy as np
import pytest

from spikesight.io.bbox import GEN1_BBOX_DTYPE, read_boxes
from spikesight.io.dat import DatReader
from spikesight.io.emulator import EmulatorConfig
from spikesight.io.sim.actors import Car, CarLook, CarModel, Pedestrian, PersonLook
from spikesight.io.sim.raster import Canvas, Shapes
from spikesight.io.sim.recordings import write_street
from spikesight.io.sim.runner import run
from spikesight.io.sim.street import StreetConfig, StreetScene
from spikesight.io.sim.world import Camera

FAST = StreetConfig(warmup=2.0)


def _frames(seed, n=3, dt=0.05):
    scene = StreetScene(seed, FAST)
    out = []
    for k in range(n):
        if k:
            scene.advance(dt)
        out.append((scene.render(), scene.labels(k)))
    return out


def test_same_seed_same_scene():
    a, b, c = _frames(4), _frames(4), _frames(5)
    for (ia, la), (ib, lb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_array_equal(la, lb)
    assert not np.array_equal(a[0][0], c[0][0])


def _ids_inside_box(canvas, oid, box):
    ys, xs = np.nonzero(canvas.ids == oid)
    if not len(xs):
        return True
    x, y, w, h = box
    return (
        xs.min() >= np.floor(x) - 1
        and xs.max() <= x + w + 1
        and ys.min() >= np.floor(y) - 1
        and ys.max() <= y + h + 1
    )


def test_boxes_enclose_every_pixel_their_actor_shows():
    scene = StreetScene(1, FAST)
    checked = 0
    for k in range(12):
        scene.advance(0.25)
        scene.render()
        for oid, thing in enumerate(scene._drawn):
            assert _ids_inside_box(scene.canvas, oid, thing.box(scene.cam))
            checked += 1
        for b in scene.labels(k):
            assert b["class_id"] in (0, 1)
            assert (
                0 <= b["x"]
                and b["x"] + b["w"] <= 304 + 1e-3
                and 0 <= b["y"]
                and b["y"] + b["h"] <= 240 + 1e-3
            )
            assert b["w"] >= 2 and b["h"] >= 2
    assert checked > 20


def test_a_car_beside_the_camera_is_clipped_not_dropped():
    cam = Camera(304, 240, 210.0, 152.0, 100.0, y=1.35)
    car = Car(CarModel(CarLook(4.5, 1.8, 1.0, 1.45, (0.25, 0.72), 0.5, 0.1, 0.8)), 3.0, 1.2, 0.0, 0.0, 7)
    canvas = Canvas(304, 240)
    shapes = Shapes()
    assert car.draw(shapes, cam, 0)
    canvas.clear_layers()
    canvas.draw(shapes)
    visible, _ = canvas.visibility(1)
    assert visible[0] > 500  # the part in front of the camera shows, at the right edge
    box = car.box(cam)
    assert _ids_inside_box(canvas, 0, box)
    assert box[0] + box[2] > 304  # it runs out of the frame


def test_pedestrian_box_and_gait():
    cam = Camera(304, 240, 210.0, 152.0, 100.0, y=1.35)
    walker = Pedestrian(PersonLook(1.8, 1.0, 0.5, 0.1, 0.8, 0.2, 0.7), 0.5, 8.0, np.pi / 2, 1.4, 3)
    boxes, images = [], []
    for _ in range(6):
        canvas = Canvas(304, 240)
        shapes = Shapes()
        walker.draw(shapes, cam, 0)
        canvas.draw(shapes)
        assert _ids_inside_box(canvas, 0, walker.box(cam))
        boxes.append(walker.box(cam))
        images.append(canvas.image.copy())
        walker.step(0.1)
    h = [b[3] for b in boxes]
    assert abs(h[0] - 1.8 * 210.0 / 8.0) < 1.0  # 1.8 m tall at 8 m: about 47 px
    assert boxes[-1][0] > boxes[0][0]  # walking right across the view
    assert not np.array_equal(images[0], images[1])  # the limbs move


def test_street_recording_files(tmp_path):
    emu = EmulatorConfig(threshold_on=0.3, threshold_off=0.3, shot_noise_hz=0.1, seed=2)
    info = write_street(tmp_path / "a", 6, 0.3, emulator=emu, config=FAST)
    scene_events = np.concatenate([fr.events for fr in run(StreetScene(6, FAST), 0.3, 200.0, emu)])
    with DatReader(info["events"]) as src:
        assert (src.info.width, src.info.height) == (304, 240)
        got = np.concatenate(list(src))
    np.testing.assert_array_equal(got[["x", "y", "p", "t"]], scene_events[["x", "y", "p", "t"]])
    raw = np.load(info["boxes"])
    assert raw.dtype == GEN1_BBOX_DTYPE
    boxes = read_boxes(info["boxes"])
    assert len(boxes) == info["box_count"] > 0
    assert set(np.unique(boxes["t"]).tolist()) <= {50_000, 100_000, 150_000, 200_000, 250_000, 300_000}
    # a shorter run of the same scene writes a prefix of the same bytes
    write_street(tmp_path / "b", 6, 0.2, emulator=emu, config=FAST)
    short = (tmp_path / "b_td.dat").read_bytes()
    assert (tmp_path / "a_td.dat").read_bytes()[: len(short)] == short
    np.testing.assert_array_equal(read_boxes(tmp_path / "b_bbox.npy"), boxes[boxes["t"] <= 200_000])


def _pedestrian_tracks(seed, rate, seconds=5.0):
    scene = StreetScene(seed, StreetConfig(warmup=2.0, pedestrian_rate=rate))
    seen = set()
    for _ in range(int(seconds / 0.05)):
        scene.advance(0.05)
        seen |= {p.track_id for p in scene.walkers}
    return len(seen)


def test_pedestrian_rate_scales_only_the_pedestrian_spawn_rates():
    for seed in range(4):
        one = StreetScene(seed, StreetConfig(warmup=0.0))
        three = StreetScene(seed, StreetConfig(warmup=0.0, pedestrian_rate=3.0))
        for kind, rate in one.rates.items():
            want = 3 * rate if kind in ("walker", "zebra") else rate
            assert three.rates[kind] == pytest.approx(want, rel=1e-12), kind
        # the rest of the scene is drawn from the same random stream as before
        assert (three.cruise, three.speed) == (one.cruise, one.speed)
        np.testing.assert_array_equal(three.phases, one.phases)


def test_more_pedestrians_walk_at_a_higher_pedestrian_rate():
    seeds = range(4)
    one = sum(_pedestrian_tracks(s, 1.0) for s in seeds)
    three = sum(_pedestrian_tracks(s, 3.0) for s in seeds)
    assert three >= 1.5 * one > 0
    # the warm-up spawns at the same rates: more pedestrians are about when the recording starts
    before = sum(len(StreetScene(s).walkers) for s in seeds)
    after = sum(len(StreetScene(s, StreetConfig(pedestrian_rate=3.0)).walkers) for s in seeds)
    assert after > before


@pytest.mark.parametrize("rate", [0.0, -1.0, float("nan"), float("inf")])
def test_pedestrian_rate_must_be_positive(rate):
    with pytest.raises(ValueError, match="pedestrian_rate"):
        StreetConfig(pedestrian_rate=rate)
