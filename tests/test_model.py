"""The model's pieces against hand-computed values, and its public behaviour."""

import math

import pytest
import torch

from ctm import CTM, CTMConfig
from ctm.model import certainty, least_certainty, normalised_entropy
from ctm.model.neurons import NeuronLevelModels
from ctm.model.synapse import unet_widths
from ctm.model.sync import Synchronisation, clamp_decay, draw_pairs


def small_config(**overrides):
    fields = dict(d_model=16, d_input=8, heads=2, ticks=4, memory_length=3, nlm_hidden=4,
                  n_sync_out=6, n_sync_action=5, out_dims=6, out_shape=(3, 2))
    fields.update(overrides)
    return CTMConfig(**fields)


def parity_input(batch=2, length=3):
    return (torch.randint(0, 2, (batch, length)) * 2 - 1).float()


def test_output_shapes_and_tick_override():
    model = CTM(small_config())
    out = model(parity_input(5))
    assert out.logits.shape == (5, 4, 6)
    assert out.certainty.shape == (5, 4)
    assert out.attention is None and out.post_activations is None  # traces only when asked
    longer = model(parity_input(5), ticks=9, trace=True)
    assert longer.logits.shape == (5, 9, 6)
    assert longer.attention.shape == (5, 9, 2, 3)
    assert longer.pre_activations.shape == longer.post_activations.shape == (5, 9, 16)
    assert longer.sync_out_trace.shape == (5, 9, 6)
    assert longer.sync_action_trace.shape == (5, 9, 5)
    assert not longer.attention.requires_grad


def test_first_ticks_do_not_depend_on_the_tick_budget():
    model = CTM(small_config()).eval()
    x = parity_input(3)
    short, long = model(x, ticks=3), model(x, ticks=7)
    torch.testing.assert_close(short.logits, long.logits[:, :3])


def test_synchronisation_recurrence_equals_the_closed_form():
    """S_t = sum_tau r^(t-tau) z_i z_j / sqrt(sum_tau r^(t-tau)), computed by hand."""
    config = small_config(pairing="random-pairing", n_sync_out=4, n_sync_action=4)
    sync = Synchronisation(config, "out", torch.Generator().manual_seed(0))
    with torch.no_grad():
        sync.decay.copy_(torch.tensor([0.0, 0.5, 2.0, 20.0]))  # 20 acts as 15
    zs = [torch.randn(2, 16) for _ in range(4)]
    r = sync.retention()
    alpha, beta = sync.start(zs[0])
    for z in zs[1:]:
        alpha, beta = sync.update(z, alpha, beta, r)
    got = Synchronisation.read(alpha, beta)
    decays = torch.tensor([0.0, 0.5, 2.0, 15.0])
    for k in range(4):
        i, j = sync.pair_left[k], sync.pair_right[k]
        weights = [math.exp(-decays[k].item() * (3 - tau)) for tau in range(4)]
        num = sum(w * zs[tau][:, i] * zs[tau][:, j] for tau, w in enumerate(weights))
        torch.testing.assert_close(got[:, k], num / math.sqrt(sum(weights)))


def test_pairing_modes_choose_the_documented_pairs():
    generator = torch.Generator().manual_seed(0)
    dense = small_config(pairing="dense", n_sync_out=3, n_sync_action=2)
    _, _, left, right = draw_pairs(dense, "out", generator)
    assert list(zip(left.tolist(), right.tolist(), strict=True)) == [
        (0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)]
    _, _, left, right = draw_pairs(dense, "action", generator)
    assert list(zip(left.tolist(), right.tolist(), strict=True)) == [(14, 14), (14, 15), (15, 15)]
    semi = small_config(pairing="semi-dense", n_sync_out=3, n_sync_action=3)
    l_neurons, r_neurons, left, right = draw_pairs(semi, "out", generator)
    assert left.tolist() == [l_neurons[i] for i in (0, 0, 0, 1, 1, 2)]
    assert right.tolist() == [r_neurons[j] for j in (0, 1, 2, 1, 2, 2)]
    paired = small_config(pairing="random-pairing", n_sync_out=6, n_self=2)
    _, _, left, right = draw_pairs(paired, "out", generator)
    assert len(left) == 6 and torch.equal(left[:2], right[:2])


def test_pairs_are_fixed_by_the_pair_seed():
    a, b = CTM(small_config(pair_seed=3)), CTM(small_config(pair_seed=3))
    c = CTM(small_config(pair_seed=4))
    assert torch.equal(a.sync_out.pair_left, b.sync_out.pair_left)
    assert not torch.equal(a.sync_out.pair_left, c.sync_out.pair_left)


def test_neuron_level_models_are_private_per_neuron():
    config = small_config(deep_nlm=False, memory_length=3)
    nlm = NeuronLevelModels(config)
    layer = nlm.layers[0]
    with torch.no_grad():
        layer.temperature.fill_(2.0)
    history = torch.randn(16, 3, 5)  # (D, M, B)
    out = nlm(history)  # (B, D)
    for d in (0, 7):
        pre = (layer.weight[d] @ history[d] + layer.bias[d]) / 2.0  # (2, B)
        expected = pre[0] * torch.sigmoid(pre[1])
        torch.testing.assert_close(out[:, d], expected)


def test_unet_widths_match_numpy_linspace_truncation():
    assert unet_widths(64, 3) == [64, 40, 16]
    assert unet_widths(512, 4) == [512, 346, 181, 16]
    assert unet_widths(32, 2) == [32, 16]


def test_certainty_hand_cases():
    uniform = torch.zeros(1, 1, 4)
    assert normalised_entropy(uniform).item() == pytest.approx(1.0)
    peaked = torch.tensor([[[100.0, 0.0, 0.0, 0.0]]])
    assert certainty(peaked, (4,)).item() == pytest.approx(1.0)
    # two groups of two classes: one certain, one uniform -> certainty 0.5
    mixed = torch.tensor([[[100.0, 0.0, 0.0, 0.0]]])
    assert certainty(mixed, (2, 2)).item() == pytest.approx(0.5)
    assert least_certainty(mixed, (2, 2)).item() == pytest.approx(0.0)  # the uniform group
    # groups at normalised entropy 0 and H(0.25, 0.75) / ln 2 = 0.8113: least 1 - 0.8113
    skewed = torch.tensor([[[100.0, 0.0, 0.0, torch.log(torch.tensor(3.0)).item()]]])
    assert least_certainty(skewed, (2, 2)).item() == pytest.approx(1 - 0.811278, abs=1e-5)


def test_straight_through_clamp_keeps_gradients():
    decay = torch.tensor([-3.0, 4.0, 20.0], requires_grad=True)
    clamped = clamp_decay(decay)
    assert clamped.tolist() == [0.0, 4.0, 15.0]
    clamped.sum().backward()
    assert decay.grad.tolist() == [1.0, 1.0, 1.0]


def test_decays_pushed_out_of_range_move_back_under_training():
    """A clamp inside the graph would zero the gradient of decays outside [0, 15], so they
    would stop learning. Ours keep their gradient (as the original's in-place projection
    does) and the trainer projects them back after each step."""
    torch.manual_seed(0)
    model = CTM(small_config())
    with torch.no_grad():
        model.sync_out.decay[:3] = torch.tensor([-4.0, 30.0, -1.0])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, start = parity_input(8), model.sync_out.decay.detach().clone()
    out = model(x)
    out.logits.pow(2).mean().backward()
    assert torch.all(model.sync_out.decay.grad[:3] != 0)  # a plain clamp gives exactly 0 here
    history = [model.sync_out.decay.detach().clone()]
    for _ in range(5):
        optimizer.step()
        model.clamp_decays_()
        history.append(model.sync_out.decay.detach().clone())
        optimizer.zero_grad()
        model(x).logits.pow(2).mean().backward()
    last = history[-1]
    assert torch.all((last >= 0) & (last <= 15))
    assert not torch.equal(history[1][:3], last[:3])  # still learning after coming back
    assert not torch.equal(start, last)


def test_save_and_load_round_trip(tmp_path):
    model = CTM(small_config(backbone="resnet18-1", in_channels=1, out_dims=5, out_shape=(-1,)))
    model.eval()
    x = torch.randn(2, 1, 9, 9)
    model.save(tmp_path / "m")
    loaded = CTM.load(tmp_path / "m").eval()
    torch.testing.assert_close(model(x).logits, loaded(x).logits, rtol=0, atol=0)
    assert loaded.config == model.config


def test_load_names_what_is_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a saved model"):
        CTM.load(tmp_path)


@pytest.mark.parametrize(("overrides", "message"), [
    (dict(d_input=9, heads=2), "divisible by heads"),
    (dict(pairing="nope"), "pairing must be one of"),
    (dict(pairing="dense", n_sync_out=10, n_sync_action=10), "n_sync_out \\+ n_sync_action"),
    (dict(n_self=5), "n_self"),
    (dict(out_dims=7), "does not divide out_dims"),
    (dict(backbone="resnet99-1"), "backbone must be one of"),
    (dict(ticks=0), "ticks must be >= 1"),
    (dict(readout="mlp"), "readout must be one of linear, cells"),
    (dict(readout="cells", out_shape=(-1,)), "readout cells reads groups of classes"),
    (dict(readout="cells", architecture="feedforward"), "has only its own read-out"),
])
def test_config_errors_name_the_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        small_config(**overrides)


def test_bad_input_shape_is_explained():
    model = CTM(small_config())
    with pytest.raises(ValueError, match=r"expects \(B, L\)"):
        model(torch.randn(2, 3, 4))


def test_activation_checkpointing_changes_nothing_but_memory():
    torch.manual_seed(0)
    config = small_config(dropout=0.2, dropout_nlm=0.1)
    plain, checkpointed = CTM(config), CTM(config)
    checkpointed.load_state_dict(plain.state_dict())
    checkpointed.checkpoint_ticks = True
    x = parity_input(4)
    results = []
    for model in (plain, checkpointed):
        torch.manual_seed(1)  # the same dropout masks in both
        out = model(x)
        out.logits.square().mean().backward()
        results.append((out.logits, {k: p.grad for k, p in model.named_parameters()}))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=0, atol=0)
    for key, grad in results[0][1].items():
        torch.testing.assert_close(grad, results[1][1][key], rtol=1e-6, atol=1e-7, msg=key)


def test_image_backbones_say_the_token_grid_they_make():
    """Pictures of attention read the grid from the backbone's registry entry, and it is the
    grid the backbone really makes."""
    from ctm.analysis.figures import token_grid
    from ctm.model.backbones import build_backbone

    assert token_grid("resnet18-2", 28, 28) == (7, 7)  # max-pool 28 -> 14, one halving -> 7
    assert token_grid("resnet50-3", 15, 9) == (2, 2)  # 15 -> 8 -> 4 -> 2; 9 -> 5 -> 3 -> 2
    config = CTMConfig(backbone="resnet18-3", in_channels=1, d_model=16, d_input=8, heads=2,
                       n_sync_out=4, n_sync_action=4, n_self=0)
    tokens = build_backbone(config).eval()(torch.zeros(1, 1, 15, 9))
    assert tokens.shape[1] == math.prod(token_grid("resnet18-3", 15, 9))
    with pytest.raises(ValueError, match="no grid"):
        token_grid("parity", 8, 8)


def test_the_cell_readout_reads_each_group_with_one_shared_network():
    """By hand: each group g's logits are L_g s + W2 gelu(LN(W1 s + b1 + e_g)) + b2."""
    from ctm.model.readout import CellReadout

    torch.manual_seed(0)
    readout = CellReadout(in_features=5, groups=3, classes=4, hidden=6)
    features = torch.randn(2, 5)
    logits = readout(features)
    assert logits.shape == (2, 3 * 4)
    for g in range(3):
        hidden = features @ readout.project.weight.T + readout.project.bias + readout.cells[g]
        hidden = (hidden - hidden.mean(-1, keepdim=True)) / (
            hidden.var(-1, unbiased=False, keepdim=True) + 1e-5).sqrt()
        hidden = hidden * readout.norm.weight + readout.norm.bias
        hidden = 0.5 * hidden * (1 + torch.erf(hidden / 2 ** 0.5))
        expected = hidden @ readout.classify.weight.T + readout.classify.bias
        rows = slice(4 * g, 4 * g + 4)
        expected = expected + features @ readout.linear.weight[rows].T + readout.linear.bias[rows]
        torch.testing.assert_close(logits[:, rows], expected)
    # without the linear part, groups differ only by their embedding: equal embeddings give
    # equal answers
    with torch.no_grad():
        readout.cells[1] = readout.cells[0]
        readout.linear.weight.zero_()
        readout.linear.bias.zero_()
    logits = readout(features)
    torch.testing.assert_close(logits[:, 0:4], logits[:, 4:8])
    assert not torch.allclose(logits[:, 0:4], logits[:, 8:12])


@pytest.mark.parametrize("architecture", ["ctm", "lstm"])
def test_a_model_with_the_cell_readout_answers_every_group_at_every_tick(architecture):
    from ctm.model import build_model
    from ctm.model.readout import CellReadout

    model = build_model(small_config(readout="cells", architecture=architecture))
    # its hidden layer is as wide as what it reads: the CTM's n_sync_out pairs (random
    # pairing), the LSTM's d_model hidden units
    width = 6 if architecture == "ctm" else 16
    assert isinstance(model.output, CellReadout) and model.output.cells.shape == (3, width)
    out = model(parity_input(batch=2, length=3))
    assert out.logits.shape == (2, 4, 6) and out.certainty.shape == (2, 4)
