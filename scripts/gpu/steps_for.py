"""Steps a run can take in SECONDS of training, from a probe run's logged step times:
    python scripts/gpu/steps_for.py PROBE_RUN_DIR SECONDS"""

import json
import sys
from pathlib import Path

rows = [json.loads(line) for line in (Path(sys.argv[1]) / "metrics.jsonl").read_text().splitlines()
        if line.strip()]
train = [r for r in rows if r["split"] == "train"]
a, b = train[len(train) // 2], train[-1]  # skip the compile in the first steps
per_step = (b["seconds"] - a["seconds"]) / (b["step"] - a["step"])
print(int(float(sys.argv[2]) / per_step), f"{per_step:.4f}", file=sys.stderr)
print(int(float(sys.argv[2]) / per_step))
