"""The frames-to-events emulator: counts and times worked out by hand, noise rates against their
Poisson variance, a slow per-pixel reference, determinism, and the video: source."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import EVENT_DTYPE, open_source
from spikesight.io.emulator import Emulator, EmulatorConfig, to_intensity

EPS = 1e-3


def _exact(**kw):
    """No mismatch, no noise: thresholds exactly as given."""
    return EmulatorConfig(threshold_sigma=0.0, log_eps=EPS, **kw)


def _frame(value, shape=(2, 3)):
    return np.full(shape, value, dtype=np.float64)


def test_brightening_pixel_emits_on_events_at_interpolated_times():
    emu = Emulator(_exact(threshold_on=0.2, threshold_off=0.3))
    f0, f1 = _frame(0.1), _frame(0.1)
    f1[1, 2] = 0.45  # brighter
    f1[0, 0] = 0.02  # darker
    emu.feed(f0, 1000)
    ev = emu.feed(f1, 11_000)
    assert ev.dtype == EVENT_DTYPE
    up = math.log((0.45 + EPS) / (0.1 + EPS))  # 1.4963: floor(up / 0.2) = 7 ON events
    down = math.log((0.02 + EPS) / (0.1 + EPS))  # -1.5706: floor(1.5706 / 0.3) = 5 OFF events
    on = ev[ev["p"] == 1]
    off = ev[ev["p"] == 0]
    assert len(on) == math.floor(up / 0.2) == 7
    assert len(off) == math.floor(-down / 0.3) == 5
    assert set(zip(on["x"].tolist(), on["y"].tolist(), strict=True)) == {(2, 1)}
    assert set(zip(off["x"].tolist(), off["y"].tolist(), strict=True)) == {(0, 0)}
    # the k-th crossing is where the linear ramp of log brightness reaches k thresholds
    want_on = [1000 + math.floor(k * 0.2 / up * 10_000 + 0.5) for k in range(1, 8)]
    want_off = [1000 + math.floor(k * 0.3 / -down * 10_000 + 0.5) for k in range(1, 6)]
    assert on["t"].tolist() == want_on
    assert off["t"].tolist() == want_off
    assert np.all(np.diff(ev["t"]) >= 0)


def test_residual_change_carries_over_to_the_next_interval():
    # log brightness rises 0.3 per interval with a 0.2 threshold: one event at 2/3 of the
    # first interval (0.1 left over), then one at 1/3 of the second (0.1 + 0.3/3 = 0.2), ...
    emu = Emulator(_exact(threshold_on=0.2))
    base = 0.1 + EPS
    frames = [_frame(base * math.exp(0.3 * k) - EPS, (1, 1)) for k in range(4)]
    ev = emu.feed_many(frames, [0, 3000, 6000, 9000])
    # crossings at log change 0.2, 0.4, 0.6, 0.8 of a ramp of 0.1 per 1000 µs
    assert ev["t"].tolist() == [2000, 4000, 6000, 8000]
    assert set(ev["p"].tolist()) == {1}


def test_static_scene_gives_only_noise_at_the_configured_rates():
    shape, duration, shot, leak = (30, 40), 2.0, 5.0, 1.0
    emu = Emulator(EmulatorConfig(shot_noise_hz=shot, leak_hz=leak, seed=7))
    frame = _frame(0.3, shape)
    times = np.arange(0, int(duration * 1e6) + 1, 10_000)
    ev = emu.feed_many([frame] * len(times), times)
    n_px = shape[0] * shape[1]
    # OFF: Poisson(n_px * T * shot / 2); ON: the same plus leak, one event per 1/leak s per pixel
    # (random phase: floor or ceil of leak * T, variance at most 1/4 per pixel)
    mean_off = n_px * duration * shot / 2
    mean_on = mean_off + n_px * duration * leak
    sd_off = math.sqrt(mean_off)
    sd_on = math.sqrt(mean_off + n_px / 4)
    n_on = int(np.count_nonzero(ev["p"] == 1))
    n_off = len(ev) - n_on
    assert abs(n_off - mean_off) < 5 * sd_off
    assert abs(n_on - mean_on) < 5 * sd_on
    assert ev["t"].min() > 0 and ev["t"].max() <= times[-1]
    assert np.all(np.diff(ev["t"]) >= 0)


def test_leak_alone_fires_each_pixel_at_the_leak_rate():
    emu = Emulator(EmulatorConfig(leak_hz=4.0, threshold_sigma=0.05, seed=3))
    times = np.arange(0, 1_000_001, 20_000)
    ev = emu.feed_many([_frame(0.5, (8, 8))] * len(times), times)
    assert set(ev["p"].tolist()) == {1}
    pix = ev["y"].astype(int) * 8 + ev["x"]
    counts = np.bincount(pix, minlength=64)
    assert set(counts.tolist()) <= {4, 5}  # 1 s at 4 Hz, whatever the phase
    for k in range(64):
        gaps = np.diff(ev["t"][pix == k])
        assert np.all(np.abs(gaps - 250_000) <= 1)


def test_refractory_period_drops_crossings_but_moves_the_reference():
    # 10 thresholds in 1000 µs: crossings every 100 µs; a 300 µs refractory keeps 100, 400, 700, 1000
    emu = Emulator(_exact(threshold_on=0.1, refractory_us=300))
    base = 0.01 + EPS
    emu.feed(_frame(base - EPS, (1, 1)), 0)
    ev = emu.feed(_frame(base * math.exp(1.0 + 1e-9) - EPS, (1, 1)), 1000)
    assert ev["t"].tolist() == [100, 400, 700, 1000]
    # the reference went up all 10 thresholds: no event when the pixel stays put
    assert len(emu.feed(_frame(base * math.exp(1.0 + 1e-9) - EPS, (1, 1)), 2000)) == 0


def test_refractory_period_holds_for_signal_and_noise(rng):
    emu = Emulator(EmulatorConfig(refractory_us=2000, shot_noise_hz=50.0, seed=1))
    frames = rng.random((60, 12, 16))
    ev = emu.feed_many(frames, np.arange(60) * 1000)
    assert len(ev)
    pix = ev["y"].astype(int) * 16 + ev["x"]
    order = np.lexsort((ev["t"], pix))
    same = np.diff(pix[order]) == 0
    assert np.all(np.diff(ev["t"][order])[same] >= 2000)


def _noisy_run(seed, pieces):
    emu = Emulator(
        EmulatorConfig(shot_noise_hz=20.0, leak_hz=2.0, threshold_sigma=0.05, seed=seed, refractory_us=100)
    )
    frames = np.random.default_rng(0).random((40, 10, 12)).astype(np.float32)
    times = np.arange(40) * 5000
    out = []
    for a, b in pieces:
        out.append(emu.feed_many(frames[a:b], times[a:b]))
    return np.concatenate(out)


def test_same_seed_same_events_other_seed_other_events():
    one = _noisy_run(5, [(0, 40)])
    assert len(one) > 100
    np.testing.assert_array_equal(one, _noisy_run(5, [(0, 40)]))
    assert not np.array_equal(one, _noisy_run(6, [(0, 40)]))


@settings(max_examples=30, deadline=None)
@given(cuts=st.lists(st.integers(1, 39), max_size=6))
def test_streaming_in_pieces_equals_one_shot(cuts):
    bounds = [0, *sorted(set(cuts)), 40]
    pieces = list(itertools.pairwise(bounds))
    np.testing.assert_array_equal(_noisy_run(5, pieces), _noisy_run(5, [(0, 40)]))


def _reference(frames, times, c_on, c_off, refractory, eps):
    """Slow per-pixel emulation: walk each interval, moving the reference one threshold at a time."""
    events = []
    logs = [np.log(np.asarray(f, dtype=np.float64).ravel() + eps) for f in frames]
    width = frames[0].shape[1]
    ref = logs[0].copy()
    last = [None] * ref.size
    for k in range(1, len(frames)):
        t0, t1 = int(times[k - 1]), int(times[k])
        for i in range(ref.size):
            l0, l1 = logs[k - 1][i], logs[k][i]
            d0 = l0 - ref[i]
            level = 0.0
            while True:
                if l1 > l0 and d0 + (l1 - l0) >= level + c_on[i]:
                    level += c_on[i]
                    pol = 1
                elif l1 < l0 and d0 + (l1 - l0) <= level - c_off[i]:
                    level -= c_off[i]
                    pol = 0
                else:
                    break
                t = t0 + math.floor((level - d0) / (l1 - l0) * (t1 - t0) + 0.5)
                if last[i] is None or t - last[i] >= refractory:
                    events.append((t, k, i, pol))
                    last[i] = t
            ref[i] += level
    events.sort(key=lambda e: e[:3])  # by time; ties by frame interval, then pixel
    ev = np.empty(len(events), dtype=EVENT_DTYPE)
    ev["t"] = [e[0] for e in events]
    ev["x"] = [e[2] % width for e in events]
    ev["y"] = [e[2] // width for e in events]
    ev["p"] = [e[3] for e in events]
    return ev


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n_frames=st.integers(2, 6),
    steps=st.lists(st.integers(1, 5000), min_size=5, max_size=5),
    refractory=st.sampled_from([0, 50, 700]),
)
def test_matches_slow_reference(seed, n_frames, steps, refractory):
    rng = np.random.default_rng(seed)
    frames = list(rng.random((n_frames, 3, 4)) ** 3)
    times = np.concatenate(([rng.integers(0, 10**9)], steps[: n_frames - 1])).cumsum()
    cfg = EmulatorConfig(
        threshold_on=0.15,
        threshold_off=0.25,
        threshold_sigma=0.05,
        refractory_us=refractory,
        seed=seed,
        log_eps=EPS,
    )
    emu = Emulator(cfg)
    got = emu.feed_many(frames, times)
    c_on, c_off = (c.ravel() for c in emu.thresholds)
    np.testing.assert_array_equal(got, _reference(frames, times, c_on, c_off, refractory, EPS))


def test_mismatch_thresholds_follow_the_configured_spread():
    emu = Emulator(EmulatorConfig(threshold_on=0.3, threshold_off=0.2, threshold_sigma=0.04, seed=2))
    emu.feed(np.zeros((100, 100)), 0)
    c_on, c_off = emu.thresholds
    assert abs(c_on.mean() - 0.3) < 0.002 and abs(c_on.std() - 0.04) < 0.002
    assert abs(c_off.mean() - 0.2) < 0.002 and abs(c_off.std() - 0.04) < 0.002


def test_input_conversion_and_bad_input():
    bgr = np.zeros((2, 2, 3), dtype=np.uint8)
    bgr[0, 0] = (255, 0, 0)  # blue
    bgr[1, 1] = (0, 0, 255)  # red
    lum = to_intensity(bgr)
    assert lum[0, 0] == pytest.approx(0.114) and lum[1, 1] == pytest.approx(0.299)
    assert to_intensity(np.full((1, 1), 65535, np.uint16))[0, 0] == 1.0
    with pytest.raises(ValueError, match="uint8, uint16 or float"):
        to_intensity(np.zeros((2, 2), np.int32))
    emu = Emulator()
    emu.feed(np.zeros((2, 2)), 10)
    with pytest.raises(ValueError, match="increase"):
        emu.feed(np.zeros((2, 2)), 10)
    with pytest.raises(ValueError, match="shape"):
        emu.feed(np.zeros((3, 2)), 20)
    with pytest.raises(ValueError):
        EmulatorConfig(threshold_on=0)


# -- the video: source ---------------------------------------------------------------------------

cv2 = pytest.importorskip("cv2")


def _square_video(path, n=12, fps=50.0):
    """A bright square moving right by 2 px per frame on a dark background (lossless MJPG is not
    available everywhere: frames are read back through OpenCV for the expected events)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (32, 24))
    assert writer.isOpened()
    for k in range(n):
        img = np.full((24, 32, 3), 20, np.uint8)
        img[8:16, 4 + 2 * k : 12 + 2 * k] = 230
        writer.write(img)
    writer.release()


def _decoded(path):
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


def test_video_source_emulates_the_decoded_frames(tmp_path):
    import spikesight.io.emulated_schemes  # noqa: F401 - registers video: and webcam:

    path = tmp_path / "square.avi"
    _square_video(path)
    frames = _decoded(path)
    assert len(frames) == 12
    want = Emulator(EmulatorConfig(seed=4)).feed_many(frames, [round(i * 1e6 / 50) for i in range(12)])
    with open_source(f"video:{path}", seed=4) as src:
        assert (src.info.width, src.info.height, src.info.format) == (32, 24, "video")
        got = np.concatenate(list(src))
        np.testing.assert_array_equal(got, want)
        src.rewind()
        again = np.concatenate(list(src.slices(delta_t=7000)))
        np.testing.assert_array_equal(again, want)
        np.testing.assert_array_equal(
            src.read_window(50_000, 90_000), want[(want["t"] >= 50_000) & (want["t"] < 90_000)]
        )
    on = want[want["p"] == 1]
    assert len(on) and on["x"].min() >= 12  # the square's leading edge brightens
    assert want["t"].min() > 0 and want["t"].max() <= 220_000


def test_video_source_seek_replays_to_the_same_events(tmp_path):
    from spikesight.io.video_source import VideoSource

    path = tmp_path / "square.avi"
    _square_video(path)
    with VideoSource(path, seed=4, threshold_on=0.3) as src:
        full = np.concatenate(list(src))
        src.seek(100_000)
        tail = np.concatenate(list(src))
    np.testing.assert_array_equal(tail, full[full["t"] >= 100_000])


def test_video_source_errors(tmp_path):
    from spikesight.io import UnsupportedFormatError
    from spikesight.io.video_source import VideoSource, open_webcam

    with pytest.raises(FileNotFoundError):
        VideoSource(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(UnsupportedFormatError):
        VideoSource(junk)
    with pytest.raises(TypeError, match="emulator options"):
        VideoSource(junk, thresold=0.2)
    with pytest.raises(ValueError, match="camera index"):
        open_webcam("front")
    with pytest.raises(OSError, match="cannot open camera"):
        open_webcam("63")
