"""The bundled demo recording regenerates byte for byte from its seed."""

from pathlib import Path

import numpy as np
import pytest

import spikesight
from spikesight.io import read_events
from spikesight.io.bbox import read_boxes
from spikesight.io.sim.demo import DEMO_NAME, write_demo

DEMO = Path(spikesight.__file__).parent / "assets" / "demo"


def test_demo_files_are_what_the_readme_says():
    raw = DEMO / f"{DEMO_NAME}.raw"
    assert raw.stat().st_size < 10_000_000
    ev = read_events(raw)
    assert len(ev) == 1_685_590
    assert 9_900_000 < int(ev["t"][-1]) < 10_000_000
    boxes = read_boxes(DEMO / f"{DEMO_NAME}_bbox.npy")
    assert np.bincount(boxes["class_id"]).tolist() == [989, 467]
    assert "spikesight simulate demo spikesight/assets/demo" in (DEMO / "README.md").read_text()


@pytest.mark.slow
def test_demo_regenerates_byte_for_byte(tmp_path):
    write_demo(tmp_path)
    for name in (f"{DEMO_NAME}.raw", f"{DEMO_NAME}_bbox.npy"):
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), name
