"""MemoryModule state handling, reset_net / detach_net / set_step_mode, SeqToANN."""

import pytest
import torch
from torch import nn

from spikesight.perception.snn import (
    LIF,
    MemoryModule,
    SeqToANN,
    StepModule,
    detach_net,
    reset_net,
    set_step_mode,
)


class Accumulator(MemoryModule):
    """Running sum of its inputs: the simplest stateful module."""

    def __init__(self, step_mode: str = "m") -> None:
        super().__init__(step_mode)
        self.register_memory("total", 0.0)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        self.total = self.total + x
        return self.total


def test_memory_is_an_attribute_that_persists_and_resets() -> None:
    m = Accumulator()
    assert m.total == 0.0
    out = m(torch.tensor([[1.0], [2.0], [3.0]]))
    assert out.flatten().tolist() == [1.0, 3.0, 6.0]
    out = m(torch.tensor([[10.0]]))
    assert out.flatten().tolist() == [16.0]
    assert "total" in m.memories() and "total" in dir(m)
    m.reset()
    assert m.total == 0.0
    assert m(torch.tensor([[5.0]])).flatten().tolist() == [5.0]


def test_reset_value_is_copied_not_shared() -> None:
    class WithTensor(MemoryModule):
        def __init__(self) -> None:
            super().__init__()
            self.register_memory("buf", torch.zeros(2))

    m = WithTensor()
    m.buf.add_(7.0)
    m.reset()
    assert m.buf.tolist() == [0.0, 0.0]
    m.buf.add_(1.0)
    m.reset()
    assert m.buf.tolist() == [0.0, 0.0]


def test_memory_is_not_in_state_dict() -> None:
    m = Accumulator()
    m(torch.ones(2, 3))
    assert "total" not in m.state_dict()


def test_register_twice_raises() -> None:
    m = Accumulator()
    with pytest.raises(AttributeError):
        m.register_memory("total", 1.0)
    with pytest.raises(AttributeError):
        m.register_memory("training", 1.0)


def test_step_modes() -> None:
    m = Accumulator(step_mode="s")
    assert m(torch.tensor([2.0])).tolist() == [2.0]
    assert m(torch.tensor([3.0])).tolist() == [5.0]
    with pytest.raises(ValueError):
        Accumulator(step_mode="x")
    with pytest.raises(ValueError):
        m.step_mode = "multi"


def test_reset_net_and_set_step_mode_reach_nested_modules() -> None:
    net = nn.Sequential(Accumulator(), nn.Sequential(nn.Identity(), Accumulator()), SeqToANN(nn.Identity()))
    net(torch.ones(2, 1))
    assert net[0].total.item() == 2.0 and net[1][1].total.item() == 3.0
    reset_net(net)
    assert net[0].total == 0.0 and net[1][1].total == 0.0
    set_step_mode(net, "s")
    assert all(m.step_mode == "s" for m in net.modules() if isinstance(m, StepModule))
    assert net(torch.ones(1)).tolist() == [1.0]
    with pytest.raises(ValueError):
        set_step_mode(net, "z")


def test_detach_net_cuts_the_graph_but_keeps_values() -> None:
    net = nn.Sequential(Accumulator())
    x1 = torch.ones(3, 2, requires_grad=True)
    net(x1)
    assert net[0].total.grad_fn is not None
    detach_net(net)
    assert net[0].total.grad_fn is None
    assert net[0].total.tolist() == [3.0, 3.0]
    x2 = torch.ones(1, 2, requires_grad=True)
    net(x2).sum().backward()
    assert x1.grad is None
    assert x2.grad.tolist() == [[1.0, 1.0]]


def test_truncated_bptt_on_a_lif_stream() -> None:
    lif = LIF(tau=2.0)
    x1 = torch.full((2, 3), 0.8, requires_grad=True)
    x2 = torch.full((2, 3), 0.8, requires_grad=True)
    lif(x1)
    detach_net(lif)
    lif(x2).sum().backward()
    assert x1.grad is None and x2.grad is not None


def test_state_follows_dtype_and_device_moves() -> None:
    m = Accumulator()
    m(torch.ones(2, 2))
    m.double()
    assert m.total.dtype == torch.float64
    assert m(torch.ones(1, 2, dtype=torch.float64)).dtype == torch.float64


def test_seq_to_ann_folds_time_into_batch() -> None:
    bn = nn.BatchNorm1d(3, affine=False)
    layer = SeqToANN(bn)
    x = torch.randn(4, 5, 3)
    y = layer(x)
    assert y.shape == (4, 5, 3)
    flat = x.reshape(20, 3)
    expected = (flat - flat.mean(0)) / torch.sqrt(flat.var(0, unbiased=False) + bn.eps)
    torch.testing.assert_close(y, expected.reshape(4, 5, 3))
    layer.step_mode = "s"
    assert layer(torch.randn(5, 3)).shape == (5, 3)


def test_seq_to_ann_of_several_layers() -> None:
    layer = SeqToANN(nn.Flatten(), nn.Linear(6, 2))
    assert layer(torch.randn(3, 4, 2, 3)).shape == (3, 4, 2)
