"""The window's widgets, one small class per module; each observes the player model or is fed
frames and results by the main window, and none reads a file or runs a model itself."""
