"""`ctm convert-original`: a checkpoint of the original research code as one of ours."""

from __future__ import annotations

from pathlib import Path

from .common import Parser, UserError

HELP = "convert a checkpoint of the original research code"


def main(argv: list[str]) -> int:
    from ..model import CTM
    from ..model.original import read_original_checkpoint

    p = Parser(prog="ctm convert-original", description=HELP)
    p.add_argument("weights", type=Path, help=".pt state dict or .safetensors")
    p.add_argument("config", type=Path, help="JSON of the original constructor's arguments")
    p.add_argument("out_dir", type=Path)
    args = p.parse_args(argv)
    state, kwargs = read_original_checkpoint(args.weights, args.config)
    try:
        model = CTM.from_original(state, kwargs)
    except (KeyError, ValueError, TypeError) as error:
        raise UserError(f"{args.weights} does not match {args.config}: {error}") from None
    model.save(args.out_dir)
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote {args.out_dir} ({n:,} parameters); load it with CTM.load({str(args.out_dir)!r})")
    return 0
