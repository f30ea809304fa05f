import numpy as np
import pytest

from .fakes import moving_dot


@pytest.fixture
def dot_events() -> np.ndarray:
    return moving_dot()
