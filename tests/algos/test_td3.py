"""TD3 learner behaviour: delayed updates, exploration, checkpoints, configuration."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
import torch

from robot_rl.algos.batch import Batch
from robot_rl.algos.errors import LearnerConfigError
from robot_rl.algos.td3 import TD3, TD3Config

OBS, ACT = 4, 3
LOW, HIGH = np.array([-1.0, -2.0, 0.0]), np.array([1.0, 2.0, 0.5])
SMALL = {"hidden_sizes": (32, 32), "batch_size": 32, "compile": False}

MakeBatch = Callable[..., Batch]


def make_td3(**overrides: object) -> TD3:
    return TD3(OBS, LOW, HIGH, TD3Config(**{**SMALL, **overrides}))


def params(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b))


def test_actor_and_targets_move_only_every_policy_delay(make_batch: MakeBatch) -> None:
    td3 = make_td3(policy_delay=3)
    batch = make_batch(OBS, ACT)
    for step in range(7):
        before = [params(m) for m in (td3.actor, td3.critic, td3.actor_target, td3.critic_target)]
        metrics = td3.update(batch)
        delayed = step % 3 == 0
        assert ("actor_loss" in metrics) == delayed
        after = [params(m) for m in (td3.actor, td3.critic, td3.actor_target, td3.critic_target)]
        assert not same(before[1], after[1])  # the critics learn every update
        for b, a in zip(before[:1] + before[2:], after[:1] + after[2:]):
            assert same(b, a) == (not delayed)
    assert td3.num_updates == 7 and td3.num_actor_updates == 3


def test_critic_loss_falls_on_a_fixed_batch(make_batch: MakeBatch) -> None:
    td3 = make_td3(critic_lr=3e-3)
    batch = make_batch(OBS, ACT, size=64)
    losses = [td3.update(batch)["critic_loss"] for _ in range(150)]
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])


def test_exploration_noise_stays_in_bounds_and_deterministic_is_the_policy() -> None:
    td3 = make_td3(exploration_noise=5.0)
    obs = np.random.default_rng(0).standard_normal((500, OBS))
    noisy = td3.act(obs)
    assert np.all(noisy >= LOW.astype(np.float32)) and np.all(noisy <= HIGH.astype(np.float32))
    with torch.no_grad():
        policy = td3.actor(torch.as_tensor(obs, dtype=torch.float32)).numpy()
    np.testing.assert_array_equal(td3.act(obs, deterministic=True), policy)
    assert not np.allclose(noisy, policy)
    assert td3.act(obs[0]).shape == (ACT,)


def test_target_smoothing_stays_in_bounds(make_batch: MakeBatch) -> None:
    td3 = make_td3(policy_noise=100.0, noise_clip=0.1)
    batch = make_batch(OBS, ACT, size=64)
    seen: list[torch.Tensor] = []
    td3.critic_target.register_forward_pre_hook(lambda module, args: seen.append(args[1]))
    td3.compute_target(batch.next_obs, batch.reward, batch.done, batch.discount, torch.randn(64, ACT) * 100)
    with torch.no_grad():
        unsmoothed = td3.actor_target(batch.next_obs)
    scale = torch.as_tensor((HIGH - LOW) / 2, dtype=torch.float32)
    assert torch.all((seen[0] - unsmoothed).abs() <= 0.1 * scale + 1e-6)
    assert torch.all(seen[0] >= torch.as_tensor(LOW, dtype=torch.float32))
    assert torch.all(seen[0] <= torch.as_tensor(HIGH, dtype=torch.float32))


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_state_dict_round_trip(precision: str, make_batch: MakeBatch) -> None:
    original = make_td3(precision=precision)
    for i in range(3):
        original.update(make_batch(OBS, ACT, seed=i))
    buffer = io.BytesIO()
    torch.save(original.state_dict(), buffer)
    buffer.seek(0)
    restored = TD3(OBS, LOW, HIGH, TD3Config(**SMALL, precision=precision, seed=99))
    restored.load_state_dict(torch.load(buffer, weights_only=False))
    obs = np.random.default_rng(3).standard_normal((5, OBS))
    np.testing.assert_array_equal(restored.act(obs), original.act(obs))
    batch = make_batch(OBS, ACT, seed=11)
    assert restored.update(batch) == original.update(batch)  # update 4: critic only
    assert restored.update(batch) == original.update(batch)  # update 5: actor and targets too
    for name in ("actor", "critic", "actor_target", "critic_target"):
        assert same(params(getattr(original, name)), params(getattr(restored, name)))


@pytest.mark.parametrize("field, value", [
    ("policy_delay", 0), ("noise_clip", -0.1), ("tau", 2.0), ("hidden_sizes", ()), ("precision", "int8"),
])
def test_bad_config_names_the_field(field: str, value: object) -> None:
    with pytest.raises(LearnerConfigError, match=field):
        TD3Config(**{field: value})


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised inside torch.compile itself
def test_compiled_update_matches_eager(make_batch: MakeBatch) -> None:
    eager, compiled = make_td3(), make_td3(compile=True)
    for i in range(4):
        batch = make_batch(OBS, ACT, seed=i)
        expected, actual = eager.update(batch), compiled.update(batch)
        assert actual.keys() == expected.keys()
        for key in expected:
            assert actual[key] == pytest.approx(expected[key], rel=1e-4, abs=1e-5)
    for a, b in zip(eager.actor.parameters(), compiled.actor.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("policy_delay", [2, 3])
def test_update_many_in_rounds_equals_one_update_at_a_time(policy_delay: int, make_batch: MakeBatch) -> None:
    one, many = make_td3(policy_delay=policy_delay), make_td3(policy_delay=policy_delay)
    batches = [make_batch(OBS, ACT, seed=i) for i in range(9)]
    singles = [one.update(batch) for batch in batches]
    many.update(batches[0])  # misaligned: the next update is critic-only, then rounds, then a leftover
    averaged = many.update_many(batches[1:])
    assert (many.num_updates, many.num_actor_updates) == (one.num_updates, one.num_actor_updates)
    for module in ("actor", "critic", "actor_target", "critic_target"):
        assert same(params(getattr(one, module)), params(getattr(many, module))), module
    assert averaged["critic_loss"] == pytest.approx(np.mean([s["critic_loss"] for s in singles[1:]]), rel=1e-6)
    actor_losses = [s["actor_loss"] for s in singles[1:] if "actor_loss" in s]
    assert averaged["actor_loss"] == pytest.approx(np.mean(actor_losses), rel=1e-6)
    assert one.critic_optimizer.steps == many.critic_optimizer.steps == 9
