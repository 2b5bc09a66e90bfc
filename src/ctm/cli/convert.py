"""`ctm convert-original`: a checkpoint of the original research code as one of ours."""

from __future__ import annotations

from pathlib import Path

from .common import Parser, UserError

HELP = "convert a checkpoint of the original research code"


def main(argv: list[str]) -> int:
    from ..model import CTM
    from ..model.original import read_original_checkpoint
    from ..model.pretrained import ModelCard

    p = Parser(prog="ctm convert-original", description=(
        "Convert a checkpoint of the original research code into a shareable folder "
        "(config.json, model.safetensors, README.md) that CTM.from_pretrained loads. The "
        "original's released checkpoints carry their training arguments: "
        "`ctm convert-original ctm_clean.pt OUT_DIR`. A bare state dict needs the "
        "constructor's arguments as JSON: `ctm convert-original WEIGHTS CONFIG.json OUT_DIR`."))
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                   help="WEIGHTS [CONFIG.json] OUT_DIR: weights as .pt or .safetensors")
    args = p.parse_args(argv)
    if len(args.paths) not in (2, 3):
        raise UserError("give WEIGHTS OUT_DIR, or WEIGHTS CONFIG.json OUT_DIR")
    weights, out_dir = args.paths[0], args.paths[-1]
    config = args.paths[1] if len(args.paths) == 3 else None
    state, kwargs = read_original_checkpoint(weights, config)
    try:
        model = CTM.from_original(state, kwargs)
    except (KeyError, ValueError, TypeError) as error:
        source = config or "its training arguments"
        raise UserError(f"{weights} does not match {source}: {error}") from None
    arguments = f"`{config.name}`" if config else "the checkpoint's training arguments"
    card = ModelCard(notes=f"Converted with `ctm convert-original` from the original research "
                           f"code's checkpoint `{weights.name}` (constructor arguments: "
                           f"{arguments}).")
    model.save_pretrained(out_dir, card)
    n = sum(p.numel() for p in model.parameters())
    print(f"wrote {out_dir} ({n:,} parameters); load it with "
          f"CTM.from_pretrained({str(out_dir)!r})")
    return 0
