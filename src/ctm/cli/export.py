"""`ctm export`: a trained model as ONNX, a torch.export program, or a shareable folder."""

from __future__ import annotations

from pathlib import Path

from .common import Parser, check_output_folder

HELP = "export a trained model: ONNX, torch.export, or a Hugging Face style folder"


def build_parser() -> Parser:
    p = Parser(prog="ctm export", description=(
        "Export a run's trained model. onnx: checked against PyTorch in onnxruntime on "
        "held-out inputs; torch-export: a torch.export program (.pt2); pretrained: "
        "config.json, model.safetensors and a model card, for CTM.from_pretrained."))
    p.add_argument("source", help="run directory or bundled:NAME")
    p.add_argument("--format", dest="fmt", default="onnx",
                   choices=("onnx", "torch-export", "pretrained"),
                   help="what to write: onnx, torch-export or pretrained (default onnx)")
    p.add_argument("--out", type=Path, required=True, help="folder to write into")
    p.add_argument("--ticks", type=int, default=None,
                   help="ticks per call (default: the model's, or 1 with --per-tick)")
    p.add_argument("--per-tick", action="store_true",
                   help="a stepping model: (input, state) -> the next ticks' outputs and the "
                        "state after them, plus start.onnx for the learned start state")
    p.add_argument("--attention", action="store_true",
                   help="also output each tick's attention (whole-thought exports)")
    p.add_argument("--batch", type=int, default=1,
                   help="batch size the exported model takes (default 1)")
    return p


def main(argv: list[str]) -> int:
    from ..run.export import export_run

    args = build_parser().parse_args(argv)
    if args.batch < 1:
        raise ValueError(f"--batch must be >= 1, got {args.batch}")
    check_output_folder(args.out, "--out")
    result = export_run(args.source, args.out, args.fmt, args.ticks, args.per_tick,
                        args.attention, examples=args.batch)
    for path in result.files:
        print(f"wrote {path}")
    if result.outputs:
        print(f"outputs: {', '.join(result.outputs)}; {result.ticks} tick(s) per call")
    if result.max_difference is not None:
        where = "in onnxruntime" if args.fmt == "onnx" else "reloaded"
        print(f"largest difference from PyTorch {where}: {result.max_difference:.2e} "
              f"({result.max_relative:.2e} of the output's scale)")
    return 0
