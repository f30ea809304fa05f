"""Gesture recognition: the TA-SNN / MA-SNN network for DVS128 Gesture."""

from .model import CONFIGS, GestureNet, GestureNetConfig, SpikingLayer

__all__ = ["CONFIGS", "GestureNet", "GestureNetConfig", "SpikingLayer"]
