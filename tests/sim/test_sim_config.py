"""SimConfig and DomainRandomization: defaults, strict YAML loading, checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.config import ConfigError
from sim.sim_config import DomainRandomization, SimConfig, load_sim_config, sim_config_from_dict


def test_defaults_are_an_ideal_quantised_robot() -> None:
    config = SimConfig()
    assert (config.observation_latency_s, config.action_latency_s) == (0.0, 0.0)
    assert (config.position_noise_std_rad, config.velocity_noise_std_rad_s) == (0.0, 0.0)
    assert config.quantize and not config.realtime
    assert not config.randomization.active and not config.randomization.scales_model


def test_load_sim_section(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("robot: {}\nsim:\n  observation_latency_s: 0.004\n  quantize: false\n"
                    "  randomization:\n    mass_scale: [0.8, 1.2]\n    action_latency_s: [0, 0.01]\n")
    config = load_sim_config(path)
    assert config.observation_latency_s == 0.004 and not config.quantize
    assert config.randomization == DomainRandomization(mass_scale=(0.8, 1.2), action_latency_s=(0.0, 0.01))
    assert config.randomization.active and config.randomization.scales_model


def test_latency_range_alone_does_not_scale_the_model() -> None:
    dr = DomainRandomization(observation_latency_s=(0.0, 0.004))
    assert dr.active and not dr.scales_model


@pytest.mark.parametrize("data,message", [
    ({"randomisation": {}}, r"unknown key 'randomisation'; did you mean 'randomization'\?"),
    ({"randomization": {"mass_scle": [1, 2]}}, r"unknown key 'randomization.mass_scle'"),
    ({"observation_latency_s": -0.001}, r"observation_latency_s must be finite and >= 0"),
    ({"quantize": "yes"}, r"quantize: expected true or false"),
    ({"randomization": {"kp_scale": [1.2, 0.8]}}, r"kp_scale: \[1.2, 0.8\] must be finite with low <= high"),
    ({"randomization": {"mass_scale": [0.0, 1.0]}}, r"mass_scale: values must be > 0"),
    ({"randomization": {"action_latency_s": [-0.01, 0.0]}}, r"action_latency_s: values must be >= 0"),
    ({"randomization": {"friction_scale": [0.5]}}, r"expected 2 items"),
])
def test_bad_values_name_the_key(data: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        sim_config_from_dict(data, "test.yaml")
