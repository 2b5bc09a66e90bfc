"""Our model against golden outputs of the original research code (../shared/fixtures)."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from ctm import CTM
from ctm.cli import main
from ctm.losses import curriculum_mask, grouped_logits, per_tick_cross_entropy, two_tick_loss
from ctm.model.original import config_from_original
from ctm.model.reference import ReferenceCTM

NAMES = ["parity_semi_dense", "image_random_pairing", "maze_dense_shallow"]
TOL = 1e-5


def load(fixtures_dir, name):
    meta = json.loads((fixtures_dir / f"{name}.json").read_text())
    weights = load_file(fixtures_dir / f"{name}.weights.safetensors")
    io = load_file(fixtures_dir / f"{name}.io.safetensors")
    return meta, weights, io


def check_against_fixture(model, meta, io):
    model.eval()
    with torch.no_grad():
        out = model(io["x"], trace=True)
    # the original stores (B, out_dims, T) and per-tick traces as (T, B, ...)
    close = {
        "predictions": (out.logits.permute(0, 2, 1), io["predictions"]),
        "certainty": (out.certainty, io["certainties"][:, 1]),
        "synchronisation_out": (out.sync_out, io["synchronisation_out"]),
        "tracked_synch_out": (out.sync_out_trace.transpose(0, 1), io["tracked_synch_out"]),
        "tracked_synch_action": (out.sync_action_trace.transpose(0, 1),
                                 io["tracked_synch_action"]),
        "pre_activations": (out.pre_activations.transpose(0, 1), io["pre_activations"]),
        "post_activations": (out.post_activations.transpose(0, 1), io["post_activations"]),
        "attention": (out.attention.transpose(0, 1), io["attention"].squeeze(3)),
    }
    for what, (ours, theirs) in close.items():
        assert ours.shape == theirs.shape, what
        assert (ours - theirs).abs().max().item() <= TOL, what
    # certainties are about 1e-3 here, so an absolute 1e-5 would be loose: relative, too. But
    # certainty is 1 - (entropy / log C) with that ratio near 1, where float32's spacing is
    # 1.2e-7: a CPU whose kernels round the entropy one or two ulps apart gives certainties
    # that far apart (2.4e-7 seen on an AMD EPYC), so the absolute floor is 3e-7
    torch.testing.assert_close(out.certainty, io["certainties"][:, 1], rtol=1e-4, atol=3e-7)
    assert torch.equal(out.most_certain_tick(), io["most_certain_tick"].long())

    logits = grouped_logits(out.logits, model.config.out_groups_shape)
    targets = io["y"].reshape(logits.shape[0], -1)
    mask = curriculum_mask(logits, targets, lookahead=5) if meta["loss"] == "maze" else None
    loss = two_tick_loss(per_tick_cross_entropy(logits, targets, mask), out.certainty).loss
    assert abs(loss.item() - meta["loss_value"]) <= TOL
    assert abs(loss.item() - io["loss"].item()) <= TOL


@pytest.mark.parametrize("name", NAMES)
def test_fast_model_matches_original(fixtures_dir, name):
    meta, weights, io = load(fixtures_dir, name)
    model = CTM.from_original(weights, meta["constructor"])
    check_against_fixture(model, meta, io)


@pytest.mark.parametrize("name", NAMES)
def test_reference_matches_original(fixtures_dir, name):
    meta, weights, io = load(fixtures_dir, name)
    reference = ReferenceCTM(config_from_original(meta["constructor"], weights))
    reference.load_state_dict(weights)
    check_against_fixture(reference, meta, io)


def test_fixture_shapes_are_what_our_config_predicts(fixtures_dir):
    for name in NAMES:
        meta, weights, _ = load(fixtures_dir, name)
        config = config_from_original(meta["constructor"], weights)
        assert [config.sync_size("out")] == meta["state_dict_shapes"]["decay_params_out"]
        assert [config.sync_size("action")] == meta["state_dict_shapes"]["decay_params_action"]


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_convert_original_command(fixtures_dir, tmp_path, suffix, capsys):
    name = "image_random_pairing"
    meta, weights, io = load(fixtures_dir, name)
    source = tmp_path / f"weights{suffix}"
    if suffix == ".pt":
        torch.save(weights, source)
    else:
        save_file(weights, source)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(meta["constructor"]))
    assert main(["convert-original", str(source), str(config), str(tmp_path / "out")]) == 0
    assert "parameters" in capsys.readouterr().out
    check_against_fixture(CTM.load(tmp_path / "out"), meta, io)


def test_convert_original_rejects_mismatched_weights(fixtures_dir, tmp_path, capsys):
    meta, _, _ = load(fixtures_dir, "image_random_pairing")
    config = tmp_path / "config.json"
    config.write_text(json.dumps(meta["constructor"]))
    wrong = fixtures_dir / "parity_semi_dense.weights.safetensors"
    assert main(["convert-original", str(wrong), str(config), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ctm: error:") and len(err.strip().splitlines()) == 1


def training_arguments(constructor: dict, legacy: bool) -> dict:
    """The training arguments the original code saves in its checkpoints, for a model built
    with `constructor` (what its train.py scripts pass)."""
    args = {"iterations": constructor["iterations"], "d_model": constructor["d_model"],
            "d_input": constructor["d_input"], "heads": constructor["heads"],
            "n_synch_out": constructor["n_synch_out"],
            "n_synch_action": constructor["n_synch_action"],
            "synapse_depth": constructor["synapse_depth"],
            "memory_length": constructor["memory_length"],
            "deep_memory": constructor["deep_nlms"],
            "memory_hidden_dims": constructor["memory_hidden_dims"],
            "do_normalisation": constructor["do_layernorm_nlm"],
            "positional_embedding_type": constructor["positional_embedding_type"],
            "out_dims": constructor["out_dims"], "dropout": 0.1,
            "neuron_select_type": constructor["neuron_select_type"],
            "n_random_pairing_self": constructor.get("n_random_pairing_self", 0), "lr": 1e-4}
    if legacy:  # checkpoints from before backbone_type named the ResNet and its scale
        kind, scale = constructor["backbone_type"].split("-")
        args.update(resnet_type=kind, resnet_feature_scales=[int(scale)])
    else:
        args["backbone_type"] = constructor["backbone_type"]
    if constructor["prediction_reshaper"] != [-1]:
        args.update(dataset="mazes-large", maze_route_length=constructor["out_dims"] // 5)
    return args


@pytest.mark.parametrize(("name", "weights_key", "legacy"), [
    ("image_random_pairing", "model_state_dict", True),  # the ImageNet checkpoint's layout
    ("maze_dense_shallow", "state_dict", False),  # the maze checkpoints' layout
])
def test_a_released_checkpoint_converts_from_its_own_training_arguments(
        fixtures_dir, tmp_path, capsys, name, weights_key, legacy):
    """The original's released .pt files hold {'args': Namespace, weights, optimiser, ...}:
    one command converts them, and the model computes what the original does."""
    import argparse

    meta, weights, io = load(fixtures_dir, name)
    checkpoint = tmp_path / "released.pt"
    torch.save({"args": argparse.Namespace(**training_arguments(meta["constructor"], legacy)),
                weights_key: weights, "optimizer_state_dict": {"state": {}, "param_groups": []},
                "iteration": 1000, "train_losses": [2.3, 1.9]}, checkpoint)
    assert main(["convert-original", str(checkpoint), str(tmp_path / "out")]) == 0
    assert "CTM.from_pretrained" in capsys.readouterr().out
    model = CTM.from_pretrained(tmp_path / "out")
    check_against_fixture(model, meta, io)
    card = (tmp_path / "out" / "README.md").read_text()
    assert "released.pt" in card and "training arguments" in card


def test_a_checkpoint_without_training_arguments_asks_for_the_constructors(fixtures_dir,
                                                                          tmp_path, capsys):
    _, weights, _ = load(fixtures_dir, "image_random_pairing")
    bare = tmp_path / "bare.pt"
    torch.save(weights, bare)
    assert main(["convert-original", str(bare), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no training arguments" in err[0]
