"""ctm's AdamW: fused where it can be, the same updates and state as torch's default."""

import copy

import torch

from ctm.optimizer import adamw, can_fuse, kernel_kept


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))


def _train(model: torch.nn.Module, optimizer: torch.optim.Optimizer, steps: int) -> None:
    generator = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x = torch.randn(4, 5, generator=generator)
        optimizer.zero_grad()
        model(x).square().mean().backward()
        optimizer.step()


def test_plain_parameters_get_the_fused_kernel_and_others_do_not():
    params = list(_model(0).parameters())
    assert can_fuse(params) and adamw(params, lr=1e-3).defaults["fused"]
    assert not adamw(params, lr=1e-3, fused=False).defaults["fused"]
    assert not can_fuse([torch.zeros(3, dtype=torch.long)])
    assert not can_fuse([])

    class Subclass(torch.Tensor):  # stands for FSDP's DTensor
        pass

    assert not can_fuse([torch.zeros(3).as_subclass(Subclass)])


def test_fused_updates_match_torchs_default_adamw():
    fused_model, loop_model = _model(0), _model(0)
    _train(fused_model, adamw(fused_model.parameters(), lr=1e-2, weight_decay=0.1), 20)
    _train(loop_model, torch.optim.AdamW(loop_model.parameters(), lr=1e-2, weight_decay=0.1),
           20)
    start = list(_model(0).parameters())
    for a, b, s in zip(fused_model.parameters(), loop_model.parameters(), start, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        assert (a - s).abs().max() > 1e-3  # they did move


def test_a_checkpoint_of_torchs_default_adamw_continues_in_the_fused_one():
    """Runs saved before the fused kernel resume with it: the state has the same form."""
    old_model, new_model = _model(0), _model(0)
    old = torch.optim.AdamW(old_model.parameters(), lr=1e-2)
    _train(old_model, old, 5)
    new_model.load_state_dict(old_model.state_dict())
    new = adamw(new_model.parameters(), lr=1e-2)
    with kernel_kept(new):
        new.load_state_dict(copy.deepcopy(old.state_dict()))  # as if read from a file
    assert new.param_groups[0]["fused"]
    _train(old_model, old, 5)
    _train(new_model, new, 5)
    for a, b in zip(old_model.parameters(), new_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


# --- Muon beside AdamW (--optimizer muon) ------------------------------------------------------

def _ctm():
    from ctm.model.build import build_model
    from ctm.tasks import get_task

    task = get_task("parity")
    torch.manual_seed(0)
    return build_model(task(task.Options(length=4)).model_defaults())


def test_muon_takes_the_linear_weight_matrices_except_the_read_out():
    from ctm.optimizer import muon_parameters

    assert muon_parameters(_ctm()) == [
        "inputs.positional.projection.weight", "inputs.kv_proj.0.weight", "inputs.q_proj.weight",
        "inputs.attention.in_proj_weight", "inputs.attention.out_proj.weight",
        "synapse.linear.weight"]  # not the embedding, start states, neuron-level models, output
    lstm = torch.nn.Sequential(torch.nn.Embedding(3, 4), torch.nn.LSTM(4, 6),
                               torch.nn.Linear(6, 5), torch.nn.Linear(5, 2))
    assert muon_parameters(lstm) == ["1.weight_ih_l0", "1.weight_hh_l0", "2.weight"]
    # a read-out of several layers (`cells`) stays with AdamW whole
    from dataclasses import replace

    from ctm.model.build import build_model

    cells = build_model(replace(_ctm().config, readout="cells"))
    assert muon_parameters(cells) == muon_parameters(_ctm())


def test_muon_with_adamw_steps_as_the_two_optimisers_would_apart():
    from ctm.optimizer import MuonWithAdamW, adamw, muon_parameters

    together, apart = _model(0), _model(0)
    _train(together, MuonWithAdamW(together, lr=1e-2, weight_decay=0.1), 6)
    chosen = set(muon_parameters(apart))
    assert chosen == {"0.weight"}  # the last linear layer is the read-out
    params = dict(apart.named_parameters())
    muon = torch.optim.Muon([params["0.weight"]], lr=1e-2, weight_decay=0.1,
                            adjust_lr_fn="match_rms_adamw")
    rest = adamw([p for name, p in params.items() if name not in chosen], lr=1e-2,
                 weight_decay=0.1)

    class Both:
        def zero_grad(self):
            muon.zero_grad(), rest.zero_grad()

        def step(self):
            muon.step(), rest.step()

    _train(apart, Both(), 6)
    start = dict(_model(0).named_parameters())
    for (name, a), b in zip(together.named_parameters(), apart.parameters(), strict=True):
        assert torch.equal(a, b), name
        assert (a - start[name]).abs().max() > 1e-3, name


def test_muons_update_of_a_matrix_is_orthogonal():
    """One step on a gradient whose singular values span 1000x: Muon's change of the matrix
    has them nearly equal (Newton-Schulz leaves them in about 0.5..1.5), at AdamW's update
    size (`match_rms_adamw`: 0.2 * sqrt(7) * lr * orthogonal)."""
    from ctm.optimizer import MuonWithAdamW

    model = _model(0)
    weight = model[0].weight  # 7 x 5
    before = weight.detach().clone()
    u, _, v = torch.linalg.svd(torch.randn(7, 5, generator=torch.Generator().manual_seed(2)),
                               full_matrices=False)
    gradient = u @ torch.diag(torch.tensor([10.0, 3.0, 1.0, 0.1, 0.01])) @ v
    for param in model.parameters():
        param.grad = torch.zeros_like(param)
    weight.grad = gradient.clone()
    MuonWithAdamW(model, lr=1e-2, weight_decay=0.0).step()
    singular = torch.linalg.svdvals(weight.detach() - before) / (0.2 * 7 ** 0.5 * 1e-2)
    assert singular.max() < 1.6 and singular.min() > 0.4, singular


def test_muon_with_adamw_state_round_trips_through_a_saved_copy():
    from ctm.optimizer import MuonWithAdamW

    first, second = _model(0), _model(0)
    a = MuonWithAdamW(first, lr=1e-2, weight_decay=0.1)
    _train(first, a, 3)
    second.load_state_dict(first.state_dict())
    b = MuonWithAdamW(second, lr=1e-2, weight_decay=0.1)
    with kernel_kept(b):
        b.load_state_dict(copy.deepcopy(a.state_dict()))
    assert b._muon.state is b.state and b._muon.param_groups[0] is b.param_groups[0]
    _train(first, a, 3)
    _train(second, b, 3)
    for x, y in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(x, y)
    plain = adamw(_model(0).parameters(), lr=1e-2)
    try:
        b.load_state_dict(plain.state_dict())
    except ValueError as error:
        assert "not Muon's beside AdamW's" in str(error)
    else:
        raise AssertionError("an AdamW state was loaded into Muon beside AdamW")
