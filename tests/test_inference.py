"""Early exit: answers equal the full run's at the stopping tick, and compute really drops."""

import pytest
import torch

from ctm import CTM, CTMConfig
from ctm.inference import HaltingModel, certainty_stable, think
from ctm.model import least_certainty


def model_and_input(seed=0):
    torch.manual_seed(seed)
    config = CTMConfig(d_model=24, d_input=8, heads=2, ticks=8, memory_length=3, nlm_hidden=4,
                       n_sync_out=8, n_sync_action=8, out_dims=6, out_shape=(3, 2))
    model = CTM(config).eval()
    with torch.no_grad():
        model.output.weight.mul_(20)  # spread certainties so thresholds split the batch
    return model, (torch.randint(0, 2, (16, 3)) * 2 - 1).float()


def test_answers_match_the_full_run_at_the_stopping_tick():
    model, x = model_and_input()
    full = model(x)
    threshold = full.certainty.median().item()
    result = think(model, x, halt_at=threshold)
    assert result.ticks.min() < result.ticks.max()  # samples really stopped at different ticks
    for b in range(len(x)):
        t = result.ticks[b].item() - 1
        torch.testing.assert_close(result.logits[b], full.logits[b, t], atol=1e-5, rtol=1e-5)
        assert result.certainty[b].item() == pytest.approx(full.certainty[b, t].item(), abs=1e-5)
        stopped_early = t < model.config.ticks - 1
        if stopped_early:  # it stopped at the first tick that reached the threshold
            assert full.certainty[b, t] >= threshold
        assert torch.all(full.certainty[b, :t] < threshold)


def test_halting_on_the_least_certain_output_waits_for_every_output():
    model, x = model_and_input()
    full = model(x)
    least = least_certainty(full.logits, model.config.out_groups_shape)  # (B, T)
    assert torch.all(least <= full.certainty + 1e-6)
    threshold = least.median().item()
    result = think(model, x, halt_at=threshold, certainty="least")
    by_mean = think(model, x, halt_at=threshold)
    assert torch.all(result.ticks >= by_mean.ticks)  # the least is never above the mean
    assert torch.any(result.ticks > by_mean.ticks)
    for b in range(len(x)):
        t = result.ticks[b].item() - 1
        torch.testing.assert_close(result.logits[b], full.logits[b, t], atol=1e-5, rtol=1e-5)
        assert result.certainty[b].item() == pytest.approx(least[b, t].item(), abs=1e-5)
        if t < model.config.ticks - 1:
            assert least[b, t] >= threshold
        assert torch.all(least[b, :t] < threshold)
    with pytest.raises(ValueError, match="certainty must be one of mean, least"):
        think(model, x, halt_at=0.5, certainty="most")


def test_thresholds_at_the_extremes():
    model, x = model_and_input()
    assert think(model, x, halt_at=0.0).ticks.tolist() == [1] * 16
    assert think(model, x, halt_at=1.1).ticks.tolist() == [8] * 16
    assert think(model, x, halt_at=1.1, max_ticks=12).ticks.tolist() == [12] * 16


def test_halted_samples_leave_the_batch():
    model, x = model_and_input()
    threshold = model(x).certainty.median().item()
    sizes = []
    original = model.tick

    def counting_tick(state):
        sizes.append(state.z.shape[0])
        return original(state)

    model.tick = counting_tick
    result = think(model, x, halt_at=threshold)
    assert sizes[0] == 16 and sizes[-1] < 16 and sizes == sorted(sizes, reverse=True)
    assert sum(sizes) == int(result.ticks.sum())  # compute spent = ticks used


def test_stable_rule_and_argument_checks():
    model, x = model_and_input()
    result = think(model, x, rule=certainty_stable(3, tolerance=1.0))
    assert result.ticks.tolist() == [3] * 16  # any 3 ticks are "stable" within 1.0
    with pytest.raises(ValueError, match="exactly one"):
        think(model, x)
    with pytest.raises(ValueError, match="ticks >= 2"):
        certainty_stable(1)


def test_halting_model_counts_ticks():
    model, x = model_and_input()
    wrapped = HaltingModel(model, halt_at=0.0)
    out = wrapped(x)
    assert out.logits.shape == (16, 1, 6) and wrapped.mean_ticks() == 1.0


def test_the_full_row_is_timed_through_the_loop_early_exit_runs(monkeypatch):
    # a threshold no sample reaches must cost what the full row does: both rows' timed work
    # is `think` running every tick, and the full row's answers come from an untimed forward
    import ctm.inference as inference

    model, x = model_and_input()
    calls = []
    real_think = inference.think

    def counting_think(model, x, halt_at=None, rule=None, max_ticks=None, certainty="mean"):
        calls.append((halt_at, rule))
        return real_think(model, x, halt_at=halt_at, rule=rule, max_ticks=max_ticks,
                          certainty=certainty)

    monkeypatch.setattr(inference, "think", counting_think)
    full, never = HaltingModel(model, None), HaltingModel(model, 1.0)
    out = full(x)
    never(x)
    assert [halt for halt, _ in calls] == [None, 1.0] and calls[0][1] is not None
    assert full.mean_ticks() == never.mean_ticks() == model.config.ticks
    with torch.no_grad():
        assert torch.equal(out.logits, model(x).logits)  # all ticks, for the most-certain one
    rows = inference.halting_sweep(lambda m: {"n": float(m(x).logits.shape[0])}, model,
                                   [None, 1.0], repeats=1)
    assert rows[0]["mean_ticks"] == rows[1]["mean_ticks"] == model.config.ticks
