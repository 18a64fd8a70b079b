"""Hardware abstraction layer for serial-bus servos. Needs only numpy and pyserial."""
