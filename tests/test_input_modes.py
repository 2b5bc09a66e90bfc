"""Input modes: attention over tokens, direct input, and a token schedule over ticks."""

import dataclasses

import pytest
import torch

from ctm.model import CTM, CTMConfig, build_model

BASE = CTMConfig(d_model=32, d_input=16, heads=2, ticks=5, memory_length=3, nlm_hidden=4,
                 n_sync_out=8, n_sync_action=8, out_dims=10, backbone="none", in_channels=6)


def test_direct_input_joins_the_synapse_input_every_tick():
    config = dataclasses.replace(BASE, input_mode="direct", input_size=12)
    model = CTM(config).eval()
    assert model.sync_action is None
    assert not [k for k in model.state_dict() if "sync_action" in k]
    x = torch.randn(4, 3, 4)  # flattened to 12 features
    out = model(x, trace=True)
    projected = model.inputs.proj(x.flatten(1))  # LayerNorm(Linear(x))
    first = model.synapse(torch.cat([projected, model.start_post.expand(4, -1)], -1))
    torch.testing.assert_close(out.pre_activations[:, 0], first)
    assert out.attention is None and out.sync_action_trace is None
    with pytest.raises(ValueError, match="input_size 12"):
        model(torch.randn(4, 13))


def test_a_constant_schedule_is_attention_over_the_same_tokens():
    """The schedule mode shares attention's parameters: the same tokens at every tick give
    the attention model's outputs exactly."""
    attention = CTM(BASE).eval()
    scheduled = CTM(dataclasses.replace(BASE, input_mode="schedule")).eval()
    scheduled.load_state_dict(attention.state_dict())
    tokens = torch.randn(3, 7, 6)
    expected = attention(tokens, trace=True)
    got = scheduled(tokens.unsqueeze(1).expand(-1, BASE.ticks, -1, -1), trace=True)
    torch.testing.assert_close(got.logits, expected.logits)
    torch.testing.assert_close(got.attention, expected.attention)


def test_ticks_past_the_schedule_read_nothing():
    model = CTM(dataclasses.replace(BASE, input_mode="schedule")).eval()
    x = torch.randn(2, 2, 4, 6)
    x[:, 1, 2:] = 0  # tick 2 shows two of its four tokens
    padded = torch.cat([x, torch.zeros(2, 3, 4, 6)], dim=1)  # explicit empty ticks 3-5
    short, long = model(x, trace=True), model(padded, trace=True)
    torch.testing.assert_close(short.logits, long.logits)
    weights = short.attention  # (B, T, heads, N)
    torch.testing.assert_close(weights[:, 0].sum(-1), torch.ones(2, 2))
    assert (weights[:, 1, :, 2:] == 0).all()
    torch.testing.assert_close(weights[:, 1].sum(-1), torch.ones(2, 2))
    assert (weights[:, 2:] == 0).all()


def test_an_empty_tick_adds_zeros_and_keeps_gradients_finite():
    model = CTM(dataclasses.replace(BASE, input_mode="schedule"))
    x = torch.randn(2, 3, 4, 6)
    x[:, 1] = 0
    attended, _ = model.inputs(torch.randn(2, 8), *model.inputs.at_tick(model.inputs.encode(x),
                                                                       1))
    assert (attended == 0).all()
    model(x).logits.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_the_lstm_baseline_reads_a_schedule_too():
    config = dataclasses.replace(BASE, input_mode="schedule", architecture="lstm")
    model = build_model(config).eval()
    x = torch.randn(2, 2, 4, 6)
    padded = torch.cat([x, torch.zeros(2, 3, 4, 6)], dim=1)
    torch.testing.assert_close(model(x).logits, model(padded).logits)
    with pytest.raises(ValueError, match="feedforward architecture takes input_mode"):
        dataclasses.replace(config, architecture="feedforward")


@pytest.mark.parametrize("architecture", ["ctm", "lstm"])
@pytest.mark.parametrize("mode", ["attention", "direct"])
def test_thinking_carried_across_calls_continues_exactly(architecture, mode):
    """Two calls of 2 and 4 ticks with the state passed on are one call of 6 ticks."""
    config = dataclasses.replace(BASE, ticks=6, architecture=architecture, input_mode=mode,
                                 input_size=42 if mode == "direct" else 0)
    model = build_model(config).eval()
    x = torch.randn(3, 7, 6)
    full = model(x)
    first = model(x, ticks=2, state=model.initial_state(3))
    second = model(x, ticks=4, state=first.state)
    torch.testing.assert_close(torch.cat([first.logits, second.logits], 1), full.logits,
                               rtol=0, atol=0)


def test_a_reset_sample_starts_afresh_and_the_others_carry_on():
    model = CTM(dataclasses.replace(BASE, input_mode="direct", input_size=42)).eval()
    x = torch.randn(3, 7, 6)
    first = model(x, ticks=3, state=model.initial_state(3))
    done = torch.tensor([True, False, False])
    state = first.state.where(done, model.initial_state(3))
    after = model(x, ticks=3, state=state)
    fresh, carried = model(x, ticks=3), model(x, ticks=3, state=first.state)
    torch.testing.assert_close(after.logits[0], fresh.logits[0])
    torch.testing.assert_close(after.logits[1:], carried.logits[1:])
    assert not torch.allclose(fresh.logits[1:], carried.logits[1:])
    # the carried state keeps the graph until detached, for backpropagation through calls
    after.logits.sum().backward()
    assert model.start_post.grad is not None
    assert not state.detach().z.requires_grad
    with pytest.raises(ValueError, match="carried state of 3 samples for an input of 2"):
        model(x[:2], state=first.state)


def test_a_decay_bounds_the_running_sums_of_a_long_carried_episode():
    """With r = exp(-p) < 1 the running normaliser beta tends to 1 / (1 - r); with p = 0 it
    counts every tick, and synchronisation grows with the square root of the ticks."""
    for decay, bounded in ((0.0, False), (0.5, True)):
        config = dataclasses.replace(BASE, input_mode="direct", input_size=42,
                                     decay_init=decay)
        model = CTM(config).eval()
        assert torch.equal(model.sync_out.decay, torch.full_like(model.sync_out.decay, decay))
        state, x = model.initial_state(2), torch.randn(2, 7, 6)
        with torch.no_grad():
            for _ in range(40):
                state = model(x, ticks=5, state=state).state
        limit = 1 / (1 - torch.exp(torch.tensor(-decay))) if bounded else 201.0
        torch.testing.assert_close(state.beta_out, torch.full_like(state.beta_out, limit))
    with pytest.raises(ValueError, match="decay_init must be in"):
        dataclasses.replace(BASE, decay_init=-1.0)
