"""An evaluation video (animated GIF) of one deterministic episode, written to the run directory.

Needs an env that renders ``rgb_array`` (the twin does with an offscreen OpenGL context:
``MUJOCO_GL=egl`` on headless machines). When it cannot render, nothing is written and the
reason is returned for the summary.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np

log = logging.getLogger(__name__)


def record_episode(make_env: Callable[[], gym.Env], policy: Callable[[np.ndarray], np.ndarray], path: Path,
                   seed: int, max_frames: int = 300, scale: int = 2) -> tuple[Path | None, str]:
    """Record one episode; returns (path or None, a one-line message for the user)."""
    from PIL import Image

    try:
        env = make_env()
    except Exception as exc:  # an env without rgb_array support refuses render_mode
        return None, f"no evaluation video: the env cannot render ({exc})"
    frames: list[Image.Image] = []
    try:
        obs, _ = env.reset(seed=seed)
        done = False
        while not done and len(frames) < max_frames:
            frame = env.render()
            if frame is None:
                return None, "no evaluation video: the env returned no frame for render_mode='rgb_array'"
            image = Image.fromarray(np.asarray(frame, dtype=np.uint8))
            frames.append(image.resize((image.width // scale, image.height // scale)))
            obs, _, terminated, truncated, _ = env.step(policy(obs))
            done = terminated or truncated
    except Exception as exc:  # RenderUnavailableError and GL errors of any backend
        return None, f"no evaluation video: cannot render here ({exc})"
    finally:
        env.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    fps = env.metadata.get("render_fps", 20) or 20
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(1000 / fps), loop=0)
    return path, f"evaluation video: {path} ({len(frames)} frames)"
