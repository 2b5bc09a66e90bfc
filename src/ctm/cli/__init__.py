"""The `ctm` command: one module per subcommand, each of which parses its flags, calls the
library and prints. Every user mistake ends here as one line on stderr and exit status 2."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from . import bench, convert, export, tasks, train, viz
from . import eval as eval_
from .common import UserError

COMMANDS = {"tasks": tasks, "train": train, "eval": eval_, "viz": viz,
            "export": export, "convert-original": convert, "bench": bench}
DIVERGED = 3  # exit status of a training run stopped by a non-finite loss
PEER_LOST = 4  # a process of a distributed run stopped because another one failed


def usage() -> str:
    lines = ["usage: ctm COMMAND [...]   (ctm COMMAND --help for its flags; ctm --version)", "",
             "Continuous Thought Machines.", "", "commands:"]
    lines += [f"  {name:<18} {module.HELP}" for name, module in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    from ..train import PeerLost, TrainingDiverged

    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv:
            raise UserError(f"name a command: {', '.join(COMMANDS)} (`ctm --help` says more)")
        if argv[0] in ("-h", "--help"):
            print(usage())
            return 0
        if argv[0] in ("-V", "--version"):
            from .. import __version__

            print(f"ctm {__version__}")
            return 0
        if argv[0] not in COMMANDS:
            raise UserError(f"unknown command {argv[0]!r}; commands: {', '.join(COMMANDS)}")
        return COMMANDS[argv[0]].main(argv[1:])
    except (UserError, ValueError, FileNotFoundError, FileExistsError) as error:
        print(f"ctm: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except TrainingDiverged as error:
        print(f"ctm: error: {error}", file=sys.stderr)
        return DIVERGED
    except PeerLost as error:
        print(f"ctm: error: {error}", file=sys.stderr)
        return PEER_LOST
    except BrokenPipeError:
        # the reader went away (`ctm eval --json | head -c 20`): stop quietly, and keep Python
        # from complaining again when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a pipe's early end
    except OSError as error:  # disk full, read-only, no permission: files stay whole
        print(f"ctm: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ctm: interrupted; resume a training run with `ctm train --resume RUN_DIR`",
              file=sys.stderr)
        return 130


def _one_line(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror and error.filename:
        return f"{error.filename}: {error.strerror}"
    return " ".join(str(error).split("\n")).strip() or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
