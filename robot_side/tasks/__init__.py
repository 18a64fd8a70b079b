"""Tasks: observation, reward, termination and reset of a job on a robot (numpy only)."""
