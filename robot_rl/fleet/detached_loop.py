"""Start a control-loop process that is no child of the caller (a fleet's robot actor).

Ray ends a worker by killing its child processes with SIGKILL, which would leave a robot
holding its last goal with torque on and nobody watching. So the robot actor starts its loop
through a short-lived launcher: the launcher starts the loop in a new session and exits at
once, the loop is re-parented to init, and Ray's clean-up never reaches it. The loop watches
the actor's pid instead (``LoopArgs.supervisor_pid``) and stops safely, torque off, the moment
the actor is gone, however it went.

    python -m robot_rl.fleet.detached_loop --launch ARGS.pickle   # prints the loop's pid, exits
    python -m robot_rl.fleet.detached_loop --run ARGS.pickle      # the loop itself

The loop writes to the caller's stderr (a Ray worker forwards it to the driver).
"""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

from robot_rl.realtime.control_loop import LoopArgs

LAUNCH_TIMEOUT_S = 30.0


def start_detached_loop(args: LoopArgs) -> int:
    """Start the loop for ``args`` detached; returns its pid."""
    with tempfile.NamedTemporaryFile("wb", suffix=".pickle", prefix="robot_rl-loop-", delete=False) as f:
        pickle.dump(args, f)
    launcher = subprocess.run([sys.executable, "-m", "robot_rl.fleet.detached_loop", "--launch", f.name],
                              stdout=subprocess.PIPE, text=True, timeout=LAUNCH_TIMEOUT_S)
    if launcher.returncode != 0 or not launcher.stdout.strip().isdigit():
        Path(f.name).unlink(missing_ok=True)
        raise RuntimeError(f"the control loop could not be started (launcher exit code {launcher.returncode})")
    return int(launcher.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--launch", metavar="ARGS", help="start the loop detached and print its pid")
    mode.add_argument("--run", metavar="ARGS", help="run the loop (started by --launch)")
    options = parser.parse_args()
    if options.launch:
        # stdout is the pipe the caller reads the pid from: the loop writes to stderr only, or the
        # caller would wait for the pipe to close until the loop ends.
        loop = subprocess.Popen([sys.executable, "-m", "robot_rl.fleet.detached_loop", "--run", options.launch],
                                start_new_session=True, stdin=subprocess.DEVNULL, stdout=sys.stderr)
        print(loop.pid, flush=True)
        os._exit(0)  # no wait: the loop is re-parented to init
    path = Path(options.run)
    args = pickle.loads(path.read_bytes())
    path.unlink(missing_ok=True)
    from robot_rl.realtime.control_loop import control_loop_main

    control_loop_main(args)


if __name__ == "__main__":
    main()
