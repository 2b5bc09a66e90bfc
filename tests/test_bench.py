"""`ctm bench` measures both implementations on the same weights and reports the ratio."""

import pytest
import torch

from ctm.bench import SPECS, BenchSpec, Options, build_pair, footprint, interleaved, step_flops
from ctm.model import CTMConfig


def test_bench_configurations_are_the_documented_ones():
    assert set(SPECS) == {"parity16", "maze15", "cifar32", "maze-large"}
    large = SPECS["maze-large"].model
    assert (large.d_model, large.ticks) == (2048, 75)
    maze = SPECS["maze15"]
    assert (maze.batch, maze.input_shape, maze.model.ticks, maze.model.d_model) == (
        16, (3, 15, 15), 50, 512)
    assert maze.model.out_groups_shape == (50, 5) and maze.model.synapse_depth == 4
    cifar = SPECS["cifar32"].model
    assert (cifar.heads, cifar.n_sync_out, cifar.n_sync_action, cifar.synapse_depth) == (
        16, 256, 512, 5)


def test_build_pair_gives_identical_functions():
    config = SPECS["parity16"].model
    fast, reference = build_pair(config)
    x = (torch.randint(0, 2, (2, 16)) * 2 - 1).float()
    torch.testing.assert_close(fast.eval()(x, ticks=3).logits,
                               reference.eval()(x, ticks=3).logits, atol=1e-5, rtol=1e-4)


def test_footprint_reports_first_step_and_memory_of_one_implementation():
    spec = BenchSpec("tiny", 4, (6,), CTMConfig(d_model=16, d_input=8, heads=2, ticks=3,
                                                n_sync_out=4, n_sync_action=4, out_dims=12,
                                                out_shape=(6, 2)))
    for implementation in ("fast", "reference"):
        row = footprint(spec, implementation, Options(warmup=2, threads=1))
        assert set(row) == {"first_step_s", "peak_mem_mb"}
        assert row["first_step_s"] > 0 and row["peak_mem_mb"] >= 0
    checkpointed = footprint(spec, "fast", Options(warmup=1, threads=1, checkpoint_ticks=True))
    assert checkpointed["first_step_s"] > 0
    with pytest.raises(ValueError, match="implementation"):
        footprint(spec, "original", Options(threads=1))
    assert step_flops(spec) > 0


def test_interleaved_times_both_implementations_in_alternating_rounds():
    spec = BenchSpec("tiny", 4, (6,), CTMConfig(d_model=16, d_input=8, heads=2, ticks=3,
                                                n_sync_out=4, n_sync_action=4, out_dims=12,
                                                out_shape=(6, 2)))
    row = interleaved(spec, Options(steps=7, warmup=1, threads=1), rounds=3)
    assert row["rounds"] == 3 and row["steps"] == 7
    assert row["min_s"] <= row["median_s"] <= row["max_s"]
    assert row["speedup_min"] <= row["speedup"] <= row["speedup_max"]
    assert row["reference_median_s"] > 0 and row["inference_speedup"] > 0


def test_growth_fits_are_the_hand_computed_ones():
    from ctm.bench.growth import fixed_and_per_sample, power_law_exponent

    assert power_law_exponent([1, 2, 4], [3.0, 6.0, 12.0]) == pytest.approx(1.0)
    assert power_law_exponent([2, 8], [5.0, 5.0]) == pytest.approx(0.0)
    assert power_law_exponent([10, 100], [1.0, 100.0]) == pytest.approx(2.0)
    fixed, per_sample = fixed_and_per_sample([8, 16, 32], [0.1 + 0.01 * b for b in (8, 16, 32)])
    assert fixed == pytest.approx(0.1) and per_sample == pytest.approx(0.01)
    # a negative intercept is noise, not negative overhead
    assert fixed_and_per_sample([1, 2], [1.0, 3.0])[0] == 0.0
    with pytest.raises(ValueError, match="two different"):
        power_law_exponent([4, 4], [1.0, 2.0])


def test_growth_times_each_factor_alone_and_draws_them(tmp_path):
    from ctm.bench.growth import growth, plot, table, varied

    spec = BenchSpec("tiny", 4, (6,), CTMConfig(d_model=16, d_input=8, heads=2, ticks=3,
                                                n_sync_out=4, n_sync_action=4, out_dims=12,
                                                out_shape=(6, 2)))
    assert varied(spec, "ticks", 7).model.ticks == 7 and varied(spec, "batch", 9).batch == 9
    assert varied(spec, "memory_length", 5).model.d_model == 16
    lines = []
    result = growth(spec, Options(steps=1, warmup=1, threads=1),
                    factors={"ticks": (2, 6), "batch": (2, 8)}, report=lines.append)
    # the base's own value joins each sweep: ticks 2, 3, 6 and batches 2, 4, 8
    assert [(p["factor"], p["value"]) for p in result["points"]] == [
        ("ticks", 2), ("ticks", 3), ("ticks", 6), ("batch", 2), ("batch", 4), ("batch", 8)]
    assert len(lines) == 6 and lines[-1].startswith("[6/6] batch=8")
    assert set(result["exponents"]) == {"ticks", "batch"}
    assert 0 <= result["overhead_share"] <= 1 and result["sample_cost_batches"] == [2, 8]
    text = table(result)
    assert "ticks" in text and "exponent" in text and "a sample costs" in text
    png = plot(result, tmp_path / "growth.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_times_the_path_long_training_runs_take_unless_told_otherwise(capsys):
    from ctm.cli.bench import _scope, build_parser
    from ctm.flags import collect

    def scope(*argv: str) -> str:
        args = build_parser().parse_args(list(argv))
        given = collect(args, "bench")
        return _scope(given, args.growth, given.get("device", "cpu"))

    assert scope("parity16") == "thought"  # as `ctm train --compile auto` for a long CPU run
    assert "--compile thought" in capsys.readouterr().err
    assert scope("parity16", "--device", "cuda") == "off"  # not yet verified on GPUs
    assert scope("--growth") == "off"  # every swept shape would compile anew
    assert scope("parity16", "--compile-mode", "reduce-overhead") == "tick"
    for asked in ("off", "tick", "thought"):
        assert scope("parity16", "--compile", asked) == asked
