"""Teleoperation: a leader arm read beside the follower, the follower following it."""
