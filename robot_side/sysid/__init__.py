"""System identification on the robot side: the excitation run and its log file.

``excitation`` plans the motion (per-joint chirps and steps inside the limits), ``recorder``
drives the robot through the safety stack and logs what was sent and read, ``log_file`` is
the file format. Fitting the twin to a log is training-side work (``robot_rl.sysid``).
"""
