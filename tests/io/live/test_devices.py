"""Discovery over every back end, and ``spikesight devices``: missing back ends say so, one that
hangs is reported as timed out without holding up the rest."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

import pytest

from spikesight.io.live import devices as live_devices
from spikesight.io.live import list_devices, scan
from spikesight.io.live.cli import add_devices_parser

from .fakes import FakeNdDevice, fake_metavision, fake_neuromorphic_drivers


@pytest.fixture
def fake_backends(monkeypatch):
    """FAKE neuromorphic-drivers with one EVK4, no Metavision SDK."""
    monkeypatch.setitem(sys.modules, "neuromorphic_drivers", fake_neuromorphic_drivers([FakeNdDevice([])]))
    for name in ("metavision_core", "metavision_core.event_io", "metavision_hal"):
        monkeypatch.setitem(sys.modules, name, None)


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="spikesight")
    add_devices_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["devices", *argv])
    return args.func(args)


def test_scan_reports_every_back_end(fake_backends):
    reports = {r.backend: r for r in scan(["prophesee", "metavision"])}
    found = [(d.uri, d.model) for d in reports["prophesee"].devices]
    assert found == [("prophesee:00051A2B", "Prophesee EVK4")]
    assert not reports["metavision"].installed
    assert [d.uri for d in list_devices(["prophesee", "metavision"])] == ["prophesee:00051A2B"]


def test_a_back_end_that_hangs_is_reported_as_timed_out(monkeypatch, fake_backends):
    release = threading.Event()
    def hangs():
        release.wait(30)  # a USB stack in a bad state
        return []

    monkeypatch.setitem(live_devices.BACKENDS, "dv", hangs)
    try:
        t0 = time.monotonic()
        reports = {r.backend: r for r in scan(["dv", "prophesee"], timeout=0.3)}
        assert time.monotonic() - t0 < 10
        assert reports["dv"].note == "timed out after 0.3 s"
        assert len(reports["prophesee"].devices) == 1
    finally:
        release.set()


def test_a_back_end_that_raises_counts_as_none_found(monkeypatch):
    def broken():
        raise OSError("libusb: permission denied")

    monkeypatch.setitem(live_devices.BACKENDS, "dv", broken)
    [report] = scan(["dv"])
    assert report.installed and report.devices == []
    assert report.note == "none found (OSError: libusb: permission denied)"


def test_unknown_back_end():
    with pytest.raises(ValueError, match="unknown back ends \\['usb'\\]"):
        scan(["usb"])


def test_the_devices_command(fake_backends, capsys):
    assert run_cli() == 0
    out = capsys.readouterr().out
    assert "prophesee:00051A2B" in out and "Prophesee EVK4" in out
    # an EVK4 takes a region of interest and the bias presets in its URI, and the listing says so
    options = "roi=x,y,w,h&biases=default|less_sensitive|more_sensitive|name:value,..."
    camera = next(ln for ln in out.splitlines() if ln.startswith("prophesee:00051A2B"))
    assert camera.endswith(options) and "OPTIONS" in out.splitlines()[0]
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("metavision"))
    assert "MISSING" in line and "Metavision SDK" in line
    assert run_cli("--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert {"uri": "prophesee:00051A2B", "backend": "prophesee", "model": "Prophesee EVK4",
            "serial": "00051A2B", "options": options} in data["devices"]
    assert {b["backend"] for b in data["backends"]} == set(live_devices.BACKENDS)


def test_the_devices_command_with_nothing_plugged_in(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "neuromorphic_drivers", fake_neuromorphic_drivers())
    for name in ("metavision_core", "metavision_core.event_io", "metavision_hal"):
        monkeypatch.setitem(sys.modules, name, fake_metavision({})[name])
    monkeypatch.setitem(live_devices.BACKENDS, "dv", lambda: [])
    monkeypatch.setitem(live_devices.BACKENDS, "webcam", lambda: [])
    monkeypatch.setitem(live_devices.BACKENDS, "dv-net", lambda: [])
    assert run_cli() == 0
    out = capsys.readouterr().out
    assert out.startswith("No camera found.")
    assert "MISSING" not in out
