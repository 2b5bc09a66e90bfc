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
