"""Image classification data: scikit-learn's bundled digits, image folders, CIFAR binaries.

Every source is a labelled list of images read on demand as (N, H, W, C) uint8 arrays, so an
ImageNet-sized folder is never loaded whole. Nothing is downloaded: the digits ship inside
scikit-learn, and folders and CIFAR files are whatever the user already has on disk.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".tif", ".tiff")
CIFAR_IMAGE_BYTES = 3 * 32 * 32
DIGITS_TEST_SHARE = 0.2  # fixed split of the 1,797 digits: 1,438 train, 359 test


class ImageSource:
    """Labelled images, read by index."""

    classes: list[str]
    labels: np.ndarray  # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)

    def images(self, indices: list[int]) -> np.ndarray:
        """(len(indices), H, W, C) uint8."""
        raise NotImplementedError


@dataclass
class ArraySource(ImageSource):
    pixels: np.ndarray  # (N, H, W, C) uint8
    labels: np.ndarray
    classes: list[str]

    def images(self, indices: list[int]) -> np.ndarray:
        return self.pixels[indices]


class FolderSource(ImageSource):
    """An image folder: one subfolder per class, images read with Pillow on demand and resized
    to `size` × `size` (bilinear) when given, else required to share one size.

    Files are read only when a batch needs them, so a damaged file may turn up hours into a
    run. It is skipped rather than ending the run: the next readable image of the same class
    takes its place (the same one every time, so a resumed run sees the same batches), and a
    warning names the file and counts the files skipped so far."""

    def __init__(self, files: list[Path], labels: list[int], classes: list[str],
                 size: int | None) -> None:
        self.files, self.labels, self.classes, self.size = files, np.asarray(labels), classes, size
        self.unreadable: set[int] = set()

    def _read(self, index: int) -> np.ndarray:
        from PIL import Image

        with Image.open(self.files[index]) as image:
            image = image.convert("RGB")
            if self.size is not None and image.size != (self.size, self.size):
                image = image.resize((self.size, self.size), Image.Resampling.BILINEAR)
            return np.asarray(image)

    def _read_or_substitute(self, index: int) -> np.ndarray:
        n = len(self.files)
        for offset in range(n):
            candidate = (index + offset) % n
            if self.labels[candidate] != self.labels[index] or candidate in self.unreadable:
                continue
            try:
                return self._read(candidate)
            except (OSError, ValueError, SyntaxError) as error:  # what Pillow raises
                self.unreadable.add(candidate)
                print(f"ctm: warning: skipped unreadable image {self.files[candidate]} "
                      f"({str(error).splitlines()[0][:100]}); {len(self.unreadable)} skipped "
                      f"so far", file=sys.stderr)
        raise ValueError(f"no readable image of class {self.classes[self.labels[index]]!r} "
                         f"(every one of its files failed to read)")

    def images(self, indices: list[int]) -> np.ndarray:
        arrays = [self._read_or_substitute(i) for i in indices]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ValueError(f"images differ in size ({sorted(shapes)}); set --image-size")
        return np.stack(arrays)


def load_digits_split() -> tuple[ArraySource, ArraySource]:
    """scikit-learn's 8×8 digits (grey levels 0-16), split by a fixed shuffle."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.round(digits.images * (255 / 16)).astype(np.uint8)[..., None]  # (N, 8, 8, 1)
    order = np.random.default_rng(0).permutation(len(pixels))
    n_test = int(round(len(pixels) * DIGITS_TEST_SHARE))
    test, train = order[:n_test], order[n_test:]
    classes = [str(d) for d in range(10)]
    return (ArraySource(pixels[train], digits.target[train].astype(np.int64), classes),
            ArraySource(pixels[test], digits.target[test].astype(np.int64), classes))


def _class_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def _folder_listing(root: Path, classes: list[str]) -> tuple[list[Path], list[int]]:
    files, labels = [], []
    for label, name in enumerate(classes):
        found = sorted(p for p in (root / name).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not found:
            raise ValueError(f"class folder {root / name} holds no images "
                             f"({', '.join(IMAGE_SUFFIXES)}): remove it, or it is a class no "
                             f"example shows")
        files += found
        labels += [label] * len(found)
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in the class folders of {root}")
    return files, labels


def load_folder_split(root: str | Path, size: int | None, test_share: float
                      ) -> tuple[FolderSource, FolderSource]:
    """`root/train/<class>/...` with `root/val` (or `root/test`) as held-out data, as ImageNet
    is laid out; or `root/<class>/...`, split by a fixed shuffle keeping `test_share` held out."""
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"image folder {root} does not exist")
    held_out = next((root / n for n in ("val", "test") if (root / n).is_dir()), None)
    if (root / "train").is_dir() and held_out is not None:
        classes = [p.name for p in _class_folders(root / "train")]
        files, labels = _folder_listing(root / "train", classes)
        test_files, test_labels = _folder_listing(held_out, classes)
        return (FolderSource(files, labels, classes, size),
                FolderSource(test_files, test_labels, classes, size))
    classes = [p.name for p in _class_folders(root)]
    if len(classes) < 2:
        raise ValueError(f"{root} needs one subfolder per class (found {len(classes)}), or "
                         f"train/ and val/ folders of class subfolders")
    files, labels = _folder_listing(root, classes)
    order = list(range(len(files)))
    random.Random(0).shuffle(order)
    n_test = max(1, int(round(len(order) * test_share)))

    def part(indices: list[int]) -> FolderSource:
        return FolderSource([files[i] for i in indices], [labels[i] for i in indices], classes,
                            size)

    return part(order[n_test:]), part(order[:n_test])


def read_cifar_binary(paths: list[Path], label_bytes: int, label_index: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Records of `label_bytes` label bytes then 3×32×32 channel-major pixels."""
    record = label_bytes + CIFAR_IMAGE_BYTES
    chunks, labels = [], []
    for path in paths:
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size == 0 or raw.size % record:
            raise ValueError(f"{path} is not a CIFAR binary file ({raw.size} bytes is not a "
                             f"multiple of {record})")
        rows = raw.reshape(-1, record)
        labels.append(rows[:, label_index].astype(np.int64))
        chunks.append(rows[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return np.concatenate(chunks), np.concatenate(labels)


def load_cifar_split(root: str | Path, classes: int) -> tuple[ArraySource, ArraySource]:
    """CIFAR-10 (`data_batch_1..5.bin`, `test_batch.bin`) or CIFAR-100 (`train.bin`,
    `test.bin`, fine labels) in the binary distribution format, from `root` or the folder the
    archive unpacks to inside it."""
    root = Path(root)
    if classes == 10:
        names, label_bytes, label_index, inner = [f"data_batch_{i}.bin" for i in range(1, 6)], \
            1, 0, "cifar-10-batches-bin"
        test_names = ["test_batch.bin"]
    else:
        names, label_bytes, label_index, inner = ["train.bin"], 2, 1, "cifar-100-binary"
        test_names = ["test.bin"]
    if (root / inner).is_dir():
        root = root / inner
    missing = [n for n in names + test_names if not (root / n).is_file()]
    if missing:
        raise ValueError(f"CIFAR-{classes} binary files missing under {root}: "
                         f"{', '.join(missing)}")
    train = read_cifar_binary([root / n for n in names], label_bytes, label_index)
    test = read_cifar_binary([root / n for n in test_names], label_bytes, label_index)
    for labels in (train[1], test[1]):
        if labels.max() >= classes:
            raise ValueError(f"labels up to {labels.max()} in CIFAR-{classes} files under {root}")
    names_list = [str(c) for c in range(classes)]
    return ArraySource(*train, names_list), ArraySource(*test, names_list)


MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST distribution format: magic 0x00 0x00 0x08 NDIM, then NDIM
    big-endian sizes, then unsigned bytes), plain or gzipped."""
    import gzip
    import zlib

    again = "(an interrupted download?): fetch it again"
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except EOFError:
            raise ValueError(f"{path} is cut short {again}") from None
        except (gzip.BadGzipFile, zlib.error) as error:
            raise ValueError(f"{path} is a damaged gzip file ({error}) {again}") from None
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path} is cut short inside its header {again}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    promised = int(np.prod(shape))
    if len(raw) < header + promised:
        raise ValueError(f"{path} is cut short {again}: it holds {len(raw) - header:,} bytes "
                         f"of data where its header promises {promised:,} "
                         f"({' × '.join(map(str, shape))})")
    if len(raw) > header + promised:
        raise ValueError(f"{path} holds {len(raw) - header:,} bytes of data where its header "
                         f"promises {promised:,} ({' × '.join(map(str, shape))}): not an "
                         f"IDX file as MNIST's are")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def load_mnist_split(root: str | Path) -> tuple[ArraySource, ArraySource]:
    """MNIST (or Fashion-MNIST, KMNIST: any data set in its layout) from the four IDX files
    under `root`, each plain or with `.gz`."""
    root = Path(root)
    parts = []
    for split, names in MNIST_FILES.items():
        paths = []
        for name in names:
            found = [p for p in (root / name, root / f"{name}.gz") if p.is_file()]
            if not found:
                raise ValueError(f"MNIST {split} file {name}[.gz] missing under {root}")
            paths.append(found[0])
        images, labels = read_idx(paths[0]), read_idx(paths[1])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"{paths[0]} and {paths[1]} do not pair up: images "
                             f"{images.shape}, labels {labels.shape}")
        parts.append(ArraySource(images[..., None].copy(), labels.astype(np.int64),
                                 [str(c) for c in range(int(labels.max()) + 1)]))
    classes = max(len(p.classes) for p in parts)
    for part in parts:
        part.classes = [str(c) for c in range(classes)]
    return parts[0], parts[1]
