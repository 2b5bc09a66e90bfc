"""Reinforcement learning: observations, advantages, the PPO loss, rollouts whose replay gives
back their own log-probabilities, held-out episode seeds, and resume bit for bit."""

import dataclasses
import math
import random

import numpy as np
import pytest
import torch

from ctm.model import CTMConfig, build_model
from ctm.run.config import RunConfig, TrainConfig, build_task
from ctm.tasks.play import play
from ctm.tasks.ppo import Chunks, gae, ppo_loss, replay
from ctm.tasks.rl import RLOptions, RLTask, _usable, episode_seeds
from ctm.tasks.rl.envs import env_spec
from ctm.train import Trainer

SMALL = {"d_model": 32, "d_input": 16, "heads": 2, "memory_length": 3, "nlm_hidden": 4,
         "n_sync_out": 8, "n_sync_action": 8, "n_self": 0, "ticks": 2}
TINY = {"rollout_steps": 16, "chunk": 8, "epochs": 2, "minibatches": 2, "eval_episodes": 4}


def test_velocities_are_masked():
    spec = env_spec("CartPole-v1")
    assert spec.encode(np.array([1.0, 2.0, 3.0, 4.0])).tolist() == [1.0, 0.0, 3.0, 0.0]
    acrobot = env_spec("Acrobot-v1")
    assert acrobot.encode(np.arange(1.0, 7.0)).tolist() == [1, 2, 3, 4, 0, 0]
    assert env_spec("CartPole-v1", mask_velocity=False).encode(
        np.array([1.0, 2.0, 3.0, 4.0])).tolist() == [1, 2, 3, 4]


def test_minigrid_view_is_one_hot():
    spec = env_spec("MiniGrid-DoorKey-5x5-v0")
    env = spec.make()
    obs, _ = env.reset(seed=0)
    x = spec.encode(obs)
    env.close()
    assert x.shape == (spec.observation_size,) == (7 * 7 * 20 + 4,)
    cells = x[:-4].reshape(49, 20)
    assert (cells[:, :11].sum(1) == 1).all() and (cells[:, 11:17].sum(1) == 1).all()
    assert (cells[:, 17:].sum(1) == 1).all() and x[-4:].sum() == 1
    assert spec.actions == 7 and spec.success(0.5) and not spec.success(0.0)


def test_gae_against_a_hand_computation():
    rewards = torch.tensor([[1.0], [1.0], [1.0]])
    values = torch.tensor([[0.5], [0.5], [0.5]])
    dones = torch.tensor([[False], [True], [False]])  # the episode ends with step 2
    advantages, returns = gae(rewards, values, dones, torch.tensor([2.0]), gamma=0.9, lam=0.8)
    # step 3: 1 + 0.9·2 − 0.5 = 2.3; step 2 ends its episode: 1 − 0.5 = 0.5;
    # step 1: (1 + 0.9·0.5 − 0.5) + 0.9·0.8·0.5 = 1.31
    torch.testing.assert_close(advantages.flatten(), torch.tensor([1.31, 0.5, 2.3]))
    torch.testing.assert_close(returns.flatten(), torch.tensor([1.81, 1.0, 2.8]))


def chunks_for(old: torch.Tensor, advantages: torch.Tensor, actions: torch.Tensor) -> Chunks:
    c, length = actions.shape
    return Chunks(torch.zeros(c, length, 1), actions, old, advantages, torch.zeros(c, length),
                  torch.zeros(c, length, dtype=torch.bool), None)


def test_ppo_loss_clips_the_ratio():
    logits = torch.log(torch.tensor([[[0.9, 0.1], [0.5, 0.5]]]))  # (C=1, L=2, A=2)
    actions = torch.tensor([[0, 1]])
    # old probabilities 0.5 and 0.5: ratios 1.8 and 1.0
    old = torch.log(torch.tensor([[0.5, 0.5]]))
    advantages = torch.tensor([[1.0, -1.0]])  # normalised: (1/√2, −1/√2)·... → ±0.7071
    loss, stats = ppo_loss(logits, torch.zeros(1, 2), chunks_for(old, advantages, actions),
                           clip=0.2, value_weight=0.0, entropy_weight=0.0)
    a = 1 / math.sqrt(2)
    # sample 1: min(1.8·a, 1.2·a) = 1.2·a; sample 2: min(−1·a, −1·a) = −a; policy = −mean
    assert stats["policy_loss"] == pytest.approx(-(1.2 * a - a) / 2, rel=1e-5)
    assert stats["clip_fraction"] == 0.5
    assert loss.item() == pytest.approx(stats["policy_loss"], rel=1e-6)


def test_episode_seeds_keep_to_their_side():
    train = episode_seeds(random.Random(0), held_out=False)
    held = episode_seeds(random.Random(0), held_out=True)
    a, b = [next(train) for _ in range(200)], [next(held) for _ in range(50)]
    assert all(_usable(s, False) for s in a) and all(_usable(s, True) for s in b)
    assert not set(a) & set(b)


def tiny_run(steps: int, architecture: str = "ctm") -> RunConfig:
    return RunConfig.create("rl", TINY, {**SMALL, "architecture": architecture},
                            {"steps": steps, "batch_size": 4, "eval_every": steps,
                             "checkpoint_every": 2, "threads": 2})


@pytest.mark.parametrize("architecture", ["ctm", "lstm"])
def test_replaying_a_rollout_gives_back_its_log_probabilities(architecture):
    """Before any update, the chunks re-run from their stored states (restarting where
    episodes ended) reproduce the rollout's own log-probabilities and values."""
    run = tiny_run(1, architecture)
    task = build_task(run)
    torch.manual_seed(0)
    model = build_model(run.model)
    chunks = next(task.step_batches(model, 0, 4, 0, "cpu"))
    whole = task.step_batches(model, 0, 4, 0, "cpu")
    assert isinstance(chunks, Chunks) and chunks.resets.any()  # episodes ended inside chunks
    logits, values, _ = replay(model, chunks)
    replayed = torch.log_softmax(logits, -1).gather(-1, chunks.targets[..., None])[..., 0]
    torch.testing.assert_close(replayed, chunks.old_logprob, rtol=1e-5, atol=1e-5)
    assert sum(len(b.targets) for b in whole) == 2 * (16 // 8) * 4  # epochs · chunks


def test_resume_continues_bit_for_bit(tmp_path):
    straight = Trainer(tiny_run(4), tmp_path / "a", progress=False)
    straight.fit()
    first = Trainer(tiny_run(4), tmp_path / "b", progress=False)
    # stop after 2 steps as a signal would, with a checkpoint, then resume
    first.train_step()
    first.train_step()
    first.save_checkpoint()
    resumed = Trainer(tiny_run(4), tmp_path / "b", resume=True, progress=False)
    assert resumed.step == 2
    resumed.fit()
    for (name, a), b in zip(straight.model.state_dict().items(),
                            resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    # one logged step is one PPO update: epochs x minibatches optimiser updates, with the
    # rollout's statistics and PPO's own
    import json

    rows = [json.loads(line) for line in (tmp_path / "a" / "metrics.jsonl").open()]
    train = [r for r in rows if r["split"] == "train"]
    assert [r["step"] for r in train] == [1, 2, 3, 4]
    assert all(r["updates"] == 4 and r["env_steps"] == 64 for r in train)
    assert {"episode_return", "policy_loss", "value_loss", "approx_kl"} <= set(train[0])


def test_rewards_are_scaled_for_training_and_returns_are_reported_unscaled():
    """With gamma = 0 a step's value target is its own reward: CartPole pays 1 a step, so
    every target is the scale. The rollout itself (the same model, seeds and draws) and the
    episode returns it reports do not change with the scale."""
    model, chunks = None, {}
    for scale in (1.0, 0.25):
        run = RunConfig.create("rl", {**TINY, "rollout_steps": 64, "gamma": 0.0,
                                      "gae_lambda": 0.0, "reward_scale": scale},
                               SMALL, {"steps": 1, "batch_size": 4, "threads": 2})
        if model is None:
            torch.manual_seed(0)
            model = build_model(run.model)
        chunks[scale] = next(build_task(run).step_batches(model, 0, 4, 0, "cpu"))
    plain, scaled = chunks[1.0], chunks[0.25]
    # (the targets are built as advantage + value: exact to float32 rounding)
    torch.testing.assert_close(plain.returns, torch.ones_like(plain.returns))
    torch.testing.assert_close(scaled.returns, torch.full_like(scaled.returns, 0.25))
    assert torch.equal(plain.targets, scaled.targets)
    assert plain.stats == scaled.stats and plain.stats["episodes"] >= 1


def test_models_and_settings_that_cannot_work_are_refused():
    with pytest.raises(ValueError, match="feedforward"):
        RunConfig.create("rl", {}, {"architecture": "feedforward"})
    with pytest.raises(ValueError, match="chunk \\(7\\) must divide rollout_steps"):
        RLOptions(chunk=7)
    with pytest.raises(ValueError, match="reward_scale must be > 0, got 0.0"):
        RLOptions(reward_scale=0.0)
    with pytest.raises(ValueError, match="env must be one of"):
        RLOptions(env="Pong-v5")
    with pytest.raises(ValueError, match="--data-workers must be 0"):
        Trainer(RunConfig.create("rl", TINY, SMALL, {"data_workers": 1}), "/nonexistent/x",
                progress=False)


def test_evaluation_plays_held_out_episodes():
    run = tiny_run(1)
    task = build_task(run)
    assert isinstance(task, RLTask)
    model = build_model(run.model)
    seeds = [int(s) for b in task.eval_batches(3, 0) for s in b.inputs]
    assert len(seeds) == 4 and all(_usable(s, True) for s in seeds)
    metrics = task.evaluate(model, task.eval_batches(3, 0), "cpu")
    assert metrics["episodes"] == 4 and metrics["mean_return"] >= 8  # CartPole lasts >= 8
    assert metrics == task.evaluate(model, task.eval_batches(2, 0), "cpu")  # batching aside


def test_summary_keeps_minigrid_returns_apart():
    # MiniGrid's returns are below 1: 0.958 must not print as 1.0
    task = RLTask(RLOptions(env="MiniGrid-DoorKey-5x5-v0"))
    line = task.summary({"mean_return": 0.9582, "return_std": 0.0069, "episodes": 100,
                         "mean_length": 11.6, "mean_certainty": 0.9, "success_rate": 1.0})
    assert "mean return 0.958 (± 0.007)" in line and "solved 100.0%" in line
    cartpole = RLTask(RLOptions()).summary({"mean_return": 487.25, "return_std": 3.0,
                                           "episodes": 100, "mean_length": 487.25,
                                           "mean_certainty": 0.9})
    assert "mean return 487.2 (± 3.0)" in cartpole


def test_each_environment_brings_its_recipe_and_flags_override_it():
    acrobot = RunConfig.create("rl", {"env": "Acrobot-v1"})
    assert (acrobot.options.entropy_weight, acrobot.options.value_weight,
            acrobot.options.gamma, acrobot.options.gae_lambda,
            acrobot.options.reward_scale) == (0.1, 0.25, 0.99, 0.95, 0.01)
    assert (acrobot.train.steps, acrobot.train.lr) == (300, 5e-4)
    doorkey = RunConfig.create("rl", {"env": "MiniGrid-DoorKey-5x5-v0"})
    assert (doorkey.options.entropy_weight, doorkey.options.sample_actions,
            doorkey.train.steps) == (0.01, True, 300)
    cartpole = RunConfig.create("rl")
    assert (cartpole.options.entropy_weight, cartpole.options.gamma) == (0.0, 0.98)
    assert (cartpole.train.steps, cartpole.train.lr) == (600, 1e-3)
    assert (cartpole.options.reward_scale, doorkey.options.reward_scale) == (0.1, 1.0)
    mine = RunConfig.create("rl", {"env": "Acrobot-v1", "entropy_weight": 0.02},
                            train={"lr": 1e-4})
    assert (mine.options.entropy_weight, mine.options.value_weight, mine.train.lr) == (
        0.02, 0.25, 1e-4)
    # a saved run's options are all given: reading it back applies no recipe on top
    again = RunConfig.from_dict(mine.to_dict())
    assert again.options == mine.options and again.train == mine.train
    # a run saved before reward_scale existed trained unscaled, and reads back that way
    older = acrobot.to_dict()
    del older["options"]["reward_scale"]
    assert RunConfig.from_dict(older).options.reward_scale == 1.0
    # and so would a train or model field added since: the plain default, not the task's
    del older["train"]["grad_clip"], older["model"]["d_model"]
    again = RunConfig.from_dict(older)
    assert (again.train.grad_clip, acrobot.train.grad_clip) == (TrainConfig().grad_clip, 0.5)
    assert (again.model.d_model, acrobot.model.d_model) == (CTMConfig().d_model, 128)


def test_sampled_evaluation_is_seeded_per_episode():
    run = tiny_run(1)
    task = build_task(run)
    model = build_model(run.model)
    seeds = [11, 12, 13]
    greedy = play(model, task.spec, seeds, "cpu")
    drawn = play(model, task.spec, seeds, "cpu", sample=True)
    # an untrained policy is unsure, so drawn actions depart from the most likely ones
    def most_likely(e):  # noqa: ANN001, ANN202
        return [a == int(p.argmax()) for a, p in zip(e.actions, e.probabilities, strict=True)]

    assert not all(x for e in drawn for x in most_likely(e))
    assert all(x for e in greedy for x in most_likely(e))
    # an episode's draws depend on its own seed, not on the episodes beside it
    alone = play(model, task.spec, [12], "cpu", sample=True)[0]
    assert alone.actions == drawn[1].actions and alone.rewards == drawn[1].rewards
    sampled = RLTask(dataclasses.replace(task.options, sample_actions=True))
    assert sampled.evaluate(model, sampled.eval_batches(3, 0), "cpu") == sampled.evaluate(
        model, sampled.eval_batches(2, 0), "cpu")
    assert "actions drawn from the policy" in sampled.summary(
        sampled.evaluate(model, sampled.eval_batches(3, 0), "cpu"))


def test_reward_spread_against_a_hand_computation():
    from ctm.tasks.ppo import reward_spread

    rewards = torch.tensor([[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]])
    dones = torch.tensor([[False, False], [True, False], [False, False]])
    # running discounted returns with gamma 0.5: env 0: 1, 1.5, then a new episode: 1;
    # env 1: 2, 3, 3.5
    seen = torch.tensor([1.0, 1.5, 1.0, 2.0, 3.0, 3.5], dtype=torch.float64)
    expected = torch.sqrt(seen.var(unbiased=False) + 1e-8).float()
    assert torch.allclose(reward_spread(rewards, dones, 0.5), expected)


def test_the_original_recipe_brings_the_original_agent_and_settings():
    run = RunConfig.create("rl", {"recipe": "original"})
    o = run.options
    assert (o.clip, o.entropy_weight, o.value_weight, o.gamma, o.gae_lambda, o.epochs,
            o.reward_norm, o.reward_scale, o.max_episode_steps) == (
        0.1, 0.1, 0.25, 0.99, 0.95, 4, True, 1.0, 200)
    # the original's 256 environments x 100 steps per update, as 128 x 200 in 100-step chunks
    assert run.train.batch_size * o.rollout_steps == 256 * 100 and o.chunk == 100
    assert (run.model.architecture, run.model.pairing, run.model.n_sync_out,
            run.model.memory_length, run.model.d_input) == ("original-rl", "dense", 16, 20, 128)
    acrobot = RunConfig.create("rl", {"recipe": "original", "env": "Acrobot-v1",
                                      "clip": 0.2}, {"d_model": 64})
    assert (acrobot.options.clip, acrobot.options.epochs, acrobot.model.d_model,
            acrobot.train.lr) == (0.2, 1, 64, 5e-4)  # flags override the recipe
    with pytest.raises(ValueError, match="offered for CartPole-v1 and Acrobot-v1"):
        RunConfig.create("rl", {"recipe": "original", "env": "MiniGrid-Empty-5x5-v0"})
    # the episode cap reaches the environments the task makes
    env = build_task(run).spec.make()
    assert env.spec.max_episode_steps == 200
    env.close()
    capped = build_task(RunConfig.create("rl", {"max_episode_steps": 3})).spec.make()
    capped.reset(seed=0)
    assert [capped.step(0)[3] for _ in range(3)] == [False, False, True]
