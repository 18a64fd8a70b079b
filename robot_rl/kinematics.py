"""Forward kinematics of a serial chain read from an MJCF file, in numpy.

The tasks need end-effector positions on real hardware too, where MuJoCo may not be
installed; reading the chain from the same XML as the twin keeps one source of truth.
Supported: bodies with ``pos`` and ``quat`` (or neither), one hinge joint per body with an
explicit or default (0 0 1) ``axis`` at the body origin (``pos`` on joints is not supported).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class KinematicsError(ValueError):
    """The MJCF chain cannot be read (missing site or joint, unsupported element)."""


def _floats(text: str | None, default: tuple[float, ...]) -> np.ndarray:
    return np.array([float(v) for v in text.split()], dtype=np.float64) if text else np.array(default)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


@dataclass(frozen=True)
class Link:
    body: str
    offset: np.ndarray  # position in the parent body frame
    rotation: np.ndarray  # 3x3, orientation in the parent body frame
    joint: str | None
    axis: np.ndarray


class Chain:
    """The bodies from the world to a site, with their hinge joints."""

    def __init__(self, links: list[Link], site_offset: np.ndarray, joint_names: tuple[str, ...]) -> None:
        self.links = links
        self.site_offset = site_offset
        self.joint_names = joint_names
        # Per link, as plain tuples: the offset, its fixed rotation (None when identity), and the
        # matrices of Rodrigues' formula R(q) = I + sin q K + (1 - cos q) K^2.
        self._plain = []
        for link in links:
            k = link.axis / np.linalg.norm(link.axis)
            kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
            fixed = None if np.allclose(link.rotation, np.eye(3)) else tuple(link.rotation.ravel().tolist())
            self._plain.append((tuple(link.offset.tolist()), fixed, tuple(kx.ravel().tolist()),
                                tuple((kx @ kx).ravel().tolist())))
        self.site_offset = tuple(site_offset.tolist())

    @classmethod
    def from_mjcf(cls, path: str | Path, site: str) -> "Chain":
        root = ET.parse(path).getroot()
        worldbody = root.find("worldbody")
        if worldbody is None:
            raise KinematicsError(f"{path}: no <worldbody>")
        found = _path_to_site(worldbody, site)
        if found is None:
            raise KinematicsError(f"{path}: no site named {site!r}")
        bodies, site_element = found
        links: list[Link] = []
        for body in bodies:
            joints = [j for j in body.findall("joint") if j.get("type", "hinge") == "hinge"]
            if len(joints) > 1:
                raise KinematicsError(f"{path}: body {body.get('name')} has {len(joints)} joints; one is supported")
            if joints and joints[0].get("pos"):
                raise KinematicsError(f"{path}: joint {joints[0].get('name')} has a pos; not supported")
            links.append(Link(body.get("name", ""), _floats(body.get("pos"), (0.0, 0.0, 0.0)),
                              quat_to_matrix(_floats(body.get("quat"), (1.0, 0.0, 0.0, 0.0))),
                              joints[0].get("name") if joints else None,
                              _floats(joints[0].get("axis") if joints else None, (0.0, 0.0, 1.0))))
        names = tuple(link.joint for link in links if link.joint)
        return cls(links, _floats(site_element.get("pos"), (0.0, 0.0, 0.0)), names)

    def site_position(self, joint_position_rad: dict[str, float] | np.ndarray) -> np.ndarray:
        """World position (3,) of the site as an array; see :meth:`site_xyz`."""
        return np.array(self.site_xyz(joint_position_rad))

    def site_xyz(self, joint_position_rad: dict[str, float] | np.ndarray) -> tuple[float, float, float]:
        """World position (3,) of the site; ``joint_position_rad`` by name or in ``joint_names`` order.

        Plain float arithmetic: for a chain of a few 3x3 rotations it is several times faster
        than numpy, whose per-call overhead dominates at this size (the env calls this each step).
        """
        if isinstance(joint_position_rad, dict):
            q = [float(joint_position_rad.get(name, 0.0)) for name in self.joint_names]
        else:
            q = joint_position_rad.tolist() if isinstance(joint_position_rad, np.ndarray) else list(joint_position_rad)
        px = py = pz = 0.0
        r = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
        j = 0
        for link, (offset, fixed, kx, kx2) in zip(self.links, self._plain):
            px += r[0] * offset[0] + r[1] * offset[1] + r[2] * offset[2]
            py += r[3] * offset[0] + r[4] * offset[1] + r[5] * offset[2]
            pz += r[6] * offset[0] + r[7] * offset[1] + r[8] * offset[2]
            if fixed is not None:
                r = _mul(r, fixed)
            if link.joint:
                s, c = math.sin(q[j]), 1.0 - math.cos(q[j])
                j += 1
                r = _mul(r, (1.0 + s * kx[0] + c * kx2[0], s * kx[1] + c * kx2[1], s * kx[2] + c * kx2[2],
                             s * kx[3] + c * kx2[3], 1.0 + s * kx[4] + c * kx2[4], s * kx[5] + c * kx2[5],
                             s * kx[6] + c * kx2[6], s * kx[7] + c * kx2[7], 1.0 + s * kx[8] + c * kx2[8]))
        o = self.site_offset
        return (px + r[0] * o[0] + r[1] * o[1] + r[2] * o[2],
                py + r[3] * o[0] + r[4] * o[1] + r[5] * o[2],
                pz + r[6] * o[0] + r[7] * o[1] + r[8] * o[2])


def _mul(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
    """Product of two row-major 3x3 matrices given as 9-tuples."""
    return (a[0] * b[0] + a[1] * b[3] + a[2] * b[6], a[0] * b[1] + a[1] * b[4] + a[2] * b[7],
            a[0] * b[2] + a[1] * b[5] + a[2] * b[8],
            a[3] * b[0] + a[4] * b[3] + a[5] * b[6], a[3] * b[1] + a[4] * b[4] + a[5] * b[7],
            a[3] * b[2] + a[4] * b[5] + a[5] * b[8],
            a[6] * b[0] + a[7] * b[3] + a[8] * b[6], a[6] * b[1] + a[7] * b[4] + a[8] * b[7],
            a[6] * b[2] + a[7] * b[5] + a[8] * b[8])


def _path_to_site(element: ET.Element, site: str) -> tuple[list[ET.Element], ET.Element] | None:
    for child in element:
        if child.tag == "site" and child.get("name") == site:
            return [], child
        if child.tag == "body":
            found = _path_to_site(child, site)
            if found is not None:
                return [child] + found[0], found[1]
    return None
