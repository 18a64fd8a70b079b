"""The ``robot-rl`` command line. Interactive work (prompts, progress bars) lives here only."""
