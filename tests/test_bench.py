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
