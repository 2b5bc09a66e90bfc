"""Write golden outputs of the original research code's RL agent (tests/fixtures/original_rl).

    python scripts/original_rl_fixtures.py ORIGINAL_CHECKOUT [OUT_DIR]

ORIGINAL_CHECKOUT is a checkout of SakanaAI/continuous-thought-machines (the fixtures in the
repo come from commit aecfb63). This script builds that code's `Agent` (tasks/rl/train.py)
with small sizes, moves its parameters away from their defaults so that every one matters
(decays inside and outside the clamp, temperatures, norms, start traces), and plays a short
sequence of observations through it the way its PPO loop does: several environment steps for
several environments, restarting the agent's state where an episode ended. It saves the
agent's state dict, the inputs, and what the agent computed: per step its synchronisation,
action logits and value, and at the end the carried windows. Only numbers leave this script;
tests/test_original_rl.py checks our `original-rl` architecture against them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from unittest import mock

import torch
from safetensors.torch import save_file

# (name, the original's command-line arguments, observation size, actions)
CONFIGS = [
    ("cartpole_glu", ["--d_model", "32", "--d_input", "16", "--n_synch_out", "8",
                      "--iterations", "2", "--memory_length", "5", "--memory_hidden_dims", "4",
                      "--synapse_depth", "1"], 4, 2),
    ("acrobot_unet", ["--d_model", "48", "--d_input", "12", "--n_synch_out", "6",
                      "--iterations", "3", "--memory_length", "4", "--no-deep_memory",
                      "--synapse_depth", "3"], 6, 3),
]
ENVS, STEPS = 3, 6
# dones[t, e]: environment e's episode ended just before step t (its state restarts there)
DONES = [[0, 0, 0], [0, 0, 0], [0, 1, 0], [0, 0, 0], [1, 0, 0], [0, 1, 1]]


def load_original(checkout: Path):  # noqa: ANN201 (the original's Agent and parse_args)
    sys.path.insert(0, str(checkout))
    # plotting modules the agent never uses here need packages this project does not install
    for name in ("tasks.rl.plotting", "tasks.image_classification.plotting", "seaborn",
                 "imageio"):
        sys.modules.setdefault(name, mock.MagicMock())
    from tasks.rl.train import Agent, parse_args

    return Agent, parse_args


def perturb(agent: torch.nn.Module, generator: torch.Generator) -> None:
    with torch.no_grad():
        for name, p in agent.named_parameters():
            noise = torch.rand(p.shape, generator=generator)
            if name.endswith("decay_params_out"):
                p.copy_(noise * 5.0 - 0.5)  # some below 0 and above 4: the clamp matters
            elif name.endswith(".T"):
                p.copy_(0.5 + noise)
            elif "LayerNorm" in type(agent.get_submodule(name.rsplit(".", 1)[0])).__name__:
                p.add_(0.2 * (noise - 0.5))
            elif name.endswith(("start_trace", "start_activated_trace")):
                p.copy_(noise - 0.5)


def main() -> None:
    checkout = Path(sys.argv[1]).resolve()
    out_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("tests/fixtures/original_rl")
    out_dir.mkdir(parents=True, exist_ok=True)
    Agent, parse_args = load_original(checkout)
    for index, (name, argv, obs_size, actions) in enumerate(CONFIGS):
        torch.manual_seed(index)
        sys.argv = ["train.py", "--env_id", "CartPole-v1", "--neuron_select_type",
                    "first-last", *argv]
        args = parse_args()
        agent = Agent(actions, args, "cpu")
        state = agent.get_initial_state(ENVS)
        agent.get_action_and_value(torch.zeros(ENVS, obs_size), state,
                                   torch.zeros(ENVS))  # materialise the lazy layers
        generator = torch.Generator().manual_seed(100 + index)
        perturb(agent, generator)
        agent.eval()
        observations = torch.randn(STEPS, ENVS, obs_size, generator=generator)
        dones = torch.tensor(DONES, dtype=torch.float32)
        syncs, logits, values = [], [], []
        with torch.no_grad():
            state = agent.get_initial_state(ENVS)
            for t in range(STEPS):
                sync, state, _ = agent.get_states(observations[t], state, dones[t])
                syncs.append(sync)
                logits.append(agent.actor(sync))
                values.append(agent.critic(sync).squeeze(-1))
        tensors = {"observations": observations, "dones": dones,
                   "synchronisation": torch.stack(syncs), "logits": torch.stack(logits),
                   "values": torch.stack(values), "final_pre": state[0].contiguous(),
                   "final_post": state[1].contiguous()}
        save_file(tensors, out_dir / f"{name}.io.safetensors")
        save_file({k: v.clone().contiguous() for k, v in agent.state_dict().items()},
                  out_dir / f"{name}.weights.safetensors")
        meta = {"argv": argv, "observation_size": obs_size, "actions": actions,
                "args": {k: v for k, v in vars(args).items()
                         if isinstance(v, int | float | str | bool)}}
        (out_dir / f"{name}.json").write_text(json.dumps(meta, indent=1) + "\n")
        print(f"{name}: {sum(p.numel() for p in agent.parameters()):,} parameters -> "
              f"{out_dir}")


if __name__ == "__main__":
    main()
