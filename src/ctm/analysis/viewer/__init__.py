"""The thought viewer: a self-contained folder that shows a CTM thinking, tick by tick, in a
browser, running the exported model in the page.

The folder holds `index.html`, `viewer.js`, `viewer.css`, onnxruntime-web's WebAssembly runtime,
the model and examples as scripts (`model.js`, `data.js`), and the model as `model.onnx` too.
Agents are shown by a page of its own (`write_episode_viewer`): recorded episodes played step
by step.
The runtime's glue and binary are handed to it from those scripts rather than fetched, so the
page works opened from the file system as well as from a web server, with no network.
onnxruntime-web comes from its npm registry package (`npm pack`, once, into a cache), or from a
folder the user gives. A static page (`static=True`) carries outputs PyTorch computed instead of
the model.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from ...files import atomic_write, cache_dir

ORT_VERSION = "1.30.0"  # onnxruntime-web on the npm registry
ORT_SCRIPT = "ort.wasm.min.js"  # the WebAssembly-only build, as a classic script
ORT_GLUE = "ort-wasm-simd-threaded.mjs"
ORT_BINARY = "ort-wasm-simd-threaded.wasm"
ASSETS = ("index.html", "viewer.js", "viewer.css")


def onnxruntime_web(folder: str | os.PathLike | None = None) -> Path:
    """The folder holding onnxruntime-web's runtime files: `folder` if given (the package
    unpacked, or its dist/ folder), else the cache, filled once from the npm registry with
    `npm pack onnxruntime-web@ORT_VERSION`."""
    if folder is not None:
        folder = Path(folder)
        for candidate in (folder, folder / "dist", folder / "package" / "dist"):
            if all((candidate / f).is_file() for f in (ORT_SCRIPT, ORT_GLUE, ORT_BINARY)):
                return candidate
        raise FileNotFoundError(f"{folder} does not hold onnxruntime-web's {ORT_SCRIPT}, "
                                f"{ORT_GLUE} and {ORT_BINARY} (nor in dist/)")
    target = cache_dir() / f"onnxruntime-web-{ORT_VERSION}"
    if all((target / f).is_file() for f in (ORT_SCRIPT, ORT_GLUE, ORT_BINARY)):
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise ValueError(f"the live viewer needs onnxruntime-web {ORT_VERSION}: install npm "
                         f"(Node.js) so ctm can fetch it once, or give --ort-dir with the "
                         f"unpacked package, or use --static")
    with tempfile.TemporaryDirectory(prefix="ctm-ort-") as work:
        done = subprocess.run([npm, "pack", f"onnxruntime-web@{ORT_VERSION}", "--silent"],
                              cwd=work, capture_output=True, text=True)
        packed = sorted(Path(work).glob("onnxruntime-web-*.tgz"))
        if done.returncode != 0 or not packed:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ValueError(f"could not fetch onnxruntime-web {ORT_VERSION} with npm ({last}); "
                             f"give --ort-dir with the unpacked package, or use --static")
        with tarfile.open(packed[0]) as archive:
            wanted = [m for m in archive.getmembers()
                      if m.name in {f"package/dist/{f}" for f in (ORT_SCRIPT, ORT_GLUE,
                                                                   ORT_BINARY)}]
            archive.extractall(work, members=wanted, filter="data")
        staging = Path(work) / "package" / "dist"
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(staging, partial)
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)  # whole or absent: a crash mid-copy leaves no half runtime
    return target


def _script(name: str, value: str) -> bytes:
    return f"window.{name} = {value};\n".encode()


def _page_folder(out_dir: str | os.PathLike, assets: dict[str, str], name: str,
                 data: dict[str, Any]) -> Path:
    """Make `out_dir` with the page's assets (written name: the asset's name) and `data.js`,
    which sets `window.<name>` to `data`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    folder = resources.files(__name__) / "assets"
    for written, asset in assets.items():
        atomic_write(out_dir / written, (folder / asset).read_bytes())
    atomic_write(out_dir / "data.js", _script(name, json.dumps(data)))
    return out_dir


def write_viewer(out_dir: str | os.PathLike, data: dict[str, Any], model_onnx: Path | None,
                 runtime: Path | None) -> Path:
    """Write the viewer folder: `data` (what `viewer.js` reads as CTM_DATA), the ONNX model
    (None for a static page, whose examples carry their outputs) and the runtime folder from
    `onnxruntime_web` (None for a static page). Returns the page's path."""
    out_dir = _page_folder(out_dir, {name: name for name in ASSETS}, "CTM_DATA", data)
    if model_onnx is None or runtime is None:
        note = b"// static page: outputs are in data.js; no model runs here\n"
        for name in (ORT_SCRIPT, "ort-glue.js", "ort-wasm.js", "model.js"):
            atomic_write(out_dir / name, note)
        return out_dir / "index.html"
    atomic_write(out_dir / ORT_SCRIPT, (runtime / ORT_SCRIPT).read_bytes())
    atomic_write(out_dir / "ort-glue.js",
                 _script("CTM_ORT_GLUE", json.dumps((runtime / ORT_GLUE).read_text())))
    atomic_write(out_dir / "ort-wasm.js", _script("CTM_ORT_WASM", json.dumps(
        base64.b64encode((runtime / ORT_BINARY).read_bytes()).decode())))
    atomic_write(out_dir / "model.js", _script("CTM_MODEL", json.dumps(
        base64.b64encode(model_onnx.read_bytes()).decode())))
    atomic_write(out_dir / "model.onnx", model_onnx.read_bytes())  # the same, for other uses
    return out_dir / "index.html"


def write_episode_viewer(out_dir: str | os.PathLike, data: dict[str, Any]) -> Path:
    """Write the episode viewer folder: `index.html` (the assets' `episode.html`), `episode.js`,
    `viewer.css` and `data.js` holding `data` (what the page reads as CTM_EPISODES: episodes an
    agent played, recorded step by step). It runs no model. Returns the page's path."""
    out_dir = _page_folder(out_dir, {"index.html": "episode.html", "episode.js": "episode.js",
                                     "viewer.css": "viewer.css"}, "CTM_EPISODES", data)
    return out_dir / "index.html"
