"""A person in the loop: demonstrations recorded with a leader arm, interventions while the robot learns."""
