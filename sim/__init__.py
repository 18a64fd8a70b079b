"""MuJoCo twins of the supported robots, behind the ``drivers.robot.Robot`` interface."""
