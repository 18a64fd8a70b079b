"""Export of trained policies and the on-device runner (no torch at run time)."""
