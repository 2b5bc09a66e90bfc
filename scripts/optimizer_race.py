"""Steps and minutes to a held-out target: AdamW against Muon beside AdamW (`--optimizer muon`),
each at several learning rates and seeds, every run the same task and model.

    python scripts/optimizer_race.py --task images --metric accuracy --target 0.97 \
        --lrs 3e-4,1e-3,3e-3 --seeds 0 --out runs/race-digits -- --steps 1500 --eval-every 100

Everything after `--` goes to every `ctm train` as it is. Runs go one after another (each on
`--threads`), so the optimisers share the machine's conditions; a finished run is read again
rather than trained again, so the command resumes after an interruption. It prints a
Markdown table (and writes `race.json` into `--out`): for each optimiser and learning rate,
the first evaluated step at which the metric reached the target, the training seconds to it,
and the best and last evaluated value.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

OPTIMIZERS = ("adamw", "muon")


def parse_floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part]


def run_dir(out: Path, optimizer: str, lr: float, seed: int) -> Path:
    return out / f"{optimizer}-lr{lr:g}-seed{seed}"


def train(task: str, folder: Path, optimizer: str, lr: float, seed: int, threads: int,
          extra: list[str]) -> None:
    """Train one run unless it has finished before (its final model is there)."""
    if (folder / "model" / "model.safetensors").exists():
        return
    command = [sys.executable, "-m", "ctm", "train", task, "--optimizer", optimizer,
               "--lr", str(lr), "--seed", str(seed), "--threads", str(threads), *extra]
    if (folder / "config.json").exists():
        command = [sys.executable, "-m", "ctm", "train", "--resume", str(folder)]
    else:
        command += ["--out", str(folder)]
    print(f"[race] {' '.join(command[2:])}", file=sys.stderr, flush=True)
    subprocess.run(command, check=True, stdout=sys.stderr)  # stdout keeps the table alone


def read(folder: Path, metric: str, target: float) -> dict[str, float | int | None]:
    """When the run's held-out `metric` first reached `target`, and its best and last value."""
    rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    seconds = {row["step"]: row["seconds"] for row in rows
               if row.get("split") == "train" and "seconds" in row}
    evals = [row for row in rows if row.get("split") == "eval" and metric in row]
    if not evals:
        raise SystemExit(f"{folder}/metrics.jsonl has no held-out {metric!r}")
    reached = next((row["step"] for row in evals if row[metric] >= target), None)
    return {"steps": reached,
            "seconds": seconds.get(reached) if reached is not None else None,
            "best": max(row[metric] for row in evals), "last": evals[-1][metric],
            "total_seconds": max(seconds.values()) if seconds else None}


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", required=True)
    parser.add_argument("--metric", required=True, help="a held-out metric of the task")
    parser.add_argument("--target", type=float, required=True)
    parser.add_argument("--lrs", type=parse_floats, default=[3e-4, 1e-3, 3e-3])
    parser.add_argument("--muon-lrs", type=parse_floats, default=None,
                        help="Muon's learning rates, if not --lrs")
    parser.add_argument("--seeds", type=lambda t: [int(s) for s in t.split(",")], default=[0])
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for optimizer in args.optimizers.split(","):
        lrs = args.muon_lrs if optimizer == "muon" and args.muon_lrs else args.lrs
        for lr in lrs:
            for seed in args.seeds:
                folder = run_dir(args.out, optimizer, lr, seed)
                train(args.task, folder, optimizer, lr, seed, args.threads, extra)
                results.append({"optimizer": optimizer, "lr": lr, "seed": seed,
                                **read(folder, args.metric, args.target)})
    (args.out / "race.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"| optimizer | lr | seed | steps to {args.metric} >= {args.target:g} | seconds to it "
          f"| best | last | run seconds |")
    print("|---|---|---|---|---|---|---|---|")
    for row in results:
        steps = row["steps"] if row["steps"] is not None else "not reached"
        secs = f"{row['seconds']:.0f}" if row["seconds"] is not None else "—"
        print(f"| {row['optimizer']} | {row['lr']:g} | {row['seed']} | {steps} | {secs} | "
              f"{row['best']:.4f} | {row['last']:.4f} | {row['total_seconds']:.0f} |")
    for optimizer in {row["optimizer"] for row in results}:
        for lr in sorted({row["lr"] for row in results if row["optimizer"] == optimizer}):
            mine = [r for r in results if r["optimizer"] == optimizer and r["lr"] == lr]
            if len(mine) > 1 and all(r["steps"] is not None for r in mine):
                print(f"{optimizer} lr {lr:g}: median {statistics.median(r['steps'] for r in mine)}"
                      f" steps over {len(mine)} seeds", file=sys.stderr)


if __name__ == "__main__":
    main()
