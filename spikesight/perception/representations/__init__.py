"""Event representations: a window of events in, a torch tensor out.

Each representation is a small frozen dataclass holding its configuration (sensor
geometry and parameters) whose ``__call__(events, t0=None, t1=None)`` calls a pure
function of the same name in lower case; both are exported. Events are a time-sorted
array of :data:`spikesight.io.EVENT_DTYPE`; the window is ``[t0, t1)`` µs, by default the
first event to the last plus 1 (see :mod:`.window`). Channel 0 is OFF (p = 0), channel 1
is ON (p > 0). Outputs are float32 unless a class documents uint8. The work is done by
single-threaded numba kernels that release the GIL, on numpy arrays handed to torch without
a copy: torch's intra-op threads stall on a busy machine, and a pipeline runs in a worker
thread beside the GUI.

======================  =================  ===============================================
class                   shape              what
======================  =================  ===============================================
EventFrame              [2|1, H, W]        counts per polarity, signed sum, or binary
StackedHistogram        [2*bins, H, W]     RVT's clamped counts per polarity and time bin
SpikeYOLOFrames         [T, C, H, W]       latest event per pixel and slice on grey
CumulativeStack         [T, 2, H, W]       counts since the window's start, per step
VoxelGrid               [bins, H, W]       bilinear-in-time signed events (E2VID)
TimeSurface             [2, H, W]          exponential decay since each pixel's last event
FrameSequence           [T, 2, H, W]       T frames of equal duration (counts or binary)
RateCoding              [T, C, H, W]       Bernoulli / Poisson spikes from intensities
Resize / fit_to_model   events -> events   pad or scale to a model's input; boxes back
======================  =================  ===============================================
"""

from .cumulative import CumulativeStack, cumulative_stack
from .frame import EventFrame, event_frame
from .frames_t import FrameSequence, frame_sequence
from .histogram import StackedHistogram, stacked_histogram
from .rate import RateCoding, rate_code
from .resize import Resize, fit_to_model
from .spikeyolo import SpikeYOLOFrames, spikeyolo_frames
from .time_surface import TimeSurface, time_surface
from .voxel import VoxelGrid, voxel_grid
from .window import EventRepresentation, select_window

__all__ = [
    "CumulativeStack",
    "EventFrame",
    "EventRepresentation",
    "FrameSequence",
    "RateCoding",
    "Resize",
    "SpikeYOLOFrames",
    "StackedHistogram",
    "TimeSurface",
    "VoxelGrid",
    "cumulative_stack",
    "event_frame",
    "fit_to_model",
    "frame_sequence",
    "rate_code",
    "select_window",
    "spikeyolo_frames",
    "stacked_histogram",
    "time_surface",
    "voxel_grid",
]
