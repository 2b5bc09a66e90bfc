"""The fast model against the literal reference on random configurations of every mode:
same weights -> same outputs, traces and gradients (float round-off only)."""

import itertools
import random

import pytest
import torch

from ctm import CTMConfig
from ctm.bench import build_pair
from ctm.losses import grouped_logits, per_tick_cross_entropy, two_tick_loss
from ctm.model.original import state_dict_from_original, state_dict_to_original

MODES = list(itertools.product(["dense", "semi-dense", "random-pairing"], [1, 3], [True, False],
                               ["parity", "resnet18-1"]))


def random_config(pairing, depth, deep, backbone, seed):
    rng = random.Random(seed)
    heads = rng.choice([1, 2, 4])
    n_out, n_action = rng.randint(3, 9), rng.randint(3, 9)
    if backbone == "parity":
        groups, classes = rng.randint(2, 6), 2
        out_shape = (groups, classes)
    else:
        groups, classes = 1, rng.randint(2, 7)
        out_shape = (-1,)
    return CTMConfig(
        d_model=rng.randint(20, 40), d_input=heads * rng.randint(2, 6), heads=heads,
        ticks=rng.randint(2, 5), memory_length=rng.randint(1, 5), synapse_depth=depth,
        deep_nlm=deep, nlm_hidden=rng.randint(1, 6), pairing=pairing, n_sync_out=n_out,
        n_sync_action=n_action,
        n_self=rng.randint(0, min(n_out, n_action) - 1) if pairing == "random-pairing" else 0,
        out_dims=groups * classes, out_shape=out_shape, backbone=backbone,
        positional_embedding=rng.choice(["none", "rotational-1d"]) if backbone == "parity"
        else "none", in_channels=rng.choice([1, 3]), pair_seed=seed)


def random_input(config, batch, generator):
    if config.backbone == "parity":
        length = config.out_groups_shape[0]
        return (torch.randint(0, 2, (batch, length), generator=generator) * 2 - 1).float()
    return torch.randn(batch, config.in_channels, 7, 9, generator=generator)


def perturb(model, generator):
    """Move every parameter off its initial value so norms, temperatures and biases matter;
    some decays land outside [0, 15] to exercise the clamp."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(torch.randn(p.shape, generator=generator) * 0.1)
            if name.endswith("decay"):
                p.copy_(torch.randn(p.shape, generator=generator) * 4 + 2)


@pytest.mark.parametrize(("pairing", "depth", "deep", "backbone"), MODES)
def test_fast_matches_reference(pairing, depth, deep, backbone):
    assert_fast_matches_reference(MODES.index((pairing, depth, deep, backbone)))


@pytest.mark.slow
def test_compiled_ticks_match_reference():
    """torch.compile of the tick (half a minute of compiling on two CPU cores), on one random
    configuration: dense pairs, a depth-3 synapse, deep neuron-level models. The tick is all
    that is compiled; the pairing modes it reads as index tensors."""
    assert_fast_matches_reference(5, prepare=lambda m: m.compile_ticks())


@pytest.mark.parametrize("mode", [MODES[5], MODES[-1]])
def test_checkpointed_ticks_match_reference(mode):
    def checkpointed(model):
        model.checkpoint_ticks = True

    assert_fast_matches_reference(MODES.index(mode), prepare=checkpointed)


def assert_fast_matches_reference(seed, prepare=None):
    """Outputs, traces and gradients of the fast model (after `prepare`, e.g. compiling)
    against the literal reference on random configuration number `seed`."""
    pairing, depth, deep, backbone = MODES[seed]
    config = random_config(pairing, depth, deep, backbone, seed)
    generator = torch.Generator().manual_seed(seed)
    fast, reference = build_pair(config, seed)
    perturb(fast, generator)
    reference.load_state_dict(state_dict_to_original(fast.state_dict(), config))
    if prepare is not None:
        prepare(fast)
    x = random_input(config, 3, generator)
    fast.train()
    reference.train()  # dropout is 0, BatchNorm uses batch statistics in both
    ticks = config.ticks + 2  # thinking longer than configured works the same way
    out_f, out_r = fast(x, ticks=ticks, trace=True), reference(x, ticks=ticks, trace=True)
    assert out_f.logits.shape == (3, ticks, config.out_dims)
    for field in ("logits", "certainty", "sync_out", "attention", "pre_activations",
                  "post_activations", "sync_out_trace", "sync_action_trace"):
        a, b = getattr(out_f, field), getattr(out_r, field)
        assert a.shape == b.shape, field
        torch.testing.assert_close(a, b, atol=2e-5, rtol=1e-4, msg=field)

    targets = torch.randint(0, config.out_groups_shape[-1], (3, config.out_dims //
                                                             config.out_groups_shape[-1]))
    for out in (out_f, out_r):
        logits = grouped_logits(out.logits, config.out_groups_shape)
        two_tick_loss(per_tick_cross_entropy(logits, targets), out.certainty).loss.backward()
    fast_grads = {k: p.grad for k, p in fast.named_parameters()}
    reference_grads = {k: p.grad for k, p in reference.named_parameters()}
    decays = state_dict_to_original(dict(fast.named_parameters()), config)
    outside = sum(int(((d < 0) | (d > 15)).sum()) for k, d in decays.items()
                  if k.startswith("decay_params"))
    assert outside > 0  # the comparison below covers decays the projection moves
    for key, grad in state_dict_to_original(fast_grads, config).items():
        # every decay, in range or not: the original's in-place projection and our
        # straight-through clamp both pass the gradient, taken at the projected value
        torch.testing.assert_close(grad, reference_grads[key], atol=5e-5, rtol=1e-3, msg=key)


def test_conversion_round_trip_is_exact():
    config = random_config("semi-dense", 3, True, "resnet18-1", 7)
    fast, _ = build_pair(config, 7)
    back = state_dict_from_original(state_dict_to_original(fast.state_dict(), config), config)
    for key, value in fast.state_dict().items():
        assert torch.equal(back[key], value), key
