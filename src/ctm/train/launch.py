"""`ctm train ... --processes N`: the ranks of a one-machine distributed run, started by torch's
elastic launcher (what `torchrun --standalone` runs) from inside ctm.

Under plain `torchrun` every rank prints its own error line and torchrun adds its traceback
of the failure. Here each rank's output goes to a log file, rank 0's is also shown as it comes,
and a run that fails ends with one `ctm: error:` line, said once, and the failed rank's exit
status.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

ERROR_PREFIX = "ctm: error:"


def launch(argv: list[str], processes: int) -> tuple[int, str | None]:
    """Run `ctm train *argv` on `processes` local ranks; returns (exit status, the error line
    to show, None where rank 0 has shown it already or there is none)."""
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs, Std
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    logs = Path(tempfile.mkdtemp(prefix="ctm-ranks-"))
    config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=processes, run_id=uuid.uuid4().hex,
        rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0,
        logs_specs=DefaultLogsSpecs(log_dir=str(logs), redirects=Std.ALL,
                                    tee={0: Std.ALL}),
        # rank 0's lines shown as they are: the prefix is the role's name, and the role has
        # none (an empty template would bring back the default "[default_role0]:")
        role="", log_line_prefix_template="${role_name}")
    quiet = [logging.getLogger(name) for name in ("torch.distributed.elastic",
                                                  "torch.distributed.launcher")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:  # the launcher's own account of a failure is the traceback we spare
        logger.setLevel(logging.CRITICAL)
    try:
        elastic_launch(config, sys.executable)("-m", "ctm", "train", *argv)
        return 0, None
    except ChildFailedError as failure:
        rank, first = failure.get_first_failure()
        status = first.exitcode if first.exitcode >= 0 else 128 - first.exitcode
        return status, _error_to_show(logs, rank)
    except SignalException as stop:  # the launcher itself was told to stop
        return 128 + int(stop.sigval), None
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)
        shutil.rmtree(logs, ignore_errors=True)


def _error_to_show(logs: Path, failed_rank: int) -> str | None:
    """The failed rank's `ctm: error:` line (the first rank's that has one if it has none),
    unless rank 0 said it already on the console."""
    said = {int(path.parent.name): _error_line(path) for path in logs.rglob("stderr.log")
            if path.parent.name.isdigit()}
    line = said.get(failed_rank) or next((said[r] for r in sorted(said) if said[r]), None)
    if line is None or line == said.get(0):
        return None
    return line


def _error_line(path: Path) -> str | None:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    return next((line for line in lines if line.startswith(ERROR_PREFIX)), None)

