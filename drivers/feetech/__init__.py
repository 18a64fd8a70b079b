"""Feetech STS/SMS serial-bus servos: packets, control tables and the motor bus."""
