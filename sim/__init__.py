"""MuJoCo twins of the supported robots, behind the ``drivers.robot.Robot`` interface.

Modules (this package imports none of them, so ``sim.assets`` stays free of MuJoCo):
``sim_robot`` (``SimRobot``), ``twin_plant`` (``TwinPlant``, the emulated bus's plant),
``sim_config`` (``SimConfig``, ``DomainRandomization``), ``twin_model``, ``state_history``,
``rendering``, ``errors``, ``assets``, ``servo_params``. See ``docs/twin.md``.
"""
