"""The one training loop every task shares.

AdamW with linear warm-up and cosine decay, gradient clipping, decays projected into range after
each step, evaluation every N steps, metrics as JSONL and TensorBoard, atomic checkpoints, and
resume that continues bit for bit on CPU. SIGTERM or Ctrl-C stops the run after the step in
hand and writes a checkpoint first, so a job killed by a scheduler's time limit loses nothing.
A non-finite loss or gradient stops the run before the update (or skips the step, with
`on_nonfinite="skip"`), so no checkpoint ever holds non-finite weights.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from tqdm import tqdm

from ..device import check_device
from ..files import WriteError, atomic_write, json_line, read_json, write_json
from ..model import CTM, build_model, save_model
from ..model.build import WEIGHTS_FILE, load_weights
from ..optimizer import build_optimizer
from ..precision import apply_precision, precision_context
from ..progress import Progress
from ..run.checkpoint import TrainerState, find_checkpoint, load_trainer_state, save_checkpoint
from ..run.config import RunConfig, build_task
from ..run.layout import (
    BEST_MODEL,
    BEST_RECORD,
    CHECKPOINTS,
    FINAL_MODEL,
    METRICS,
    RECORDS,
    RUN_CONFIG,
    RUN_ID,
    TENSORBOARD,
    run_id,
)
from ..run.lock import RunLock
from ..run.lookup import load_initial_weights
from .compiled import ThoughtStep, forward_and_loss, resolve_compile
from .deep_supervision import DeepSupervision
from .distributed import (
    PeerLost,
    Processes,
    full_optimizer_state,
    full_state_dict,
    load_optimizer_state,
    share,
)
from .prefetch import BatchPrefetcher

MAX_SKIPPED = 20  # on_nonfinite="skip": this many skipped steps in a row stop the run


class TrainingDiverged(RuntimeError):
    """The loss or the gradient stopped being finite: the run stops before the bad update,
    keeping its checkpoints, which were all written from finite weights."""


def lr_at(step: int, base_lr: float, warmup: int, total: int) -> float:
    """Learning rate for optimiser step `step` (0-based): linear warm-up, then cosine to 0."""
    if warmup and step < warmup:
        return base_lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base_lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


class Trainer:
    """Trains `run` in `run_dir`. A new run refuses a directory that holds one; `resume=True`
    continues from the newest intact checkpoint, or starts the saved run again from step 0 when
    it crashed before its first checkpoint. `notes` collects one-line remarks for the user
    (damaged checkpoints passed over, a restart from step 0)."""

    def __init__(self, run: RunConfig, run_dir: str | Path, *, resume: bool = False,
                 progress: bool = True) -> None:
        self.run, self.run_dir = run, Path(run_dir)
        self.notes: list[str] = []
        self._lock: RunLock | None = None  # held by the process that writes the run, while
        try:                               # it trains (released at the end of fit)
            self._set_up(resume, progress)
        except BaseException:
            self._release_run()
            raise

    def _set_up(self, resume: bool, progress: bool) -> None:
        run = self.run
        cfg = run.train
        self.processes = Processes.from_environment()  # torchrun's ranks, or one process
        self.progress = progress and self.processes.main
        self.processes.split(cfg.batch_size)  # refuses a batch that does not split
        self.device = self.processes.start(check_device(cfg.device))
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        apply_precision(cfg.precision)
        self.task = build_task(run)
        self.stopped_by: str | None = None  # the signal's name when a signal ended fit() early
        self._prefetcher: BatchPrefetcher | None = None
        self._skipped_in_a_row = 0
        self.skipped_steps = 0  # on_nonfinite="skip": steps taken without an update
        if resume and self.processes.main and self.run_dir.is_dir():
            self._lock = RunLock(self.run_dir)
        checkpoint = self._checkpoint_to_resume() if resume else None
        if not resume:
            self._refuse_existing_run()
        self.processes.barrier()  # every process has looked before rank 0 writes anything
        torch.manual_seed(cfg.seed)  # the same on every process: the same starting weights
        model = build_model(run.model)
        saved: TrainerState | None = None
        if checkpoint is not None:
            saved = load_trainer_state(checkpoint)
            load_weights(model, checkpoint / WEIGHTS_FILE)
        elif cfg.init_from:
            load_initial_weights(model, cfg.init_from)
        self.model = model.to(self.device)
        self.compile_scope, self.compile_reason = resolve_compile(
            cfg.compile, run.model.architecture, self.device, cfg.steps, self.processes.world,
            run.model.deep_supervision, self.task.batch_shapes_vary())
        if (self.compile_scope == "tick" or cfg.checkpoint_ticks) and not isinstance(
                self.model, CTM):
            raise ValueError("--compile tick and --checkpoint-ticks apply to the CTM's ticks, "
                             "not to baselines (--compile thought compiles any model)")
        if cfg.data_workers and self.task.needs_model_for_batches:
            raise ValueError(f"the {run.task} task makes its batches with the model being "
                             f"trained: --data-workers must be 0")
        if self.compile_scope == "tick":
            self.model.compile_ticks(mode=cfg.compile_mode)
        self._thought = (ThoughtStep(self.task, run.model, cfg.compile_mode, warn=self._warn)
                         if self.compile_scope == "thought" else None)
        if cfg.checkpoint_ticks:
            self.model.checkpoint_ticks = True
        self._deep = self._deep_supervision()
        # `core` is the model itself, for rollouts, evaluation and saving; `model` is what
        # training steps call: the same module on one process, the shared one on several
        self.core = self.model
        self.model = share(self.model, cfg.strategy, self.processes, self.device)
        if cfg.strategy == "fsdp":
            self.core = self.model  # sharded in place: every call must go through it
        self.optimizer = build_optimizer(cfg.optimizer, self.model, lr=cfg.lr,
                                         weight_decay=cfg.weight_decay,
                                         fused=None if self.processes.world == 1 else False)
        self.step = 0
        if saved is not None:
            self._load_checkpoint(saved)
        elif self.processes.main:
            self._start()
        self.processes.barrier()
        self.writer = None
        if self.processes.main:
            from torch.utils.tensorboard import SummaryWriter  # imported late: slow to load

            self.writer = SummaryWriter(str(self.run_dir / TENSORBOARD), purge_step=self.step)

    # --- set-up ------------------------------------------------------------------------------

    def _deep_supervision(self) -> DeepSupervision | None:
        """TRM's training for a model built with deep_supervision (one process, not compiled
        as a whole thought, batches made without the model)."""
        run = self.run
        if not run.model.deep_supervision:
            return None
        if self.processes.world > 1:
            raise ValueError("--deep-supervision trains in one process: its examples carried "
                             "from step to step are not shared between processes")
        if self.compile_scope == "thought":
            raise ValueError("--deep-supervision steps through a model's own `supervise`, "
                             "which --compile thought does not compile: give --compile off "
                             "(or tick, for a CTM)")
        if len(run.model.out_groups_shape) != 2:
            raise ValueError(f"--deep-supervision's halting head learns whether every output "
                             f"group is right; the {run.task} task's answer is one softmax "
                             f"(out_shape {run.model.out_shape})")
        if self.task.needs_model_for_batches:
            raise ValueError(f"--deep-supervision carries examples from step to step; the "
                             f"{run.task} task makes each step's batches afresh with the model")
        return DeepSupervision(self.task, run.model, run.train.seed)

    def _refuse_existing_run(self) -> None:
        if (self.run_dir / RUN_CONFIG).exists():
            raise FileExistsError(f"{self.run_dir} already holds a run; continue it with "
                                  f"`ctm train --resume {self.run_dir}` or choose another --out")
        if self.run_dir.is_file():
            raise FileExistsError(f"--out {self.run_dir} is a file, not a folder")

    def _checkpoint_to_resume(self) -> Path | None:
        checkpoint, passed = find_checkpoint(self.run_dir)
        self.notes += passed
        if checkpoint is not None:
            return checkpoint
        # a run that crashed before its first checkpoint may have logged rows and kept a best
        # model, which a restart makes again; a final model or damaged checkpoints mean the
        # run got further than that
        left = self._work_left()
        if passed or (self.run_dir / FINAL_MODEL / WEIGHTS_FILE).is_file():
            # starting again from step 0 would overwrite what is left: refuse, touch nothing
            why = (f"none of its {len(passed)} checkpoints is usable ({passed[0]})" if passed
                   else "it has no checkpoint")
            kept = f"; kept as they are: {', '.join(left)}" if left else ""
            raise ValueError(f"cannot resume {self.run_dir}: {why}{kept}. To train on from "
                             f"its final model: `ctm train {self.run.task} --init-from "
                             f"{self.run_dir} --out NEW_RUN`; to run it again from step 0: "
                             f"`ctm train --config {self.run_dir / RUN_CONFIG} --out NEW_RUN`")
        self.notes.append(f"{self.run_dir} has no intact checkpoint (it stopped before its "
                          f"first): starting it again from step 0 with its saved config")
        return None

    def _work_left(self) -> list[str]:
        """What a run without a usable checkpoint still holds that starting it again would
        overwrite: its models and logged rows."""
        left = [f"{self.run_dir / name}/" for name in (FINAL_MODEL, BEST_MODEL)
                if (self.run_dir / name / WEIGHTS_FILE).is_file()]
        metrics = self.run_dir / METRICS
        rows = (sum(1 for line in metrics.read_text(errors="replace").splitlines()
                    if line.strip()) if metrics.is_file() else 0)
        if rows:
            left.append(f"{metrics} ({rows} rows)")
        return left

    def _start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self._lock is None:  # a new run: another process may be starting it too
            self._lock = RunLock(self.run_dir)
            self._refuse_existing_run()
        write_json(self.run_dir / RUN_CONFIG, self.run.to_dict())
        self._name_the_run()
        (self.run_dir / METRICS).write_text("")
        (self.run_dir / RECORDS).unlink(missing_ok=True)

    def _name_the_run(self) -> None:
        """Give the run its random name (kept if it has one), which its checkpoints repeat."""
        if run_id(self.run_dir) is None:
            atomic_write(self.run_dir / RUN_ID, (uuid.uuid4().hex + "\n").encode())

    def _load_checkpoint(self, state: TrainerState) -> None:
        load_optimizer_state(self.model, self.optimizer, state.optimizer,
                             self.run.train.strategy, self.processes)
        torch.set_rng_state(state.rng)
        self.step = state.step
        if self._deep is not None:
            self._deep.load(state.carry)
        if self.processes.main:
            self._name_the_run()  # runs made before runs had names get one here
            self._truncate_metrics(after=state.step)
            write_json(self.run_dir / RUN_CONFIG, self.run.to_dict())  # the settings now

    def _truncate_metrics(self, after: int) -> None:
        """Drop rows a crashed run logged after its last checkpoint (they will be redone), and
        whatever the crash left that is not a row (a line cut short, garbage)."""
        path = self.run_dir / METRICS
        text = path.read_bytes().decode(errors="replace") if path.exists() else ""
        kept = []
        for row in text.splitlines():
            try:
                if json.loads(row)["step"] <= after:
                    kept.append(row)
            except (ValueError, KeyError, TypeError):
                pass
        path.write_text("".join(r + "\n" for r in kept))

    # --- the loop ----------------------------------------------------------------------------

    def train_step(self) -> dict[str, float]:
        """One step of the schedule: one optimiser update for most tasks, several where the
        task makes a step's batches itself (a PPO update's minibatches)."""
        cfg = self.run.train
        lr = lr_at(self.step, cfg.lr, cfg.warmup_steps, cfg.steps)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.model.train()
        rank, world = self.processes.rank, self.processes.world
        if self._prefetcher is not None:
            batches = iter([self._prefetcher.get(self.step).shard(rank, world)])
        else:
            batches = self.task.step_batches(self.core, self.step, cfg.batch_size, cfg.seed,
                                             self.device, rank, world)
        rows = [self._update(batch) for batch in batches]
        self.step += 1
        row = {key: sum(r[key] for r in rows) / len(rows) for key in rows[0]
               if key != "skipped" and all(key in r for r in rows)}
        row["lr"] = lr
        if any("skipped" in r for r in rows):
            row["skipped"] = sum(r.get("skipped", 0) for r in rows)
        if len(rows) > 1:
            row["updates"] = len(rows)
        return row

    def _update(self, batch: Any) -> dict[str, float]:
        """Forward, loss, backward and (if all is finite) one optimiser step on `batch`."""
        cfg = self.run.train
        stats = getattr(batch, "stats", {})
        batch = batch.to(self.device)
        compiling = self._thought is not None and self._thought.calls == 0
        if compiling:  # minutes on a CPU, seconds once inductor's cache holds the graphs
            self._console(f"compiling the whole thought (forward, loss and backward as one "
                          f"graph; {self.compile_reason}; --compile off trains eager) in the "
                          f"first step...")
            started = time.perf_counter()
        with precision_context(cfg.precision, self.device):
            if self._deep is not None:
                result = self._deep(self.core, batch, self.step)
            elif self._thought is None:
                result = forward_and_loss(self.task, self.run.model, self.model, batch)
            else:
                result = self._thought(self.model, batch)
        self.optimizer.zero_grad(set_to_none=True)
        result.loss.backward()
        if compiling and self._thought.failed is None:
            self._console(f"compiled: the first step took {time.perf_counter() - started:.1f} s")
        clip = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        if hasattr(norm, "full_tensor"):  # fsdp: a distributed tensor
            norm = norm.full_tensor()
        row = {"loss": result.loss.item(), "grad_norm": norm.item(), **result.extras}
        if result.most_certain_tick is not None:
            row["certain_tick"] = result.most_certain_tick.float().mean().item() + 1
        # averaged over the processes, so every one of them takes the same decision below
        # (the batch's own statistics, which may differ in keys, stay this process's)
        row = dict(zip(row, self.processes.mean(list(row.values()), self.device), strict=True))
        loss, grad_norm = row["loss"], row["grad_norm"]
        row.update(stats)
        if not (math.isfinite(loss) and math.isfinite(grad_norm)):
            self._nonfinite(loss, grad_norm)
            row["skipped"] = 1
        else:
            self._skipped_in_a_row = 0
            self.optimizer.step()
            if isinstance(self.core, CTM):
                self.core.clamp_decays_()
        return row

    def _console(self, line: str) -> None:
        if self.processes.main:
            tqdm.write(f"ctm: {line}", file=sys.stderr)

    def _warn(self, line: str) -> None:
        self._console(f"warning: {line}")

    def _nonfinite(self, loss: float, grad_norm: float) -> None:
        """Stop before a non-finite update, or (on_nonfinite="skip") skip it."""
        what = "loss" if not math.isfinite(loss) else "gradient norm"
        value = loss if what == "loss" else grad_norm
        step = self.step + 1
        self.optimizer.zero_grad(set_to_none=True)
        self._skipped_in_a_row += 1
        if self.run.train.on_nonfinite == "skip" and self._skipped_in_a_row < MAX_SKIPPED:
            self.skipped_steps += 1
            if self.skipped_steps == 1:
                self._warn(f"step {step}: the {what} is {value}; skipped without an update "
                           f"(--on-nonfinite skip; {MAX_SKIPPED} in a row stop the run)")
            return
        kept = self._kept("holding finite weights from before, is ")
        reason = (f"{MAX_SKIPPED} non-finite steps in a row" if self._skipped_in_a_row > 1
                  else f"the {what} is {value}")
        raise TrainingDiverged(f"training diverged at step {step}: {reason}; stopped before "
                               f"the update, {kept}; try a smaller --lr (now "
                               f"{self.run.train.lr:g}) or --grad-clip")

    def _say(self, bar: Progress, line: str) -> None:
        if self.processes.main:
            bar.write(line)

    def _kept(self, what: str = "") -> str:
        checkpoint, _ = find_checkpoint(self.run_dir)
        return (f"the last checkpoint, {checkpoint}, {what}kept" if checkpoint is not None
                else "no checkpoint was written yet")

    def evaluate(self) -> dict[str, Any]:
        """Held-out metrics (on several processes every one evaluates the whole held-out set
        in step, as a sharded model must)."""
        self.model.eval()
        cfg = self.run.train
        with precision_context(cfg.precision, self.device):
            return self.task.evaluate(self.core, self.task.eval_batches(cfg.eval_batch_size,
                                                                        cfg.seed), self.device)

    def fit(self) -> dict[str, Any]:
        """Train to `steps`, evaluating and checkpointing on the way; returns final metrics.
        On several processes, a process that fails stops the others (PeerLost), which keep
        the checkpoints written so far."""
        try:
            return self._fit()
        except RuntimeError as error:
            if not (self.processes.distributed and _from_a_lost_peer(error)):
                raise
            raise PeerLost(f"process {self.processes.rank} of {self.processes.world} lost "
                           f"its peers ({' '.join(str(error).split())[:160]}); "
                           f"{self._kept('is ')}: continue with `torchrun ... -m ctm train "
                           f"--resume {self.run_dir}`") from None
        finally:
            self.processes.stop()
            self._release_run()

    def _release_run(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _fit(self) -> dict[str, Any]:
        cfg = self.run.train
        metrics: dict[str, Any] = {}
        # a bar on a terminal, a line every few seconds in a log (rank 0 only)
        bar = Progress(cfg.steps, f"training {self.run.task}", "step", initial=self.step,
                       enabled=self.progress)
        started, first_step = time.perf_counter(), self.step
        log_path = self.run_dir / METRICS if self.processes.main else Path(os.devnull)
        with self._closing_writer(), bar, open(log_path, "a") as log, \
                self._stop_on_signals(), self._prefetching():
            while self.step < cfg.steps:
                # a signal may reach the processes between different steps: they agree
                if self.processes.any(self.stopped_by is not None, self.device):
                    self.stopped_by = self.stopped_by or "SIGTERM"
                    path = self.save_checkpoint()
                    self._say(bar, f"{self.stopped_by}: stopped at step {self.step}, checkpoint "
                              f"{path}; continue with `ctm train --resume {self.run_dir}`")
                    return metrics
                row = self.train_step()
                bar.update(1)
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    row.update(step=self.step, split="train",
                               seconds=round(time.perf_counter() - started, 3))
                    self._log(log, row)
                    bar.set_postfix(loss=f"{row['loss']:.4f}")
                if self.step % cfg.eval_every == 0 or self.step == cfg.steps:
                    metrics = self.evaluate()
                    self._log(log, {"step": self.step, "split": "eval", **metrics})
                    self._keep_record()
                    self._say(bar, f"step {self.step}: " + _headline(metrics))
                    self._keep_if_best(metrics)
                if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                    self.save_checkpoint()
        self._account_for_skips(first_step)
        whole = self._whole_model()
        if whole is not None:
            save_model(whole, self.run_dir / FINAL_MODEL)
        return metrics or self.evaluate()

    def _account_for_skips(self, first_step: int) -> None:
        """Say how many steps were skipped (on_nonfinite="skip"); a run that updated nothing
        at all diverged, however few its steps."""
        taken = self.step - first_step
        if not self.skipped_steps or not taken:
            return
        if self.skipped_steps >= taken:
            raise TrainingDiverged(
                f"training diverged: every one of this run's {taken} steps had a non-finite "
                f"loss or gradient and was skipped, so the weights never changed; "
                f"{self._kept('is ')}; try a smaller --lr (now {self.run.train.lr:g}) or "
                f"--grad-clip")
        self._warn(f"{self.skipped_steps} of {taken} steps were skipped (a non-finite loss or "
                   f"gradient; the rows marked \"skipped\" in {METRICS})")

    @contextlib.contextmanager
    def _closing_writer(self) -> Iterator[None]:
        try:
            yield
        finally:
            if self.writer is not None:
                self.writer.close()

    def _whole_model(self) -> torch.nn.Module | None:
        """The model with all its weights, on rank 0, for saving (None on the other ranks).
        Every process must call this: a sharded model is gathered."""
        if self.run.train.strategy != "fsdp" or not self.processes.distributed:
            return self.core if self.processes.main else None
        weights = full_state_dict(self.model, "fsdp", self.processes)
        if not self.processes.main:
            return None
        whole = build_model(self.run.model)
        whole.load_state_dict(weights)
        return whole

    @contextlib.contextmanager
    def _stop_on_signals(self) -> Iterator[None]:
        """While training, SIGTERM and SIGINT ask the loop to stop after the step in hand."""
        if threading.current_thread() is not threading.main_thread():
            yield  # signal handlers can only be installed from the main thread
            return

        def ask_to_stop(number: int, _frame: object) -> None:
            self.stopped_by = signal.Signals(number).name

        previous = {n: signal.signal(n, ask_to_stop) for n in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    @contextlib.contextmanager
    def _prefetching(self) -> Iterator[None]:
        cfg = self.run.train
        if not cfg.data_workers:
            yield
            return
        with BatchPrefetcher(self.task, cfg.batch_size, cfg.seed, cfg.data_workers,
                             first_step=self.step) as self._prefetcher:
            try:
                yield
            finally:
                self._prefetcher = None

    def _keep_if_best(self, metrics: dict[str, Any]) -> None:
        """Save the model into RUN/best/ when its headline metric beats every earlier
        evaluation's (higher is better for every task's): a run that learns and then
        degrades, as reinforcement learning can, keeps its best weights."""
        name = self.task.headline_metrics[0]
        value = metrics.get(name)
        if not isinstance(value, int | float) or not math.isfinite(value):
            return
        record = self.run_dir / BEST_RECORD
        better = self.processes.main
        if better and record.is_file():
            # a damaged record: this evaluation replaces it
            with contextlib.suppress(ValueError, KeyError, TypeError):
                better = read_json(record, "best record")["value"] < value
        if not self.processes.any(better, self.device):  # rank 0 decides for all
            return
        whole = self._whole_model()
        if whole is not None:
            save_model(whole, self.run_dir / BEST_MODEL)
            write_json(record, {"step": self.step, "metric": name, "value": value})

    def save_checkpoint(self) -> Path:
        """Write a checkpoint (rank 0 writes; every process must call this). Returns its
        directory."""
        finite = all(bool(torch.isfinite(_local(p)).all()) for p in self.model.parameters())
        if self.processes.any(not finite, self.device):
            raise TrainingDiverged(f"the weights at step {self.step} are not finite; no "
                                   f"checkpoint written, the earlier ones are kept")
        strategy = self.run.train.strategy
        optimizer = full_optimizer_state(self.model, self.optimizer, strategy, self.processes)
        whole = self._whole_model()
        target = self.run_dir / CHECKPOINTS / f"step-{self.step:06d}"
        if whole is not None:
            state = TrainerState(step=self.step, optimizer=optimizer, rng=torch.get_rng_state(),
                                 carry=None if self._deep is None else self._deep.state())
            target = save_checkpoint(self.run_dir, whole, state, self.run.train.keep_checkpoints)
        return target

    def _keep_record(self) -> None:
        """Append the task's record of this evaluation (maze: per-tick routes) to the run's
        records file; rank 0 only."""
        if self.writer is None:
            return
        with precision_context(self.run.train.precision, self.device):
            record = self.task.training_record(self.core, self.run.train.seed, self.device)
        if record is None:
            return
        path = self.run_dir / RECORDS
        try:
            with open(path, "a") as out:
                out.write(json_line({"step": self.step, **record}) + "\n")
        except OSError as error:
            raise WriteError(path, error, "the checkpoints so far are whole: free space, then "
                             "resume") from None

    def _log(self, log: Any, row: dict[str, Any]) -> None:
        if self.writer is None:  # not rank 0
            return
        try:
            log.write(json_line(row) + "\n")
            log.flush()  # a crash loses no logged row
        except OSError as error:
            raise WriteError(self.run_dir / METRICS, error, "the checkpoints so far are whole: "
                             "free space, then resume") from None
        for key, value in row.items():
            if isinstance(value, int | float) and key != "step" and math.isfinite(value):
                self.writer.add_scalar(f"{row['split']}/{key}", value, self.step)


def _from_a_lost_peer(error: RuntimeError) -> bool:
    """A collective failed because another process went away (not a fault of this one)."""
    if isinstance(error, TrainingDiverged):
        return False
    text = str(error)
    return isinstance(error, dist.DistError) or any(
        mark in text for mark in ("gloo", "NCCL", "Connection reset", "Connection closed"))


def _local(tensor: torch.Tensor) -> torch.Tensor:
    """This process's part of a (possibly sharded) tensor."""
    return tensor.to_local() if hasattr(tensor, "to_local") else tensor


def _headline(metrics: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))
