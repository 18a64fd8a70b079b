"""A writer process killed with SIGKILL mid-run: the restored replay is exactly the flushed
prefix, missing at most ``flush_interval_steps`` transitions, and the loss is reported."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from robot_rl.replay import ColumnSpec, ReplayBuffer, ReplayConfig

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

FLUSH, SEGMENT, READY_AT = 50, 200, 500
CONFIG = ReplayConfig(capacity=300_000, n_step=1, flush_interval_steps=FLUSH, segment_steps=SEGMENT,
                      extra_columns=(ColumnSpec("weight_version"),))  # fsync does not change the layout

# The child adds transition i with obs [i, 0.5, -i], counting in a memory-mapped file how many
# adds it started and finished (page-cache writes survive SIGKILL), and says "ready" once
# READY_AT are in. Then it keeps adding until killed.
CHILD = f"""
import sys
import numpy as np
from robot_rl.replay import ColumnSpec, ReplayBuffer, ReplayConfig
config = ReplayConfig(capacity=300_000, n_step=1, flush_interval_steps={FLUSH}, segment_steps={SEGMENT},
                      fsync=sys.argv[3] == "fsync", extra_columns=(ColumnSpec("weight_version"),))
counter = np.memmap(sys.argv[2], dtype=np.int64, mode="r+", shape=(2,))
buffer = ReplayBuffer(config, 3, 2, run_dir=sys.argv[1])
for i in range(250_000):
    counter[0] = i + 1
    buffer.add([i, 0.5, -i], [i, 2 * i], float(i), [i + 1, 0.5, -i - 1], i % 97 == 96, i % 89 == 88,
               {{"weight_version": i // 10}})
    counter[1] = i + 1
    if i + 1 == {READY_AT}:
        print("ready", flush=True)
print("finished", flush=True)
"""


@pytest.mark.parametrize(("delay_s", "fsync"), [(0.0, True), (0.03, True), (0.12, True), (0.05, False)])
def test_sigkill_loses_at_most_the_flush_interval(tmp_path: Path, delay_s: float, fsync: bool) -> None:
    counter_path = tmp_path / "counter"
    np.zeros(2, np.int64).tofile(counter_path)
    run_dir = tmp_path / "run"
    args = [str(run_dir), str(counter_path), "fsync" if fsync else "no-fsync"]
    child = subprocess.Popen([sys.executable, "-c", CHILD, *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line.strip() == "ready", child.stderr.read() if child.stderr else ""
        time.sleep(delay_s)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdout, child.stderr):
            if stream:
                stream.close()

    started, completed = (int(v) for v in np.fromfile(counter_path, dtype=np.int64))
    assert READY_AT <= completed <= started <= completed + 1 < 250_000  # killed mid-run
    with warnings.catch_warnings(record=True):  # a kill during a flush leaves a .tmp file: warned, skipped
        warnings.simplefilter("always")
        buffer, report = ReplayBuffer.load(run_dir, CONFIG, 3, 2, expected_total=completed, persist=False)

    restored = report.restored
    # an add that was in progress may have flushed its row: that is at most one more than completed
    assert completed - FLUSH <= restored <= started
    assert restored % FLUSH == 0  # whole flushes only: never part of one
    assert report.lost == report.total - restored <= FLUSH
    assert report.total == max(completed, restored)
    assert (buffer.size, buffer.total_added) == (restored, report.total)
    i = np.arange(restored)
    s = buffer.storage
    np.testing.assert_array_equal(s.obs[:restored], np.stack([i, np.full(restored, 0.5), -i], axis=1))
    np.testing.assert_array_equal(s.action[:restored], np.stack([i, 2 * i], axis=1))
    np.testing.assert_array_equal(s.reward[:restored], i)
    np.testing.assert_array_equal(s.next_obs[:restored, 0], i + 1)
    np.testing.assert_array_equal(s.terminated[:restored], i % 97 == 96)
    np.testing.assert_array_equal(s.truncated[:restored - 1], i[:-1] % 89 == 88)
    assert s.truncated[restored - 1]
    np.testing.assert_array_equal(s.extras["weight_version"][:restored], i // 10)
