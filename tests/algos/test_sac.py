"""SAC learner behaviour: metrics, schedules, REDQ subsets, checkpoints, configuration."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
import torch

from robot_rl.algos.batch import Batch
from robot_rl.algos.errors import CheckpointError, LearnerConfigError
from robot_rl.algos.normalizer import ObservationNormalizer
from robot_rl.algos.sac import SAC, SACConfig

OBS, ACT = 5, 2
LOW, HIGH = np.array([-1.0, 0.0]), np.array([1.0, 3.0])
SMALL = {"hidden_sizes": (32, 32), "batch_size": 32, "compile": False}

MakeBatch = Callable[..., Batch]


def make_sac(**overrides: object) -> SAC:
    return SAC(OBS, LOW, HIGH, SACConfig(**{**SMALL, **overrides}))


def params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_update_reports_metrics_and_counts(make_batch: MakeBatch) -> None:
    sac = make_sac()
    metrics = sac.update(make_batch(OBS, ACT))
    assert set(metrics) == {"critic_loss", "q_mean", "actor_loss", "alpha", "entropy", "alpha_loss"}
    assert all(np.isfinite(v) for v in metrics.values())
    assert metrics["alpha"] == pytest.approx(1.0)
    assert sac.num_updates == 1 and sac.num_actor_updates == 1
    assert sac.alpha != 1.0


def test_critic_loss_falls_on_a_fixed_batch(make_batch: MakeBatch) -> None:
    sac = make_sac(critic_lr=3e-3)
    batch = make_batch(OBS, ACT, size=64)
    losses = [sac.update(batch)["critic_loss"] for _ in range(150)]
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])


def test_actor_and_target_intervals(make_batch: MakeBatch) -> None:
    sac = make_sac(actor_update_interval=3, target_update_interval=2)
    batch = make_batch(OBS, ACT)
    for step in range(6):
        actor_before, target_before = params(sac.actor), params(sac.critic_target)
        metrics = sac.update(batch)
        assert ("actor_loss" in metrics) == (step % 3 == 0)
        assert same(actor_before, params(sac.actor)) == (step % 3 != 0)
        assert same(target_before, params(sac.critic_target)) == (step % 2 != 0)
    assert sac.num_actor_updates == 2


def test_fixed_temperature(make_batch: MakeBatch) -> None:
    sac = make_sac(auto_alpha=False, init_alpha=0.3)
    for _ in range(3):
        metrics = sac.update(make_batch(OBS, ACT))
    assert "alpha_loss" not in metrics
    assert sac.alpha == pytest.approx(0.3)


def test_redq_draws_m_of_n_critics_for_the_target(make_batch: MakeBatch) -> None:
    sac = make_sac(n_critics=10, critic_subset=2, actor_q_reduction="mean")
    draws = [sac.sample_critic_subset() for _ in range(200)]
    assert all(d.shape == (2,) and d[0] != d[1] and 0 <= d.min() and d.max() < 10 for d in draws)
    assert set(torch.cat(draws).tolist()) == set(range(10))

    evaluated: list[int] = []
    sac.critic_target.register_forward_pre_hook(
        lambda module, args, kwargs: evaluated.append(len(kwargs["members"])), with_kwargs=True)
    sac.update(make_batch(OBS, ACT))
    assert evaluated == [2]


def test_redq_target_is_the_minimum_over_the_subset(make_batch: MakeBatch) -> None:
    sac = make_sac(n_critics=10, critic_subset=2)
    with torch.no_grad():  # target critic i outputs the constant i
        sac.critic_target.net.weights[-1].zero_()
        sac.critic_target.net.biases[-1].copy_(torch.arange(10.0).view(10, 1, 1))
    batch = make_batch(OBS, ACT, size=8)
    noise = torch.randn(8, ACT)
    members = torch.tensor([6, 3])
    target = sac.compute_target(batch.next_obs, batch.reward, batch.done, batch.discount, noise, members)
    _, next_log_prob = sac.actor.sample(batch.next_obs, noise)
    expected = batch.reward + batch.discount * (1 - batch.done) * (3.0 - sac.alpha * next_log_prob)
    torch.testing.assert_close(target, expected)


CONFIGS = {
    "sac": {},
    "redq": {"n_critics": 5, "critic_subset": 2, "actor_q_reduction": "mean"},
    "droq": {"critic_dropout": 0.1, "critic_layer_norm": True},
    "bf16": {"precision": "bf16"},
    "crossq": {"target_networks": False, "critic_batch_renorm": True, "adam_beta1": 0.5, "actor_update_interval": 3},
}


@pytest.mark.parametrize("variant", sorted(CONFIGS))
@pytest.mark.parametrize("with_normalizer", [False, True])
def test_state_dict_round_trip(variant: str, with_normalizer: bool, make_batch: MakeBatch) -> None:
    def build(seed: int) -> SAC:
        normalizer = ObservationNormalizer(OBS) if with_normalizer else None
        return SAC(OBS, LOW, HIGH, SACConfig(**{**SMALL, **CONFIGS[variant], "seed": seed}), normalizer)

    original = build(seed=0)
    if original.normalizer is not None:
        original.normalizer.update(np.random.default_rng(0).normal(3.0, 2.0, size=(100, OBS)))
    for i in range(3):
        original.update(make_batch(OBS, ACT, seed=i))
    buffer = io.BytesIO()
    torch.save(original.state_dict(), buffer)
    buffer.seek(0)
    restored = build(seed=123)
    restored.load_state_dict(torch.load(buffer, weights_only=False))

    obs = np.random.default_rng(5).standard_normal((4, OBS))
    np.testing.assert_array_equal(restored.act(obs, deterministic=True), original.act(obs, deterministic=True))
    np.testing.assert_array_equal(restored.act(obs), original.act(obs))

    batch = make_batch(OBS, ACT, seed=9)
    torch.manual_seed(7)  # DroQ dropout draws from the global generator
    expected = original.update(batch)
    torch.manual_seed(7)
    assert restored.update(batch) == expected
    pairs = [(original.actor, restored.actor), (original.critic, restored.critic)]
    if original.critic_target is not None:
        pairs.append((original.critic_target, restored.critic_target))
    for a, b in pairs:
        assert same(params(a), params(b)) and same(list(a.buffers()), list(b.buffers()))
    assert restored.num_updates == original.num_updates == 4


def test_load_refuses_a_mismatched_state() -> None:
    sac = make_sac()
    state = sac.state_dict()
    with pytest.raises(CheckpointError):
        make_sac(hidden_sizes=(16, 16)).load_state_dict(state)
    with pytest.raises(CheckpointError):
        make_sac().load_state_dict({k: v for k, v in state.items() if k != "critic"})
    with pytest.raises(CheckpointError):
        make_sac(auto_alpha=False).load_state_dict(state)


def test_act_shapes_and_bounds() -> None:
    sac = make_sac()
    single = sac.act(np.zeros(OBS))
    batch = sac.act(np.random.default_rng(0).standard_normal((50, OBS)) * 100)
    assert single.shape == (ACT,) and single.dtype == np.float32
    assert batch.shape == (50, ACT)
    assert np.all(batch >= LOW.astype(np.float32)) and np.all(batch <= HIGH.astype(np.float32))


@pytest.mark.parametrize("field, value", [
    ("gamma", 1.5), ("tau", 0.0), ("critic_lr", -1.0), ("n_critics", 0), ("critic_subset", 3),
    ("critic_dropout", 1.0), ("actor_update_interval", 0), ("precision", "fp16"), ("actor_q_reduction", "max"),
])
def test_bad_config_names_the_field(field: str, value: object) -> None:
    with pytest.raises(LearnerConfigError, match=field):
        SACConfig(**{field: value})


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised inside torch.compile itself
@pytest.mark.parametrize("variant", ["sac", "redq", "crossq"])
def test_compiled_update_matches_eager(variant: str, make_batch: MakeBatch) -> None:
    eager, compiled = make_sac(**CONFIGS[variant]), make_sac(**CONFIGS[variant], compile=True)
    for i in range(4):
        batch = make_batch(OBS, ACT, seed=i)
        expected, actual = eager.update(batch), compiled.update(batch)
        assert actual.keys() == expected.keys()
        for key in expected:
            assert actual[key] == pytest.approx(expected[key], rel=1e-4, abs=1e-5)
    for a, b in zip(eager.actor.parameters(), compiled.actor.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)



@pytest.mark.parametrize("overrides", [{}, {"actor_update_interval": 2, "target_update_interval": 3},
                                       {"n_critics": 4, "critic_subset": 2}, {"auto_alpha": False}])
def test_update_many_in_rounds_equals_one_update_at_a_time(overrides: dict, make_batch: MakeBatch) -> None:
    one, many = make_sac(**overrides), make_sac(**overrides)
    batches = [make_batch(OBS, ACT, seed=i) for i in range(7)]  # three rounds of two and a leftover
    singles = [one.update(batch) for batch in batches]
    averaged = many.update_many(batches)
    assert (many.num_updates, many.num_actor_updates) == (one.num_updates, one.num_actor_updates)
    for module in ("actor", "critic", "critic_target"):
        assert same(params(getattr(one, module)), params(getattr(many, module))), module
    assert torch.equal(one.log_alpha, many.log_alpha)
    for key in averaged:
        expected = np.mean([s[key] for s in singles if key in s])
        assert averaged[key] == pytest.approx(expected, rel=1e-6), key
