"""``dv-net:HOST:PORT`` end to end against a real dv-processing NetworkWriter on 127.0.0.1 (in a
subprocess): the exact events, a sender killed mid-stream, and peers that are not dv streams
(refused, silent, garbage), which must never hang the reader."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest

from spikesight.io import concat_events, open_source
from spikesight.io.live import LiveSourceError, SourceDisconnected
from spikesight.io.live.dv_net import parse_address, probe

from .dv_stream_server import BATCH_US, T0, known_events

pytest.importorskip("dv_processing")

W, H = 64, 48
#: Bound on how long a dead stream may take to be noticed (generous for a loaded machine).
DISCONNECT_S = 10.0


def known(batches: int, size: int) -> np.ndarray:
    from spikesight.io import make_events

    parts = []
    for i in range(batches):
        c = known_events(i, size, W, H)
        parts.append(make_events(c["x"], c["y"], c["p"], c["t"]))
    return concat_events(parts)


def read_until_disconnected(src, **slicing) -> tuple[np.ndarray, SourceDisconnected]:
    got = []
    with pytest.raises(SourceDisconnected) as info:
        while True:
            s = src.next_slice(**slicing)
            assert s is not None
            got.append(s.events)
    return concat_events(got), info.value


def test_the_source_yields_exactly_the_events_sent(dv_server):
    server = dv_server("--wait-go", "--batches", "3", "--size", "100", "--after", "exit")
    with open_source(f"dv-net:127.0.0.1:{server.port}") as src:
        info = src.info
        assert (info.width, info.height, info.format) == (W, H, "live")
        assert info.metadata["model"] == "TestCamera" and info.metadata["serial"] == "0042"
        assert info.metadata["backend"] == "dv-net"
        server.go()
        events, exc = read_until_disconnected(src, delta_t=5_000)
    want = known(3, 100)
    np.testing.assert_array_equal(events, want)
    # worked by hand from the server's formula: batch 1, event 1
    assert events[101].tolist() == (4, 7, 0, T0 + BATCH_US + 7)
    assert events[0].tolist() == (0, 0, 0, T0)
    assert src.info.start_time == T0  # the camera's clock, not shifted
    assert "stream closed" in exc.reason and exc.events == 300


def test_slicing_by_count_over_the_network(dv_server):
    server = dv_server("--wait-go", "--batches", "4", "--size", "50", "--after", "exit")
    with open_source(f"dv-net:127.0.0.1:{server.port}") as src:
        server.go()
        got = []
        with pytest.raises(SourceDisconnected):
            for s in src.slices(n_events=64):
                got.append(s)
    assert [len(s) for s in got] == [64, 64, 64, 8]
    np.testing.assert_array_equal(concat_events(got), known(4, 50))


def test_killing_the_sender_mid_stream_disconnects_within_a_bounded_time(dv_server):
    server = dv_server("--wait-go", "--batches", "2000", "--size", "100", "--interval", "0.005")
    with open_source(f"dv-net:127.0.0.1:{server.port}") as src:
        server.go()
        got = []
        while sum(len(e) for e in got) < 1_000:
            got.append(src.next_slice(delta_t=BATCH_US).events)
        server.kill()
        killed = time.monotonic()
        rest, exc = read_until_disconnected(src, delta_t=BATCH_US)
        waited = time.monotonic() - killed
    assert waited < DISCONNECT_S
    events = concat_events([*got, rest])
    assert 1_000 <= len(events) < 200_000
    np.testing.assert_array_equal(events, known(len(events) // 100 + 1, 100)[: len(events)])
    assert "stream closed" in exc.reason


def test_a_connected_stream_that_goes_silent_ends_after_the_stall_timeout(dv_server):
    server = dv_server("--wait-go", "--batches", "1", "--size", "10", "--after", "hold")
    with open_source(f"dv-net:127.0.0.1:{server.port}", stall_timeout=0.5) as src:
        server.go()
        t0 = time.monotonic()
        events, exc = read_until_disconnected(src, delta_t=1_000)
    assert time.monotonic() - t0 < DISCONNECT_S
    assert len(events) == 10 and "no events for 0.5 s" in exc.reason


def test_the_background_activity_filter_drops_isolated_events(dv_server):
    # the server's events lie on a diagonal walk, (k, 2k): no two are neighbours within 1 ms
    server = dv_server("--wait-go", "--batches", "3", "--size", "100", "--after", "exit")
    with open_source(f"dv-net:127.0.0.1:{server.port}", noise_filter_us=1_000) as src:
        assert src.info.metadata["noise_filter_us"] == "1000"
        server.go()
        events, _ = read_until_disconnected(src, n_events=1_000)
    assert len(events) < 300 // 2


def _listener(behaviour: str):
    """A plain TCP listener on a free loopback port: ``silent`` accepts and says nothing,
    ``garbage`` answers HTTP, ``close`` hangs up at once. Ends when the returned event is set."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(0.1)
    stop = threading.Event()
    conns = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            conns.append(conn)
            if behaviour == "garbage":
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            if behaviour in ("garbage", "close"):
                conn.close()
        for c in conns:
            c.close()
        srv.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return srv.getsockname()[1], stop, thread


@pytest.mark.parametrize(("behaviour", "message"), [
    ("silent", "no dv stream header within 0.5 s"),
    ("garbage", "not a dv stream"),
    ("close", "closed the connection before sending"),
])
def test_a_peer_that_is_not_a_dv_stream_is_refused_without_hanging(behaviour, message):
    port, stop, thread = _listener(behaviour)
    try:
        t0 = time.monotonic()
        with pytest.raises(LiveSourceError, match=message) as info:
            open_source(f"dv-net:127.0.0.1:{port}", probe_timeout=0.5)
        assert time.monotonic() - t0 < DISCONNECT_S
        assert info.value.backend == "dv-net" and str(port) in str(info.value)
        assert not isinstance(info.value, SourceDisconnected)
    finally:
        stop.set()
        thread.join(5)


def test_a_closed_port_is_refused_at_once():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(LiveSourceError, match="connection refused"):
        open_source(f"dv-net:127.0.0.1:{port}")


def test_the_probe_reads_the_stream_header_and_lets_go(dv_server):
    server = dv_server("--after", "hold", "--batches", "0")
    assert probe("127.0.0.1", server.port, 5.0) == "127.0.0.1"
    assert probe("localhost", server.port, 5.0) in ("127.0.0.1", "::1")


@pytest.mark.parametrize(("text", "want"), [
    ("127.0.0.1:7777", ("127.0.0.1", 7777)),
    ("camera-pc.local:4040", ("camera-pc.local", 4040)),
    ("[::1]:7777", ("::1", 7777)),
    (":7777", ("127.0.0.1", 7777)),
])
def test_addresses(text, want):
    assert parse_address(text) == want


@pytest.mark.parametrize("text", ["", "127.0.0.1", "127.0.0.1:", "host:port", "host:0", "host:70000"])
def test_bad_addresses(text):
    with pytest.raises(ValueError, match="dv-net:HOST:PORT"):
        open_source(f"dv-net:{text}")
