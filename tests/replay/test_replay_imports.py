"""The replay package is pure numpy: the learner converts batches to tensors itself."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPLAY = ROOT / "robot_rl" / "replay"

BLOCK_TORCH = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'torch':
            raise ImportError('torch is blocked by the replay import test')
        return None
sys.meta_path.insert(0, Block())
import robot_rl.replay
import robot_rl.replay.buffer, robot_rl.replay.restore, robot_rl.replay.segment_writer
print('ok', 'torch' in sys.modules)
"""


def test_no_replay_module_names_torch() -> None:
    files = sorted(REPLAY.glob("*.py"))
    assert len(files) >= 8
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] == "torch" for n in names), f"{path.name} imports torch"


def test_replay_imports_with_torch_unavailable() -> None:
    result = subprocess.run([sys.executable, "-c", BLOCK_TORCH], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok False"
