"""ROBOTIS Dynamixel Protocol 2.0: packets, control tables and the motor bus."""
