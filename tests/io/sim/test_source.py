"""``sim:SCENE`` sources: the same events on every pass, and seeking replays them."""

import numpy as np
import pytest

import spikesight.io.emulated_schemes  # noqa: F401 - registers sim:
from spikesight.io import open_source
from spikesight.io.sim.source import SceneSource


@pytest.mark.parametrize("scene,size", [("street", (304, 240)), ("gesture", (128, 128))])
def test_scene_source_is_repeatable_and_seekable(scene, size):
    with open_source(f"sim:{scene}", seed=2, duration=0.3) as src:
        assert (src.info.width, src.info.height, src.info.format) == (*size, "sim")
        first = np.concatenate(list(src))
        src.rewind()
        windows = list(src.slices(delta_t=20_000))
        np.testing.assert_array_equal(np.concatenate(windows), first)
        src.seek(150_000)
        tail = np.concatenate(list(src))
    assert len(first) and first["t"].max() <= 300_000
    np.testing.assert_array_equal(tail, first[first["t"] >= 150_000])


def test_unknown_scene():
    with pytest.raises(ValueError, match="unknown scene"):
        SceneSource("beach")
