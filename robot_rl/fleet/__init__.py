"""Several robots (or twins) feeding one learner over Ray (``robot-rl train --backend ray``)."""
