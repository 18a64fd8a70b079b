"""Offscreen RGB images of the twin, with goal markers drawn.

MuJoCo chooses its OpenGL backend from ``MUJOCO_GL`` when it is first imported; on a
machine without a display use ``MUJOCO_GL=egl`` (GPU or Mesa EGL) or ``MUJOCO_GL=osmesa``
(software). A failure to create the GL context is raised as
:class:`~sim.errors.RenderUnavailableError` with that advice.
"""

from __future__ import annotations

import os

import mujoco
import numpy as np

from sim.errors import RenderUnavailableError, SimConfigurationError

MARKER_RADIUS_M = 0.012
MARKER_RGBA = np.array([0.9, 0.2, 0.2, 0.6], dtype=np.float32)
_EXTRA_GEOMS = 32  # room in the scene for markers drawn as spheres
_IDENTITY = np.eye(3).reshape(-1)


class SceneRenderer:
    """Renders ``model``'s scene from ``camera`` (a camera name, or None for the free
    camera) into ``height x width`` RGB images.

    Raises :class:`RenderUnavailableError` when no offscreen GL context can be made and
    :class:`SimConfigurationError` for an unknown camera.
    """

    def __init__(self, model: mujoco.MjModel, height: int, width: int, camera: str | None = None) -> None:
        self.model = model
        self.camera: int | str = -1
        if camera is not None:
            if mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera) < 0:
                cameras = [model.camera(i).name for i in range(model.ncam)]
                raise SimConfigurationError(f"no camera named {camera!r}; the scene has {cameras}")
            self.camera = camera
        # The offscreen framebuffer must hold the image; grow it rather than refuse.
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, height)
        self._mocap = {model.body(b).name: int(model.body_mocapid[b])
                       for b in range(model.nbody) if model.body_mocapid[b] >= 0}
        try:
            self._renderer = mujoco.Renderer(model, height, width, max_geom=model.ngeom + model.nsite + 100
                                             + _EXTRA_GEOMS)
        except Exception as exc:  # noqa: BLE001 - any failure here means no usable GL context
            backend = os.environ.get("MUJOCO_GL", "<unset: glfw, needs a display>")
            raise RenderUnavailableError(
                f"cannot render offscreen with MUJOCO_GL={backend}: {exc}. On a headless machine set "
                f"MUJOCO_GL=egl before MuJoCo is imported (or install OSMesa and set MUJOCO_GL=osmesa)") from exc

    def render(self, data: mujoco.MjData, markers: dict[str, np.ndarray]) -> np.ndarray:
        """An image (height, width, 3) uint8 of ``data``'s present pose. Each marker is a
        position (3,) in m: a mocap body of that name is moved there (the SO-101 scene's
        ``target``), any other marker is drawn as a small red sphere."""
        others = []
        for name, position in markers.items():
            position = np.asarray(position, dtype=np.float64)
            if position.shape != (3,):
                raise ValueError(f"marker {name!r} must be a position (3,), got shape {position.shape}")
            if name in self._mocap:
                data.mocap_pos[self._mocap[name]] = position
            else:
                others.append(position)
        # After mj_step the kinematics are those of the step's start; recompute them for the
        # present pose. They are recomputed by the next step anyway, so physics is unchanged.
        mujoco.mj_kinematics(self.model, data)
        mujoco.mj_comPos(self.model, data)
        mujoco.mj_camlight(self.model, data)
        self._renderer.update_scene(data, camera=self.camera)
        scene = self._renderer.scene
        for position in others:
            if scene.ngeom >= scene.maxgeom:
                break
            mujoco.mjv_initGeom(scene.geoms[scene.ngeom], int(mujoco.mjtGeom.mjGEOM_SPHERE),
                                np.array([MARKER_RADIUS_M, 0.0, 0.0]), position, _IDENTITY, MARKER_RGBA)
            scene.ngeom += 1
        return self._renderer.render()

    def close(self) -> None:
        self._renderer.close()
