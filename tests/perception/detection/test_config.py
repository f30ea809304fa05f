"""Detector configuration: scaling rules of the authors' yaml, validation, manifest round trip."""

import dataclasses
import json

import pytest

from spikesight.perception.detection.config import SCALES, DetectorConfig, Scale


def test_scaling_follows_the_yaml_rules():
    n = SCALES["n"]
    # repeats: max(round(n * 0.33), 1) where n > 1; a single block stays single
    assert [n.repeats(k) for k in (1, 3, 6, 9)] == [1, 1, 2, 3]
    # channels: int(min(c, max_channels) * width)
    assert [n.channels(c) for c in (128, 256, 512, 1024, 2048)] == [48, 96, 192, 384, 384]


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="unknown scale"):
        DetectorConfig(scale="xl")
    with pytest.raises(ValueError, match="num_classes"):
        DetectorConfig(num_classes=0)
    with pytest.raises(ValueError):
        Scale(0.0, 0.5)


def test_config_round_trips_through_json():
    cfg = DetectorConfig(scale="n", num_classes=7, in_channels=2)
    assert DetectorConfig(**json.loads(json.dumps(dataclasses.asdict(cfg)))) == cfg
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.scale = "tiny"
