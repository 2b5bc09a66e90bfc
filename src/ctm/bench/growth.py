"""`ctm bench --growth`: how a training step's time grows with the work.

One benchmark configuration is the base; each factor (ticks, batch, d_model, memory length) is
varied alone over a range while the others keep the base's values. For every factor the step
time is fitted as time ∝ value^k (least squares on the logarithms), so k near 1 means the cost
follows the work and k near 0 means the work hardly shows. The batch sweep is also fitted as
time = fixed + per_sample · batch: `fixed` is what a step costs whatever the batch (the per-tick
kernel launches, Python and framework overhead of every tick), and its share of the base step
is the share of time that is overhead rather than arithmetic.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from ..model import CTM
from . import (
    SPECS,
    BenchSpec,
    Options,
    _autocast,
    _configure_fast,
    _timed,
    _train_step,
    make_batch,
    optimizer_for,
)

# each factor's values; the base configuration's own value is added to its sweep
FACTORS: dict[str, tuple[int, ...]] = {
    "ticks": (6, 12, 25, 50),
    "batch": (8, 16, 32, 64, 128),
    "d_model": (64, 128, 256, 512),
    "memory_length": (5, 10, 20, 40),
}


def varied(spec: BenchSpec, factor: str, value: int) -> BenchSpec:
    """`spec` with one factor set to `value`."""
    if factor == "batch":
        return dataclasses.replace(spec, batch=value)
    if factor not in FACTORS:
        raise ValueError(f"unknown factor {factor!r}; available: {', '.join(FACTORS)}")
    return dataclasses.replace(spec, model=dataclasses.replace(spec.model, **{factor: value}))


def base_value(spec: BenchSpec, factor: str) -> int:
    return spec.batch if factor == "batch" else getattr(spec.model, factor)


def sweep_values(spec: BenchSpec, factor: str, values: Sequence[int] | None = None
                 ) -> list[int]:
    return sorted({*(values or FACTORS[factor]), base_value(spec, factor)})


def step_seconds(spec: BenchSpec, options: Options) -> float:
    """Median seconds of `options.steps` training steps of the model alone (forward, loss,
    backward, AdamW), after `options.warmup` untimed ones."""
    torch.set_num_threads(options.threads)
    torch.manual_seed(0)
    model = CTM(spec.model).to(options.device)
    loss_fn = _configure_fast(model, spec, options)
    optimizer = optimizer_for("fast", model)
    x, y = (t.to(options.device) for t in make_batch(spec, torch.Generator().manual_seed(0)))

    def step() -> None:
        _train_step(model, optimizer, spec, x, y, _autocast(options), loss_fn)

    _timed(step, options.warmup, options.device)
    return statistics.median(_timed(step, options.steps, options.device))


def _line_fit(xs: Sequence[float], ys: Sequence[float], what: str) -> tuple[float, float]:
    """(intercept, slope) of ys ≈ intercept + slope · xs, by least squares."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    if spread == 0:
        raise ValueError(f"{what} needs at least two different values")
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / spread
    return my - slope * mx, slope


def power_law_exponent(values: Sequence[float], seconds: Sequence[float]) -> float:
    """k of seconds ≈ c · value^k, fitted by least squares on log-log axes."""
    return _line_fit([math.log(v) for v in values], [math.log(s) for s in seconds],
                     "a growth exponent")[1]


def fixed_and_per_sample(batches: Sequence[float], seconds: Sequence[float]
                         ) -> tuple[float, float]:
    """(fixed, per_sample) of seconds ≈ fixed + per_sample · batch, least squares; `fixed`
    clamped at 0 (a negative intercept is noise: no overhead to speak of)."""
    fixed, per_sample = _line_fit(batches, seconds, "the batch fit")
    return max(0.0, fixed), per_sample


def growth(base: str | BenchSpec = "parity16", options: Options | None = None,
           factors: dict[str, Sequence[int]] | None = None,
           report: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Time the base configuration with each factor varied alone; fit the exponents and the
    per-step overhead. `report` hears one line per timed point (progress)."""
    o = options or Options(steps=5, warmup=1)
    if isinstance(base, str) and base not in SPECS:
        raise ValueError(f"unknown benchmark {base!r}; available: {', '.join(SPECS)}")
    spec = SPECS[base] if isinstance(base, str) else base
    chosen = {f: sweep_values(spec, f, (factors or {}).get(f)) for f in (factors or FACTORS)}
    total = sum(len(v) for v in chosen.values())
    points: list[dict[str, Any]] = []
    for factor, values in chosen.items():
        for value in values:
            seconds = step_seconds(varied(spec, factor, value), o)
            points.append({"factor": factor, "value": value, "step_s": seconds})
            if report:
                report(f"[{len(points)}/{total}] {factor}={value}: {seconds:.4f} s a step")
    result: dict[str, Any] = {
        "base": spec.name, "batch": spec.batch, "ticks": spec.model.ticks,
        "d_model": spec.model.d_model, "memory_length": spec.model.memory_length,
        "threads": o.threads, "device": o.device, "compile": o.compile,
        "steps": o.steps, "warmup": o.warmup, "points": points, "exponents": {}}
    for factor in chosen:
        rows = [p for p in points if p["factor"] == factor]
        result["exponents"][factor] = power_law_exponent([p["value"] for p in rows],
                                                         [p["step_s"] for p in rows])
    if "batch" in chosen:
        rows = [p for p in points if p["factor"] == "batch"]
        fixed, per_sample = fixed_and_per_sample([p["value"] for p in rows],
                                                 [p["step_s"] for p in rows])
        base_step = fixed + per_sample * spec.batch
        smallest, largest = rows[0], rows[-1]
        result.update({
            "fixed_s": fixed, "per_sample_s": per_sample,
            "per_tick_overhead_ms": 1000 * fixed / spec.model.ticks,
            # a fit through noisy points may put the intercept above the base's own step
            "overhead_share": min(1.0, fixed / base_step) if base_step > 0 else 0.0,
            # the measure of overhead: what a sample costs at the smallest batch
            # against the largest (1.0 would be no overhead at all)
            "sample_cost_ratio": (smallest["step_s"] / smallest["value"])
                                 / (largest["step_s"] / largest["value"]),
            "sample_cost_batches": [smallest["value"], largest["value"]]})
    return result


def table(result: dict[str, Any]) -> str:
    """The result as text: one line per point, each factor's exponent, the overhead."""
    lines = [f"{'factor':<14} {'value':>6} {'step s':>8} {'s / base':>8}"]
    base_step = {p["factor"]: p["step_s"] for p in result["points"]
                 if p["value"] == result[p["factor"]]}
    for factor, exponent in result["exponents"].items():
        for p in (p for p in result["points"] if p["factor"] == factor):
            relative = p["step_s"] / base_step[factor]
            lines.append(f"{factor:<14} {p['value']:>6} {p['step_s']:>8.4f} {relative:>8.2f}")
        lines.append(f"{factor:<14} {'':>6} exponent {exponent:.2f}")
    if "fixed_s" in result:
        a, b = result["sample_cost_batches"]
        lines.append(
            f"per-step overhead {result['fixed_s']:.4f} s "
            f"({result['per_tick_overhead_ms']:.2f} ms a tick, "
            f"{100 * result['overhead_share']:.0f}% of the base step); a sample costs "
            f"{result['sample_cost_ratio']:.1f}x as much at batch {a} as at batch {b}")
    lines.append(f"base {result['base']}: batch {result['batch']}, {result['ticks']} ticks, "
                 f"d_model {result['d_model']}, memory {result['memory_length']}; median of "
                 f"{result['steps']} steps after {result['warmup']}, {result['threads']} "
                 f"threads, {result['device']}")
    return "\n".join(lines)


def plot(result: dict[str, Any], path: str | Path) -> Path:
    """One log-log panel per factor: the measured step times and the fitted power law."""
    from ..analysis.figures import pyplot, save_figure

    plt = pyplot()  # before matplotlib's other modules: it picks the backend
    from matplotlib.ticker import NullFormatter

    factors = list(result["exponents"])
    figure, axes = plt.subplots(1, len(factors), figsize=(3.4 * len(factors), 3.2),
                                squeeze=False)
    for ax, factor in zip(axes[0], factors, strict=True):
        rows = [p for p in result["points"] if p["factor"] == factor]
        xs, ys = [p["value"] for p in rows], [p["step_s"] for p in rows]
        k = result["exponents"][factor]
        # the fitted line passes through the geometric means of the points
        gx = math.exp(statistics.fmean(math.log(x) for x in xs))
        gy = math.exp(statistics.fmean(math.log(y) for y in ys))
        ax.loglog(xs, ys, "o", color="tab:blue", label="measured")
        ax.loglog(xs, [gy * (x / gx) ** k for x in xs], "-", color="tab:orange",
                  label=f"∝ {factor}^{k:.2f}")
        if factor == "batch" and "fixed_s" in result:
            ax.loglog(xs, [result["fixed_s"] + result["per_sample_s"] * x for x in xs], "--",
                      color="tab:green", label="fixed + per sample")
        # the measured values as the ticks, and no minor labels, which overlap on log axes
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(factor)
        ax.set_ylabel("step seconds")
        ax.legend(fontsize=7)
    figure.suptitle(f"training step time against the work, base {result['base']}")
    return save_figure(figure, path)
