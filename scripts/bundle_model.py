"""Copy a finished run into the package as a bundled model (maintainers' tool).

    python scripts/bundle_model.py RUN_DIR NAME [--option FIELD=VALUE ...]

Writes src/ctm/bundled/NAME/: the run's config.json (task options overridden by --option, e.g.
eval_size=1000 so that `ctm eval bundled:NAME` scores 1,000 held-out mazes) and model/ with the
final weights in float16. MODEL.md, the model card, is written by hand.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

from ctm.flags import parse_assignments
from ctm.tasks import get_task


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", type=Path)
    parser.add_argument("name")
    parser.add_argument("--option", action="append", default=[])
    args = parser.parse_args()
    config = json.loads((args.run / "config.json").read_text())
    changes = parse_assignments(get_task(config["task"]).Options, args.option)
    config["options"].update({k: list(v) if isinstance(v, tuple) else v
                              for k, v in changes.items()})
    out = Path(__file__).resolve().parents[1] / "src" / "ctm" / "bundled" / args.name
    (out / "model").mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    shutil.copy(args.run / "model" / "config.json", out / "model" / "config.json")
    weights = load_file(args.run / "model" / "model.safetensors")
    save_file({k: v.half() if v.is_floating_point() else v for k, v in weights.items()},
              out / "model" / "model.safetensors")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
