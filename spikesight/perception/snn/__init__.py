"""Spiking neural network building blocks: neurons, surrogate gradients, state handling, monitors.

Conventions follow spikingjelly (``step_mode``, ``reset_net``, ``set_step_mode``,
``detach_reset``, ``v_threshold``, ``v_reset=None`` for soft reset) without depending on it.
This file is a plain list of re-exports (hence the file-wide F401 waiver).
"""

# ruff: noqa: F401

from ..results import EnergyEstimate, LayerSpikes
from .attention import (
    AdvanceSpatialAttention,
    AttentionLIF,
    ChannelAttention,
    SkipSteps,
    SpatialAttention,
    TemporalAttention,
)
from .base import MemoryModule, SeqToANN, StepModule, detach_net, reset_net, set_step_mode
from .coding import (
    Certificate,
    DirectEncoder,
    RandomizedSmoothingEncoder,
    RateEncoder,
    certified_accuracy,
    certify,
    clopper_pearson_lower,
    direct_encode,
    rate_encode,
    rsc_encode,
)
from .energy import (
    E_AC_J,
    E_MAC_J,
    MAC_COUNTERS,
    LayerOps,
    estimate_energy,
    mac_counter,
    register_mac_counter,
)
from .monitor import SpikeMonitor, WindowRecord, is_spiking_neuron
from .neurons import (
    ILIF,
    LIF,
    BaseNode,
    IntegerQuantize,
    Neuron,
    SpikeDriven,
    collapse_spikes,
    expand_spikes,
    spike_driven_apply,
)
from .pruning import (
    FiringStats,
    PrunableUnit,
    collect_firing_stats,
    iterative_pruning,
    load_pruned_state_dict,
    magnitude_scores,
    prune_units,
    rewind,
    sparsity,
    spiking_firing_scores,
)
from .reversible import RevLevel, StatelessSpike, TemporalReversibleBlock
from .sdsa import SpikeDrivenSelfAttention, spike_driven_attention
from .surrogate import ATan, Rectangle, Sigmoid, SurrogateFunction, heaviside
