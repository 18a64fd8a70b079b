"""The on-device side of deployment: numpy and onnxruntime only, never torch or mujoco."""

from deploy.runtime.policy import OnnxPolicy, read_metadata

__all__ = ["OnnxPolicy", "read_metadata"]
