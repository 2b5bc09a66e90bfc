"""Proximal policy optimisation with a recurrent actor-critic: rollouts that carry the model's
thinking from one environment step to the next, advantages, and the clipped loss.

A rollout starts every environment on a fresh episode (seeded from the run's seed and the
training step), so it is a pure function of (weights, seed, step): a resumed run collects
exactly what an uninterrupted one would. The rollout is cut into chunks of `chunk` steps; each
chunk keeps the carried state it started from, and training re-runs the chunk from there
(truncated backpropagation through time, as sb3-contrib's RecurrentPPO does).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..losses import TickLoss
from ..model import ARCHITECTURES, CTMConfig, CTMOutput
from .base import Batch, Task, batch_counts, train_seed
from .play import EnvSpec, make_teams


@dataclass
class PPOOptions:
    """The settings of PPO with an agent that carries its thinking, shared by every task that
    trains one (a task's options extend them)."""

    rollout_steps: int = 512  # steps per environment per update (episodes start afresh)
    chunk: int = 32  # steps of backpropagation through time; divides rollout_steps
    epochs: int = 4  # passes over each rollout
    minibatches: int = 4  # optimiser updates per pass
    gamma: float = 0.98  # discount of future rewards
    gae_lambda: float = 0.98  # GAE's lambda: how far advantages look ahead
    clip: float = 0.2  # PPO's ratio clip
    value_weight: float = 0.5  # weight of the value loss beside the policy's
    entropy_weight: float = 0.0  # weight of the entropy bonus (keeps the policy exploring)
    # training multiplies each reward by this before advantages and value targets are worked
    # out (logged and evaluated returns stay in the environment's units): the policy and the
    # value share one model and one gradient clip, and returns of hundreds make the value
    # loss's gradient drown the policy's
    reward_scale: float = 1.0
    # training divides each reward by the spread of the rollout's running discounted returns,
    # as the original's gymnasium NormalizeReward does with a spread kept over all of training
    reward_norm: bool = False
    eval_episodes: int = 100  # held-out episodes per evaluation
    # evaluation draws each action from the policy (seeded by the episode) instead of taking
    # the most likely one: a greedy agent that sees only part of its world can walk in a loop
    # until the time limit
    sample_actions: bool = False

    def __post_init__(self) -> None:
        for name in ("rollout_steps", "chunk", "epochs", "minibatches", "eval_episodes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.rollout_steps % self.chunk:
            raise ValueError(f"chunk ({self.chunk}) must divide rollout_steps "
                             f"({self.rollout_steps})")
        for name in ("gamma", "gae_lambda"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not self.reward_scale > 0.0:
            raise ValueError(f"reward_scale must be > 0, got {self.reward_scale}")
        if not 0.0 < self.clip < 1.0:
            raise ValueError(f"clip must be in (0, 1), got {self.clip}")


def ppo_batches(model: torch.nn.Module, spec: EnvSpec, o: PPOOptions, step: int,
                batch_size: int, seed: int, device: torch.device | str,
                episode_seeds: Callable[[random.Random], Iterator[int]],
                rank: int = 0, world: int = 1) -> Iterator[Chunks]:
    """One update's minibatches: a rollout with the current weights, then `epochs` passes in
    `minibatches` shuffled minibatches of chunks; the model changes between them. Environment
    i's episodes are seeded by `episode_seeds(Random(f"{base}/{i}"))`. On `world` processes
    each runs its share of the `batch_size` environments (the same environments one process
    would run) and draws its own actions and minibatches, so the run is like one process's,
    not equal to it. With teams (`spec.agents` > 1) `batch_size` counts agents, and a
    minibatch holds whole teams, so that what a team shares stays together."""
    base = train_seed(seed, step)
    n = spec.agents
    if batch_size % (n * world):
        raise ValueError(f"--batch-size counts agents: {batch_size} is not a whole number of "
                         f"teams of {n} on each of {world} process(es)")
    share = batch_size // n // world  # environments (teams) on this process
    seeds = [episode_seeds(random.Random(f"{base}/{i}"))
             for i in range(rank * share, (rank + 1) * share)]
    generator = torch.Generator().manual_seed(base * world + rank)
    was_training = model.training
    model.eval()
    chunks = collect(model, spec, share, o.rollout_steps, o.chunk, seeds, generator, o.gamma,
                     o.gae_lambda, device, o.reward_scale, o.reward_norm)
    model.train(was_training)
    count = len(chunks.targets) // n  # teams of chunks: a team's rows are consecutive
    if count < o.minibatches:
        raise ValueError(f"{count} chunks cannot make {o.minibatches} minibatches: more "
                         f"environments (--batch-size) or fewer --minibatches")
    for _ in range(o.epochs):
        order = torch.randperm(count, generator=generator)
        for part in order.chunk(o.minibatches):
            rows = (part.unsqueeze(1) * n + torch.arange(n)).flatten() if n > 1 else part
            yield chunks.select(rows)


@dataclass
class Chunks(Batch):
    """Rollout chunks: inputs (C, L, F) observations, targets (C, L) actions."""

    old_logprob: torch.Tensor  # (C, L)
    advantages: torch.Tensor  # (C, L)
    returns: torch.Tensor  # (C, L)
    resets: torch.Tensor  # (C, L) bool: the episode ended just before this step
    starts: Any  # carried state at each chunk's first step, C rows
    stats: dict[str, float] = field(default_factory=dict)

    def to(self, device: torch.device | str) -> Chunks:
        return Chunks(self.inputs.to(device), self.targets.to(device),
                      self.old_logprob.to(device), self.advantages.to(device),
                      self.returns.to(device), self.resets.to(device),
                      self.starts.to(device), self.stats)

    def select(self, index: torch.Tensor) -> Chunks:
        return Chunks(self.inputs[index], self.targets[index], self.old_logprob[index],
                      self.advantages[index], self.returns[index], self.resets[index],
                      self.starts.select(index), self.stats)


def gae(rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor,
        last_value: torch.Tensor, gamma: float, lam: float
        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over a rollout of T steps and E environments.

    rewards, values, dones (T, E): dones[t] means the episode ended with step t, so step t + 1
    belongs to a new one and its value is not bootstrapped. last_value (E,) is the value after
    the last step. Returns (advantages, returns), each (T, E)."""
    t_steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(last_value)
    for t in reversed(range(t_steps)):
        following = last_value if t == t_steps - 1 else values[t + 1]
        alive = 1.0 - dones[t].float()
        delta = rewards[t] + gamma * following * alive - values[t]
        running = delta + gamma * lam * alive * running
        advantages[t] = running
    return advantages, advantages + values


def reward_spread(rewards: torch.Tensor, dones: torch.Tensor, gamma: float,
                  epsilon: float = 1e-8) -> torch.Tensor:
    """sqrt(var + epsilon) of the running discounted returns G_t = r_t + gamma G_{t-1} over a
    rollout's (T, E) rewards, G restarting after each episode's end: the scale gymnasium's
    NormalizeReward (which the original code wraps its environments in) divides rewards by.
    That wrapper keeps its statistics over all of training, per environment, and carries G
    across an episode cut off by the time limit; here they are this rollout's, pooled."""
    running = torch.zeros(rewards.shape[1], dtype=torch.float64)
    seen = []
    for t in range(rewards.shape[0]):
        running = running * gamma + rewards[t].double()
        seen.append(running)
        running = running * (~dones[t]).double()
    return torch.sqrt(torch.stack(seen).var(unbiased=False) + epsilon).float()


@torch.no_grad()
def collect(model: torch.nn.Module, spec: EnvSpec, envs: int, steps: int, chunk: int,
            episode_seeds: list[Iterator[int]], generator: torch.Generator,
            gamma: float, lam: float, device: torch.device | str,
            reward_scale: float = 1.0, reward_norm: bool = False) -> Chunks:
    """Run `envs` environments for `steps` steps with the model's sampled actions (its last
    tick's output), carrying its state across steps and restarting it when an episode ends.
    `episode_seeds[i]` seeds environment i's episodes in turn. Rewards are multiplied by
    `reward_scale` for the advantages and returns, and with `reward_norm` divided by
    `reward_spread`; the episode returns reported are not. Each of a team's agents is a row
    (environment i's agents are rows i·agents ...); a team's episode ends for all at once."""
    n = spec.agents
    made = make_teams(spec, envs)
    rows = envs * n
    try:
        next_seed = [iter(seeds) for seeds in episode_seeds]
        obs = np.concatenate([team.reset(seed=next(next_seed[i]))[0]
                              for i, team in enumerate(made)])
        initial = model.initial_state(rows)
        state = initial
        shape = (steps, rows)
        observations = torch.zeros(*shape, spec.observation_size)
        actions = torch.zeros(shape, dtype=torch.long)
        logprobs, values, rewards = torch.zeros(shape), torch.zeros(shape), torch.zeros(shape)
        dones = torch.zeros(shape, dtype=torch.bool)
        resets = torch.zeros(shape, dtype=torch.bool)
        starts = []
        running = np.zeros(rows)
        finished: list[float] = []
        for t in range(steps):
            if t % chunk == 0:
                starts.append(state)
            x = torch.from_numpy(obs)
            observations[t] = x
            out = model(x.to(device), state=state)
            logits = out.logits[:, -1].float().cpu()
            probs = torch.softmax(logits, -1)
            action = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            actions[t] = action
            logprobs[t] = torch.log_softmax(logits, -1).gather(1, action[:, None]).squeeze(1)
            values[t] = out.value.float().cpu()
            for j, team in enumerate(made):
                team_rows = slice(j * n, (j + 1) * n)
                o, reward, terminated, truncated, _ = team.step(action[team_rows].numpy())
                running[team_rows] += reward
                rewards[t, team_rows] = torch.from_numpy(np.asarray(reward, dtype=np.float64)
                                                         * reward_scale).float()
                if terminated or truncated:
                    dones[t, team_rows] = True
                    finished.extend(float(r) for r in running[team_rows])
                    running[team_rows] = 0.0
                    o, _ = team.reset(seed=next(next_seed[j]))
                obs[team_rows] = o
            if t + 1 < steps:
                resets[t + 1] = dones[t]
            state = out.state.where(dones[t].to(device), initial)
        last_value = model(torch.from_numpy(obs).to(device), state=state).value.float().cpu()
    finally:
        for env in made:
            env.close()
    if reward_norm:
        rewards = rewards / reward_spread(rewards, dones, gamma)
    advantages, returns = gae(rewards, values, dones, last_value, gamma, lam)

    def chunked(x: torch.Tensor) -> torch.Tensor:  # (T, E, ...) -> (T/L · E, L, ...) in (c, e)
        t, e = x.shape[:2]
        return x.reshape(t // chunk, chunk, e, *x.shape[2:]).transpose(1, 2).reshape(
            t // chunk * e, chunk, *x.shape[2:])

    stats = {"episodes": float(len(finished)),
             "episode_return": float(np.mean(finished)) if finished else float("nan"),
             "env_steps": float(steps * envs)}
    if spec.success is not None and finished:
        stats["success_rate"] = float(np.mean([spec.success(r) for r in finished]))
    return Chunks(chunked(observations), chunked(actions), chunked(logprobs),
                  chunked(advantages), chunked(returns), chunked(resets),
                  type(initial).cat(starts), stats)


def replay(model: torch.nn.Module, chunks: Chunks) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """Run the model over the chunks again from their stored start states, restarting where an
    episode ended: (logits (C, L, A) of each step's last tick, values (C, L), certainty
    (C, L))."""
    c, length = chunks.targets.shape
    initial = model.initial_state(c)
    state = chunks.starts
    logits, values, certainty = [], [], []
    for t in range(length):
        if t:
            state = state.where(chunks.resets[:, t], initial)
        out = model(chunks.inputs[:, t], state=state)
        logits.append(out.logits[:, -1])
        values.append(out.value)
        certainty.append(out.certainty[:, -1])
        state = out.state
    return torch.stack(logits, 1), torch.stack(values, 1), torch.stack(certainty, 1)


def ppo_loss(logits: torch.Tensor, values: torch.Tensor, chunks: Chunks, clip: float,
             value_weight: float, entropy_weight: float
             ) -> tuple[torch.Tensor, dict[str, float]]:
    """The clipped surrogate objective, a squared-error value loss and an entropy bonus, with
    advantages normalised over the minibatch; and statistics worth logging."""
    log_probs = F.log_softmax(logits.float(), -1)  # (C, L, A)
    new = log_probs.gather(-1, chunks.targets.unsqueeze(-1)).squeeze(-1)
    ratio = torch.exp(new - chunks.old_logprob)
    adv = chunks.advantages
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    policy = torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip, 1 + clip)).mean()
    value = 0.5 * ((values.float() - chunks.returns) ** 2).mean()
    entropy = -(log_probs.exp() * log_probs).sum(-1).mean()
    loss = policy + value_weight * value - entropy_weight * entropy
    with torch.no_grad():
        approx_kl = ((ratio - 1) - (new - chunks.old_logprob)).mean()
        clipped = ((ratio - 1).abs() > clip).float().mean()
    return loss, {"policy_loss": policy.item(), "value_loss": value.item(),
                  "entropy": entropy.item(), "approx_kl": approx_kl.item(),
                  "clip_fraction": clipped.item()}


class AgentTask(Task):
    """A task whose model is an agent trained with PPO (its options extend `PPOOptions`): its
    batches are rollouts (`ppo_batches`), its loss PPO's, and it evaluates by playing held-out
    episodes. A subclass gives its environment, its held-out episodes and their metrics."""

    adaptive_ticks = False  # ticks are per environment step; the episode is the answer
    needs_model_for_batches = True

    def check_model(self, config: CTMConfig) -> None:
        if not ARCHITECTURES.get(config.architecture).carries_state:
            raise ValueError(f"{self.name} carries the agent's state between steps; the "
                             f"{config.architecture} baseline has none: use --architecture "
                             f"lstm for a baseline")

    def train_batch(self, step: int, batch_size: int, seed: int) -> Batch:
        raise TypeError(f"{self.name}'s batches are rollouts of the model: use step_batches")

    def forward(self, model: torch.nn.Module, batch: Batch) -> CTMOutput:
        """The replayed logits, values and certainty of each step's last tick."""
        assert isinstance(batch, Chunks)
        logits, values, certainty = replay(model, batch)
        return CTMOutput(logits=logits, certainty=certainty, sync_out=values, value=values)

    def loss(self, output: CTMOutput, batch: Batch, config: CTMConfig) -> TickLoss:
        """`ppo_loss`, its statistics logged beside it."""
        assert isinstance(batch, Chunks) and output.value is not None
        o = self.options
        loss, stats = ppo_loss(output.logits, output.value, batch, o.clip, o.value_weight,
                               o.entropy_weight)
        return TickLoss(loss=loss, per_tick=None, lowest_loss_tick=None,
                        most_certain_tick=None, extras=stats)

    def meter(self, config: CTMConfig) -> Any:
        raise TypeError(f"{self.name} evaluates by playing episodes (evaluate), not by a meter")

    def calibration_logits(self, model: torch.nn.Module, batches: Iterator[Batch],
                           device: torch.device | str) -> None:
        return None  # actions have no right answer to be calibrated against

    @staticmethod
    def seed_batches(seeds: Iterator[int], total: int, batch_size: int) -> Iterator[Batch]:
        """Held-out episodes as batches of their seeds (`total` of them from `seeds`)."""
        for count in batch_counts(total, batch_size):
            picked = torch.tensor([next(seeds) for _ in range(count)])
            yield Batch(picked, torch.zeros(count))
