"""spikesight: event cameras into spiking neural networks."""
__version__ = "0.1.0"
