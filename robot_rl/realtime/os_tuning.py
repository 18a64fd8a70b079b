"""What the operating system offers a real-time loop: normal niceness, a CPU of its own,
real-time priority, and a 1 ns timer slack. Each is tried, and a refusal is reported, never
fatal. (Niceness: Ray starts its workers at nice 15, and their children inherit it; on a busy
computer a niced control loop or learner gets a few percent of a CPU.)"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from dataclasses import dataclass, field

log = logging.getLogger(__name__)
PR_SET_TIMERSLACK = 29


@dataclass
class TuningReport:
    applied: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = "applied: " + (", ".join(self.applied) or "nothing")
        if self.refused:
            text += "; refused: " + "; ".join(self.refused)
        return text


def normal_niceness() -> str | None:
    """Undo a positive niceness inherited from the parent (Ray's workers run at 15). Returns
    what was done or refused; None when there was nothing to do."""
    try:
        nice = os.getpriority(os.PRIO_PROCESS, 0)
        if nice <= 0:
            return None
        os.setpriority(os.PRIO_PROCESS, 0, 0)
        return f"niceness {nice} -> 0"
    except (AttributeError, OSError) as exc:
        return f"normal niceness ({exc}; the process runs at nice {nice}: raise RLIMIT_NICE or run as root)"


def tune_current_process(cpu: int | None, realtime_priority: int | None, timer_slack_ns: int | None) -> TuningReport:
    """Pin to ``cpu``, run at SCHED_FIFO ``realtime_priority`` (1-99), set the timer slack.
    ``None`` skips a setting. Refusals (no permission, one CPU, not Linux) are logged as warnings."""
    report = TuningReport()
    unniced = normal_niceness()
    if unniced:
        (report.applied if unniced.startswith("niceness") else report.refused).append(unniced)
    if cpu is not None:
        try:
            available = sorted(os.sched_getaffinity(0))
            target = available[cpu % len(available)]
            os.sched_setaffinity(0, {target})
            report.applied.append(f"pinned to CPU {target}")
        except (AttributeError, OSError) as exc:
            report.refused.append(f"CPU affinity ({exc})")
    if realtime_priority is not None:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(realtime_priority))
            report.applied.append(f"SCHED_FIFO priority {realtime_priority}")
        except (AttributeError, OSError) as exc:
            report.refused.append(f"real-time priority ({exc}; run as root or grant CAP_SYS_NICE / an rtprio "
                                  f"limit in /etc/security/limits.conf)")
    if timer_slack_ns is not None:
        libc_name = ctypes.util.find_library("c")
        try:
            libc = ctypes.CDLL(libc_name, use_errno=True)
            if libc.prctl(PR_SET_TIMERSLACK, ctypes.c_ulong(timer_slack_ns), 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl failed")
            report.applied.append(f"timer slack {timer_slack_ns} ns")
        except (OSError, AttributeError, TypeError) as exc:
            report.refused.append(f"timer slack ({exc})")
    for refusal in report.refused:
        log.warning("real-time tuning refused, running without it: %s", refusal)
    return report
