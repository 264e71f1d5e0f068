"""Pre-trade risk gates: one gate per module, one signature, a fixed order (see ``pipeline``)."""
