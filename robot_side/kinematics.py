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
    """The bodies from the world to a site, with their hinge joints.

    The site position is computed from the site inwards, on a vector only: with
    ``T_i = (offset_i, fixed_i R(axis_i, q_i))`` the position is
    ``v_0 = offset_0 + fixed_0 R_0 (offset_1 + fixed_1 R_1 (... site))``, so no 3x3 matrix
    products are needed. Each joint axis is turned onto z by a basis ``B_i`` (columns: two
    unit vectors orthogonal to the axis, then the axis), which makes its rotation a plane
    rotation of two coordinates, ``R(axis, q) = B Rz(q) B^T``; the ``B^T`` of each link is
    folded into the constants of its child. Per link that leaves ``offset'_i = B_{i-1}^T
    offset_i`` and ``M_i = B_{i-1}^T fixed_i B_i`` (``B`` is the identity for the world and for
    links without a joint); ``M`` is the identity, and skipped, between parallel joints, as
    along a planar arm. About four times faster than multiplying the 3x3 rotations out.

    That arithmetic is compiled at load into straight-line Python with the constants written
    in (``source`` holds it), dropping the products by the zero and unit entries of the ``M``
    (which turn one axis onto another in a chain of axis-aligned joints): the loop over the
    links and their unpacking cost as much as the arithmetic itself. The results are those of
    the full products (adding or multiplying by an exact 0 or 1 changes no value).
    """

    def __init__(self, links: list[Link], site_offset: np.ndarray, joint_names: tuple[str, ...]) -> None:
        """``joint_names``: the order in which :meth:`site_xyz` takes joint positions; it holds
        the chain's joints and may hold others (see :meth:`with_joint_order`)."""
        missing = [link.joint for link in links if link.joint and link.joint not in joint_names]
        if missing:
            raise KinematicsError(f"joint order {list(joint_names)} lacks the chain's joints {missing}")
        self.links = links
        self.site_offset = site_offset
        self.joint_names = tuple(joint_names)
        # Per joint, from the site inwards: its index in ``joint_names``, offset' and M (a
        # row-major 9-tuple, None for the identity) as plain floats. A link without a joint is
        # merged into its child (or into the site): (o, M) then (o', M') is (o + M o', M M').
        steps = []
        parent_basis = np.eye(3)
        offset, m = np.zeros(3), np.eye(3)  # what the links merged so far contribute
        for link in links:
            basis = _axis_basis(link.axis) if link.joint else np.eye(3)
            offset = offset + m @ parent_basis.T @ link.offset
            m = m @ parent_basis.T @ link.rotation @ basis
            if link.joint:
                steps.append((self.joint_names.index(link.joint), tuple(offset.tolist()),
                              None if np.array_equal(m, np.eye(3)) else tuple(m.ravel().tolist())))
                offset, m = np.zeros(3), np.eye(3)
            parent_basis = basis
        site = tuple((offset + m @ parent_basis.T @ np.asarray(site_offset, dtype=np.float64)).tolist())
        self.source = _straight_line_source(tuple(reversed(steps)), site)
        namespace = {"sin": math.sin, "cos": math.cos}
        exec(self.source, namespace)  # the function's text is built from floats and indices only
        self._site_xyz = namespace["site_xyz"]

    def __reduce__(self) -> tuple[type, tuple]:
        # Pickled by its definition: the compiled function cannot be pickled, only rebuilt.
        return Chain, (self.links, self.site_offset, self.joint_names)

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

    def with_joint_order(self, joint_names: tuple[str, ...]) -> "Chain":
        """The same chain taking positions in the order of ``joint_names``, such as a robot's
        whole joint vector (which must hold the chain's joints): the per-step callers then pass
        their state as it is, without picking the chain's joints out of it first."""
        return Chain(self.links, self.site_offset, joint_names)

    def site_position(self, joint_position_rad: dict[str, float] | np.ndarray) -> np.ndarray:
        """World position (3,) of the site as an array; see :meth:`site_xyz`."""
        return np.array(self.site_xyz(joint_position_rad))

    def site_xyz(self, joint_position_rad: dict[str, float] | np.ndarray) -> tuple[float, float, float]:
        """World position (3,) of the site; ``joint_position_rad`` by name or in ``joint_names`` order.

        Plain float arithmetic: for a chain of a few links it is several times faster than
        numpy, whose per-call overhead dominates at this size (the env calls this each step).
        """
        if isinstance(joint_position_rad, np.ndarray):
            return self._site_xyz(joint_position_rad.tolist())
        if isinstance(joint_position_rad, dict):
            return self._site_xyz([float(joint_position_rad.get(name, 0.0)) for name in self.joint_names])
        return self._site_xyz(joint_position_rad)

    def site_jacobian(self, joint_position_rad: np.ndarray, columns: np.ndarray, step_rad: float = 1e-6
                      ) -> np.ndarray:
        """``(3, len(columns))``: how the site moves (m/rad) with each joint of ``columns``
        (indices into ``joint_names`` order) at ``joint_position_rad``, by forward differences
        (float64: a step of 1e-6 rad leaves about 1e-7 relative error)."""
        q = np.asarray(joint_position_rad, dtype=np.float64).tolist()
        origin = self._site_xyz(q)
        jacobian = np.empty((3, len(columns)))
        for c, index in enumerate(columns):
            moved = list(q)
            moved[index] += step_rad
            jacobian[:, c] = np.subtract(self._site_xyz(moved), origin) / step_rad
        return jacobian


def _straight_line_source(steps: tuple[tuple[int, tuple[float, float, float], tuple[float, ...] | None], ...],
                          site: tuple[float, float, float]) -> str:
    """The text of ``site_xyz(q)``: from ``site`` inwards, per step (joint index, offset',
    ``M`` row-major or None), a plane rotation by ``q[joint]``, then ``M``, then the offset."""
    lines = ["def site_xyz(q):", f"    x, y, z = {site[0]!r}, {site[1]!r}, {site[2]!r}"]
    for joint, offset, m in steps:
        lines.append(f"    s, c = sin(q[{joint}]), cos(q[{joint}])")
        lines.append("    x, y = c * x - s * y, s * x + c * y")
        if m is not None:
            lines.append("    x, y, z = " + ", ".join(_row_times_xyz(m[3 * r:3 * r + 3]) for r in range(3)))
        lines += [f"    {v} += {o!r}" for v, o in zip("xyz", offset) if o]
    lines.append("    return x, y, z")
    return "\n".join(lines) + "\n"


def _row_times_xyz(row: tuple[float, ...]) -> str:
    """``row[0] * x + row[1] * y + row[2] * z`` without its zero terms and unit factors."""
    terms = [v if k == 1.0 else f"-{v}" if k == -1.0 else f"{k!r} * {v}" for k, v in zip(row, "xyz") if k != 0.0]
    return " + ".join(terms) if terms else "0.0"


def _axis_basis(axis: np.ndarray) -> np.ndarray:
    """A rotation whose third column is the unit ``axis`` (so ``B Rz(q) B^T`` turns about it).

    The first column is the coordinate axis least aligned with ``axis``, made orthogonal to
    it: for axes along x, y or z every entry is 0 or +/-1, so the folded constants are exact.
    """
    k = axis / np.linalg.norm(axis)
    helper = np.zeros(3)
    helper[np.argmin(np.abs(k))] = 1.0
    u = helper - (helper @ k) * k
    u /= np.linalg.norm(u)
    return np.column_stack([u, np.cross(k, u), k])


def _path_to_site(element: ET.Element, site: str) -> tuple[list[ET.Element], ET.Element] | None:
    for child in element:
        if child.tag == "site" and child.get("name") == site:
            return [], child
        if child.tag == "body":
            found = _path_to_site(child, site)
            if found is not None:
                return [child] + found[0], found[1]
    return None
