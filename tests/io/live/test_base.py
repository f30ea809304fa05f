"""The live-source base: slicing the camera's time like a file, the bounded queue and its counted
drops, time order, and every way a stream ends (back end returns or raises, a stall, a clock
reset, interrupt, close), through a scripted back end."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import concat_events, make_events
from spikesight.io.live import LiveBatch, LiveSource, SourceDisconnected
from spikesight.io.memory import ArraySource

WAIT_S = 20.0  # bound on any wait; all is done in milliseconds when nothing is wrong


class ScriptedSource(LiveSource):
    """A back end that hands over ``batches`` from the reader thread, then ``finish``es:
    ``"return"`` (the stream ends), ``"hold"`` (stays connected, silent), or raises the exception."""

    backend = "scripted"

    def __init__(self, batches, finish="return", **kwargs) -> None:
        super().__init__("scripted:test", **kwargs)
        self._batches = list(batches)
        self._finish = finish
        self.released = threading.Event()
        self.reader_thread: threading.Thread | None = None
        self.info = self._live_info(64, 48, model="Scripted", serial="S1")
        self._start()

    def _read(self):
        self.reader_thread = threading.current_thread()
        yield from self._batches
        if isinstance(self._finish, BaseException):
            raise self._finish
        while self._finish == "hold" and not self.stopping():
            yield None
            self._sleep(0.005)

    def _release(self) -> None:
        self.released.set()


def ev(t, x=None, y=None, p=None) -> np.ndarray:
    t = np.asarray(t, np.int64)
    n = len(t)
    return make_events(np.arange(n) % 64 if x is None else x, np.arange(n) % 48 if y is None else y,
                       np.arange(n) % 2 if p is None else p, t)


def wait_until(cond, timeout=WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def drain_slices(src, **kw) -> list:
    """Every slice until the stream's end, which must be a SourceDisconnected."""
    out = []
    with pytest.raises(SourceDisconnected) as info:
        while True:
            s = src.next_slice(**kw)
            assert s is not None, "a live source ends with SourceDisconnected, not None"
            out.append(s)
    return out, info.value


def split(events: np.ndarray, cuts: list[int]) -> list[np.ndarray]:
    cuts = sorted({min(c, len(events)) for c in cuts})
    return [p.copy() for p in np.split(events, cuts)]


@st.composite
def batched_stream(draw):
    n = draw(st.integers(0, 300))
    steps = draw(st.lists(st.integers(0, 2_000), min_size=n, max_size=n))
    t = 1_000_000 + np.cumsum(np.asarray(steps, np.int64))
    events = ev(t)
    cuts = draw(st.lists(st.integers(0, n), max_size=12))
    return events, split(events, cuts)


def reference_delta_t(events: np.ndarray, dt: int) -> list[tuple[int, int, np.ndarray]]:
    """Windows [t0 + k dt, t0 + (k+1) dt) from the first event to the last, by a plain loop."""
    if not len(events):
        return []
    t0, last = int(events["t"][0]), int(events["t"][-1])
    out, a = [], t0
    while a <= last:
        out.append((a, a + dt, events[(events["t"] >= a) & (events["t"] < a + dt)]))
        a += dt
    return out


@settings(max_examples=60, deadline=None)
@given(batched_stream(), st.integers(200, 5_000))
def test_slices_by_time_are_the_camera_time_windows(stream, dt):
    events, batches = stream
    src = ScriptedSource(batches)
    try:
        got, _ = drain_slices(src, delta_t=dt)
    finally:
        src.close()
    want = reference_delta_t(events, dt)
    assert [(s.t_start, s.t_end) for s in got] == [(a, b) for a, b, _ in want]
    for s, (_, _, w) in zip(got, want, strict=True):
        np.testing.assert_array_equal(s.events, w)
    assert src.info.start_time == (int(events["t"][0]) if len(events) else None)


@settings(max_examples=60, deadline=None)
@given(batched_stream(), st.integers(1, 80))
def test_slices_by_count_cut_every_n_events(stream, n):
    events, batches = stream
    src = ScriptedSource(batches)
    try:
        got, _ = drain_slices(src, n_events=n)
    finally:
        src.close()
    want = [events[i:i + n] for i in range(0, len(events), n)]
    assert len(got) == len(want)
    for s, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(s.events, w)


@settings(max_examples=40, deadline=None)
@given(batched_stream(), st.integers(200, 5_000), st.integers(1, 80))
def test_mixed_slices_match_a_file_with_the_same_events(stream, dt, n):
    events, batches = stream
    src = ScriptedSource(batches)
    try:
        got, _ = drain_slices(src, delta_t=dt, n_events=n)
    finally:
        src.close()
    want = list(ArraySource(events, 64, 48, chunk_size=7).windows(delta_t=dt, n_events=n))
    assert [(s.t_start, s.t_end) for s in got] == [(s.t_start, s.t_end) for s in want]
    for a, b in zip(got, want, strict=True):
        np.testing.assert_array_equal(a.events, b.events)


def test_info_metadata_and_no_seeking():
    src = ScriptedSource([ev([1_700_000_000_000_123, 1_700_000_000_000_200])])
    try:
        assert src.info.format == "live" and (src.info.width, src.info.height) == (64, 48)
        assert src.info.metadata["model"] == "Scripted" and src.info.metadata["serial"] == "S1"
        assert src.info.metadata["backend"] == "scripted"
        assert src.first_timestamp() is None  # nothing read yet: no waiting here
        first = next(iter(src))
        assert int(first["t"][0]) == 1_700_000_000_000_123 == src.info.start_time  # never shifted
        for call in (lambda: src.seek(0), src.rewind, lambda: src.read_window(0, 1), src.scan):
            with pytest.raises(io.UnsupportedOperation):
                call()
    finally:
        src.close()


def test_the_events_received_come_out_before_the_disconnect_that_says_why():
    batches = [ev([10, 20, 30]), ev([40, 50])]
    src = ScriptedSource(batches, finish=RuntimeError("NoDevice"))
    try:
        chunks = []
        with pytest.raises(SourceDisconnected) as info:
            for c in src:
                chunks.append(c)
        np.testing.assert_array_equal(concat_events(chunks), concat_events(batches))
        assert "RuntimeError: NoDevice" in info.value.reason
        assert info.value.backend == "scripted" and info.value.uri == "scripted:test"
        assert info.value.events == 5
        assert "scripted:test" in str(info.value) and "NoDevice" in str(info.value)
        wait_until(src.released.is_set)  # the back end was closed by its own thread
    finally:
        src.close()


def test_a_full_queue_drops_the_oldest_batches_and_counts_every_event():
    from spikesight.io.events import TRIGGER_DTYPE

    batches = [ev(np.arange(100) + 1000 * i) for i in range(10)]
    first = LiveBatch(batches[0], np.array([(1, 50, 0)], TRIGGER_DTYPE), {"usb_packets_dropped": 2})
    src = ScriptedSource([first, *batches[1:]], max_queued_events=250)
    try:
        wait_until(lambda: src.ended is not None)  # all ten handed over before anything is read
        assert src.received_events == 1000
        assert src.dropped_events == 800 and src.dropped_batches == 8
        got, _ = drain_slices(src, n_events=1000)
        np.testing.assert_array_equal(concat_events([s.events for s in got]), concat_events(batches[8:]))
        # what the dropped batches held is counted too
        want = {"queue_overflow": 800, "queue_overflow_triggers": 1, "usb_packets_dropped": 2}
        assert src.stats.skipped == want
    finally:
        src.close()


def test_events_out_of_time_order_are_dropped_and_counted():
    src = ScriptedSource([ev([10, 20, 30]), ev([25, 40, 35, 50])])
    try:
        got, _ = drain_slices(src, n_events=100)
        assert concat_events([s.events for s in got])["t"].tolist() == [10, 20, 30, 40, 50]
        assert src.stats.skipped == {"time_order": 2}
    finally:
        src.close()


def test_a_clock_reset_ends_the_stream():
    src = ScriptedSource([ev([5_000_000, 5_000_100]), ev([1_000, 1_100])])
    try:
        got, exc = drain_slices(src, n_events=100)
        assert concat_events([s.events for s in got])["t"].tolist() == [5_000_000, 5_000_100]
        assert "clock went back" in exc.reason
    finally:
        src.close()


def test_a_stream_silent_for_the_stall_timeout_ends():
    src = ScriptedSource([ev([100, 200])], finish="hold", stall_timeout=0.3)
    try:
        t0 = time.monotonic()
        got, exc = drain_slices(src, delta_t=1_000)
        assert time.monotonic() - t0 < WAIT_S
        assert "no events for 0.3 s" in exc.reason
        assert concat_events([s.events for s in got])["t"].tolist() == [100, 200]
        wait_until(src.released.is_set)
    finally:
        src.close()


def test_interrupt_frees_a_reader_waiting_for_a_silent_camera():
    src = ScriptedSource([ev([100, 1_500])], finish="hold")
    result = []
    try:
        def read() -> None:
            result.append(src.next_slice(delta_t=1_000))  # [100, 1100): complete, 1500 is past it
            result.append(src.next_slice(delta_t=1_000))  # [1100, 2100): waits for an event past it

        t = threading.Thread(target=read)
        t.start()
        wait_until(lambda: len(result) == 1)
        src.interrupt()
        t.join(WAIT_S)
        assert not t.is_alive()
        assert result[1].events["t"].tolist() == [1_500]  # what had arrived, as at the end
        assert src.next_slice(delta_t=1_000) is None
    finally:
        src.close()


def test_close_stops_the_reader_thread_and_releases_the_back_end():
    src = ScriptedSource([ev([1, 2, 3])], finish="hold")
    wait_until(lambda: src.reader_thread is not None)
    src.close()
    assert src.released.is_set()
    assert not src.reader_thread.is_alive()
    src.close()  # idempotent


def test_batches_carry_triggers_and_back_end_losses():
    from spikesight.io.events import TRIGGER_DTYPE

    trig = np.array([(1, 15, 0)], TRIGGER_DTYPE)
    src = ScriptedSource([LiveBatch(ev([10, 20]), trig, {"usb_packets_dropped": 3}), ev([30])])
    try:
        drain_slices(src, n_events=10)
        assert src.triggers["t"].tolist() == [15]
        assert src.stats.skipped == {"usb_packets_dropped": 3}
    finally:
        src.close()


def test_a_long_stream_is_not_indexed():
    batches = [ev(np.arange(10) + 100 * i) for i in range(500)]
    src = ScriptedSource(batches)
    try:
        got, _ = drain_slices(src, delta_t=1_000)
        assert sum(len(s.events) for s in got) == 5_000
        assert src._index_t == [] and src._seen == set()  # memory stays flat on a live stream
    finally:
        src.close()
