"""The update-to-data ratio (``loop.updates_per_step``): how many learner updates each
environment step earns, in both modes, and how close a run came to it.

Updates are earned per step collected since updating began and done in whole numbers: at a
ratio of 0.5 every second step earns one, at 2 each step earns two. The synchronous trainer
does what it has earned at once; the asynchronous learner does it as fast as its CPU allows
and never more, so a robot that is resetting or idle does not let it overfit the buffer.
"""

from __future__ import annotations

# A product such as 0.29 x 100 is 28.999999999999996 in floating point: without this margin
# the update it earns would come one step late.
ROUNDING_MARGIN = 1e-9
# An asynchronous run that ends more than this fraction below its ratio is reported: the CPU
# did not keep up.
SHORTFALL_WARNING = 0.10


def updates_due(ratio: float, earning_steps: int, done: int) -> int:
    """Whole updates that ``earning_steps`` environment steps earn at ``ratio`` updates per step
    and that are not among the ``done`` ones yet; 0 when the learner is level or ahead."""
    earned = int(ratio * max(earning_steps, 0) + ROUNDING_MARGIN)
    return max(earned - done, 0)


def achieved_ratio(updates: int, earning_steps: int) -> float:
    """Updates done per environment step that earned updates (0 before any step earned one)."""
    return updates / max(earning_steps, 1)


def ratio_line(target: float, achieved: float) -> str:
    """The one-line statement of the ratio a run achieved against the one configured."""
    return f"learner: {achieved:.2f} updates per step achieved of {target:.2f} configured (loop.updates_per_step)"


def shortfall_advice(target: float, achieved: float) -> str | None:
    """What to do when the learner ended more than ``SHORTFALL_WARNING`` below ``target``; None
    when it kept up."""
    if target <= 0 or achieved >= target * (1 - SHORTFALL_WARNING):
        return None
    return (f"the learner's CPU could not keep up with the data: {achieved:.2f} updates per step against "
            f"{target:.2f} configured ({1 - achieved / target:.0%} short). Give it less work per update (a "
            f"smaller network or batch, algo.<name>.compile: true) or ask for fewer (a lower loop.updates_per_step); "
            f"realtime.min_updates_per_step > 0 makes the loop wait for it between episodes instead")
