"""Fitting the twin to a robot's own log (``robot-rl sysid fit``), with MuJoCo's
system-identification toolbox (``mujoco.sysid``, the ``[sysid]`` extra).

``log_rollout`` replays a log's commands on the twin (many parameter sets at once, on every
core), ``twin_fit`` sets up the parameters and runs the least-squares fit, ``fit_report``
writes the comparison plot.
"""
