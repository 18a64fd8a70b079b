"""A scripted operator for SO-101 reach: a person moving the leader's gripper to the target.

Each period the hand moves the leader's gripper point by the step that would take the
follower's gripper, as the operator sees it, toward the task's target (at most ``speed_m_s``,
slowing over the last few centimetres), with Gaussian noise on the step
(an unsteady hand) and on where it aims (a person's idea of where the target is, drawn once
per episode): the arm joints change by damped least squares on the arm's Jacobian, the wrist
roll and gripper stay put. It drives a virtual leader in ``robot-rl record-demos`` and in the
human-in-the-loop benchmark; with ``noise_m = 0`` and no aim error it is a plain Cartesian
P-controller.
"""

from __future__ import annotations

import numpy as np

from robot_side.tasks.so101_reach import SO101Reach


class ReachOperator:
    """Leader poses (the follower's joint frame) that bring ``task``'s gripper to its target."""

    def __init__(self, task: SO101Reach, rate_hz: float, *, speed_m_s: float = 0.25, gain_per_s: float = 5.0,
                 noise_m: float = 0.0015, aim_error_m: float = 0.004, seed: int = 0) -> None:
        self.task = task
        self.step_m = speed_m_s / rate_hz
        self.gain = min(1.0, gain_per_s / rate_hz)
        self.noise_m = noise_m
        self.aim_error_m = aim_error_m
        self.rng = np.random.default_rng(seed)
        names = task.spec.joint_names
        self.joints = np.array([names.index(j) for j in task.config.action_joints])
        self.pose = np.zeros(len(names))
        self.aim = task.target.copy()

    def begin(self, pose_rad: np.ndarray) -> None:
        """A new episode: the hand takes the leader where the follower is (``pose_rad``), and
        forms its idea of the new target."""
        self.pose = np.array(pose_rad, dtype=np.float64)
        self.aim = self.task.target + self.rng.normal(0.0, self.aim_error_m, 3)

    def next_pose(self, follower_rad: np.ndarray) -> np.ndarray:
        """The hand's pose one period later, having watched the follower at ``follower_rad``
        (a person corrects by what they see: the follower's gripper, sag and lag included)."""
        chain = self.task.chain
        gripper = np.array(chain.site_xyz(follower_rad))
        move = self.gain * (self.aim - gripper)
        length = float(np.linalg.norm(move))
        if length > self.step_m:
            move *= self.step_m / length
        move += self.rng.normal(0.0, self.noise_m, 3)
        jacobian = chain.site_jacobian(self.pose, self.joints)
        steps = jacobian.T @ np.linalg.solve(jacobian @ jacobian.T + 1e-4 * np.eye(3), move)
        self.pose[self.joints] = np.clip(self.pose[self.joints] + steps, self.task.low[self.joints],
                                         self.task.high[self.joints])
        return self.pose.copy()
