"""Datasets, fixed splits and the paper's corruptions.

Images are float32 tensors of shape (N, C, H, W) with pixels in [0, 1]; normalisation is done
inside the models (their first layer), so attacks such as LASS work on the raw pixel scale
(the paper's 0-255 constants divided by 255). Labels are int64 tensors of shape (N,).
Every random choice takes an explicit seed or generator; nothing touches the global RNG.
"""
from __future__ import annotations

import hashlib
import tarfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
RAW = DATA / "raw"
MNIST10K = DATA / "mnist10k.npz"
CIFAR10S = DATA / "cifar10s.npz"  # the shipped CIFAR-10 sample (JPEG bytes); rebuilt by `python -m training.data sample`
SPLIT_SEED = 20170612  # the one fixed split of the shipped sample (arXiv date of the paper)
N_VAL = 2000           # validation digits held out of the 10k sample (stratified)
CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
DATASETS = ("mnist10k", "mnist", "cifar10", "cifar10s")
SAMPLE_PER_CLASS = {"train": 50, "test": 20}  # the CIFAR-10 sample: 500 training and 200 test images
# image shape, training and validation examples of each (the planner sizes runs from these)
SIZES = {"mnist10k": ((1, 28, 28), 8000, 2000), "mnist": ((1, 28, 28), 60000, 10000),
         "cifar10": ((3, 32, 32), 50000, 10000), "cifar10s": ((3, 32, 32), 500, 200)}


class DatasetMissing(FileNotFoundError):
    """The requested dataset is not on disk; the message says where it is expected and how to get it."""


@dataclass(frozen=True)
class Images:
    """A labelled image set. x: (N, C, H, W) float32 in [0, 1]; y: (N,) int64."""

    x: torch.Tensor
    y: torch.Tensor
    name: str    # e.g. "mnist10k/train"
    source: str  # where the pixels came from (file or torchvision root)
    index: torch.Tensor | None = None  # (N,) position of each image in its source file

    def __post_init__(self):
        if self.index is None:
            object.__setattr__(self, "index", torch.arange(len(self.y)))

    def __len__(self) -> int:
        return len(self.y)

    @property
    def n_classes(self) -> int:
        return 10

    def take(self, idx) -> "Images":
        idx = torch.as_tensor(idx, dtype=torch.long)
        return replace(self, x=self.x[idx], y=self.y[idx], index=self.index[idx])

    def pixel_stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel mean and std of the pixels, shape (C,): used for normalisation and randX."""
        return self.x.mean(dim=(0, 2, 3)), self.x.std(dim=(0, 2, 3))


def _from_uint8(images: np.ndarray, labels: np.ndarray, name: str, source: str) -> Images:
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)
    if x.ndim == 3:               # (N, H, W) -> (N, 1, H, W)
        x = x.unsqueeze(1)
    elif x.shape[-1] in (1, 3):   # (N, H, W, C) -> (N, C, H, W)
        x = x.permute(0, 3, 1, 2).contiguous()
    return Images(x, torch.from_numpy(labels.astype(np.int64)), name, source)


def stratified_indices(y: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """Indices of a class-balanced random subset of size n (classes in proportion, remainder spread)."""
    if not 0 < n <= len(y):
        raise ValueError(f"subset size n = {n} is out of range; allowed: 1 ≤ n ≤ {len(y)}")
    rng = np.random.default_rng(seed)
    y = y.numpy()
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * n // len(y)  # exact integer floor (a float one can land a class one short, then over)
    short = n - quota.sum()
    order = rng.permutation(len(classes))  # who gets the remainder is seeded too
    quota[order[:short]] += 1
    picked = [rng.choice(np.flatnonzero(y == c), size=q, replace=False) for c, q in zip(classes, quota)]
    idx = np.concatenate(picked)
    return torch.from_numpy(rng.permutation(idx))


def stratified_subset(images: Images, n: int, seed: int) -> Images:
    """A class-balanced random subset of n images, in random order, even when n is the whole set: the
    splits on disk are sorted by class, and a caller taking the first k must still get every class."""
    return images.take(stratified_indices(images.y, min(n, len(images)), seed))


# ---------------------------------------------------------------------------------------------
# Loaders


def mnist10k(path: Path = MNIST10K) -> tuple[Images, Images]:
    """The shipped 10k real MNIST sample, split once: 8,000 train / 2,000 validation, stratified."""
    if not Path(path).exists():
        raise DatasetMissing(f"{path} is missing: it ships with the repository (data/mnist10k.npz); "
                             "restore it with `git checkout -- data/mnist10k.npz`")
    with np.load(path) as d:
        full = _from_uint8(d["images"], d["labels"], "mnist10k", str(Path(path).relative_to(ROOT)
                                                                       if Path(path).is_relative_to(ROOT) else path))
    val_idx = stratified_indices(full.y, N_VAL, SPLIT_SEED)
    mask = torch.ones(len(full), dtype=torch.bool)
    mask[val_idx] = False
    train_idx = torch.nonzero(mask).squeeze(1)
    train_idx = train_idx[torch.randperm(len(train_idx), generator=torch.Generator().manual_seed(SPLIT_SEED))]
    train, val = full.take(train_idx), full.take(torch.sort(val_idx).values)
    return replace(train, name="mnist10k/train"), replace(val, name="mnist10k/val")


def _torchvision(cls, root: Path, train: bool, download: bool, how: str):
    try:
        return cls(root=str(root), train=train, download=download)
    except RuntimeError as err:  # torchvision: "Dataset not found or corrupted"
        raise DatasetMissing(how) from err


def mnist_full(root: Path = RAW, download: bool = False) -> tuple[Images, Images]:
    """Full MNIST (60k train / 10k test) through torchvision, from root/MNIST/raw."""
    from torchvision.datasets import MNIST

    how = (f"Full MNIST was not found under {root}/MNIST/raw. Online, run "
           "`python -m training.data get mnist` (torchvision downloads it there); offline, copy the four "
           "*-ubyte files into that folder. The shipped 10k sample is `dataset: mnist10k`.")
    out = []
    for train in (True, False):
        ds = _torchvision(MNIST, root, train, download, how)
        out.append(_from_uint8(ds.data.numpy(), ds.targets.numpy(), f"mnist/{'train' if train else 'test'}",
                               f"torchvision MNIST at {root}"))
    return out[0], out[1]


def cifar10(root: Path = RAW, download: bool = False) -> tuple[Images, Images]:
    """CIFAR-10 (50k train / 10k test): a torchvision ImageFolder tree at root/cifar10-jpeg/{train,test},
    or torchvision's own files at root/cifar-10-batches-py. Decoded once, then cached as a tensor file."""
    cache = root / "cifar10-cache.pt"
    tree = root / "cifar10-jpeg"
    if cache.exists():
        blob = torch.load(cache, weights_only=True)
        return (Images(blob["xtr"].float().div_(255), blob["ytr"], "cifar10/train", blob["source"]),
                Images(blob["xte"].float().div_(255), blob["yte"], "cifar10/test", blob["source"]))
    if (tree / "train").is_dir() and (tree / "test").is_dir():
        parts, source = [_image_folder(tree / s) for s in ("train", "test")], f"ImageFolder {tree}"
    else:
        from torchvision.datasets import CIFAR10

        how = (f"CIFAR-10 was not found. Expected an ImageFolder tree at {tree}/{{train,test}}/<class>/*.jpg "
               f"(e.g. `python -m training.data get cifar10 --from cifar10-jpeg.tar.gz`) or torchvision's files "
               f"at {root}/cifar-10-batches-py (online: `python -m training.data get cifar10`). The shipped "
               "700-image sample (smoke profile, tests) is `dataset: cifar10s`; it is not the full set.")
        parts, source = [], f"torchvision CIFAR10 at {root}"
        for train in (True, False):
            ds = _torchvision(CIFAR10, root, train, download, how)
            parts.append((torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous(),
                          torch.tensor(ds.targets, dtype=torch.int64)))
    (xtr, ytr), (xte, yte) = parts
    root.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    torch.save({"xtr": xtr, "ytr": ytr, "xte": xte, "yte": yte, "source": source}, tmp)
    tmp.replace(cache)
    return (Images(xtr.float().div_(255), ytr, "cifar10/train", source),
            Images(xte.float().div_(255), yte, "cifar10/test", source))


def cifar10_sample(path: Path = CIFAR10S) -> tuple[Images, Images]:
    """The shipped CIFAR-10 sample (500 train / 200 test, stratified): real images, far too few for the
    paper's numbers; the smoke profile and the tests run the CIFAR-10 code path on it. Never a stand-in
    for `cifar10`, which needs the full set in data/raw."""
    if not Path(path).exists():
        raise DatasetMissing(f"{path} is missing: it ships with the repository (data/cifar10s.npz); restore it with "
                             "`git checkout -- data/cifar10s.npz` or rebuild it with `python -m training.data sample "
                             "cifar10 --from cifar10-jpeg.tar.gz`")
    from torchvision.io import ImageReadMode, decode_jpeg

    source = str(Path(path).relative_to(ROOT) if Path(path).is_relative_to(ROOT) else path)
    out = []
    with np.load(path) as d:
        for split in ("train", "test"):
            jpeg, ends = torch.from_numpy(d[f"{split}_jpeg"]), d[f"{split}_ends"].tolist()
            starts = [0, *ends[:-1]]
            x = torch.stack(decode_jpeg([jpeg[a:b] for a, b in zip(starts, ends)], mode=ImageReadMode.RGB))
            y = torch.from_numpy(d[f"{split}_labels"].astype(np.int64))
            out.append(Images(x.float().div_(255), y, f"cifar10s/{split}", source))
    return out[0], out[1]


def sample_cifar10(archive: Path, dest: Path = CIFAR10S, seed: int = SPLIT_SEED) -> dict:
    """Write the CIFAR-10 sample from an ImageFolder archive (cifar10-jpeg.tar.gz): SAMPLE_PER_CLASS files
    of each class and split, drawn with `seed` from the sorted file names, kept as their original JPEG
    bytes. The same archive and seed give the same file, byte for byte. Returns the counts."""
    import io
    import zipfile

    rng = np.random.default_rng(seed)
    with tarfile.open(archive) as tar:
        members = {m.name.removeprefix("./"): m for m in tar.getmembers() if m.isfile()}
        arrays, counts = {}, {}
        for split, k in SAMPLE_PER_CLASS.items():
            picked = []
            for label, cls in enumerate(CIFAR_CLASSES):
                names = sorted(n for n in members if n.startswith(f"{split}/{cls}/") and n.endswith(".jpg"))
                if len(names) < k:
                    raise DatasetMissing(f"{archive} has {len(names)} images under {split}/{cls}/; the sample needs {k}")
                picked += [(names[i], label) for i in sorted(rng.choice(len(names), size=k, replace=False))]
            blobs = [tar.extractfile(members[n]).read() for n, _ in picked]
            arrays[f"{split}_jpeg"] = np.frombuffer(b"".join(blobs), dtype=np.uint8)
            arrays[f"{split}_ends"] = np.cumsum([len(b) for b in blobs]).astype(np.int64)  # image i: ends[i-1]:ends[i]
            arrays[f"{split}_labels"] = np.array([label for _, label in picked], dtype=np.uint8)
            arrays[f"{split}_files"] = np.array([n for n, _ in picked])  # provenance: the path in the archive
            counts[split] = len(picked)
    # np.savez stamps each member with the current time; fixed stamps keep the file's sha256 reproducible
    tmp = Path(dest).with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, arr, allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue(),
                        compress_type=zipfile.ZIP_DEFLATED)
    tmp.replace(dest)
    return counts


def _image_folder(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    from torchvision.datasets import ImageFolder
    from torchvision.io import ImageReadMode, decode_image

    folder = ImageFolder(str(path), loader=lambda p: p)  # paths only; decoded below without PIL
    if tuple(folder.classes) != CIFAR_CLASSES:
        raise DatasetMissing(f"{path} has classes {folder.classes}; expected the CIFAR-10 classes {CIFAR_CLASSES}")
    x = torch.stack([decode_image(p, mode=ImageReadMode.RGB) for p, _ in folder.samples])
    y = torch.tensor([t for _, t in folder.samples], dtype=torch.int64)
    return x, y  # uint8 (N, 3, 32, 32), int64 (N,)


def load(name: str, *, download: bool = False, root: Path = RAW) -> tuple[Images, Images]:
    """(train, validation) for one of DATASETS. Validation is the held-out split or the test set."""
    if name == "mnist10k":
        return mnist10k()
    if name == "mnist":
        return mnist_full(root, download)
    if name == "cifar10":
        return cifar10(root, download)
    if name == "cifar10s":
        return cifar10_sample()
    raise ValueError(f"dataset = {name!r} is not known; allowed: {', '.join(DATASETS)}")


def downscale(images: Images, size: int) -> Images:
    """Resize to size x size (antialiased), e.g. 14x14 MNIST for the loss-sensitivity experiment."""
    from torchvision.transforms.v2 import functional as TF  # imported on first use, like engine.augment_batch

    x = TF.resize(images.x, [size, size], antialias=True).clamp_(0, 1)
    return replace(images, x=x, name=f"{images.name}@{size}px")


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Corruptions (training data only; validation data is never corrupted)


def rand_labels(y: torch.Tensor, p: float, n_classes: int, seed: int):
    """randY: a fraction p of the examples get a label drawn uniformly from the classes.

    Returns (labels, corrupted, changed): `corrupted` marks the examples whose label was redrawn,
    `changed` those whose redrawn label differs from the true one (about p * (1 - 1/K) of all).
    """
    _check_p(p)
    g = torch.Generator().manual_seed(seed)
    n = len(y)
    corrupted = torch.zeros(n, dtype=torch.bool)
    corrupted[torch.randperm(n, generator=g)[: round(p * n)]] = True
    labels = y.clone()
    labels[corrupted] = torch.randint(0, n_classes, (int(corrupted.sum()),), generator=g)
    return labels, corrupted, labels != y


def rand_inputs(x: torch.Tensor, p: float, seed: int, mean: torch.Tensor, std: torch.Tensor):
    """randX: a fraction p of the images are replaced by i.i.d. Gaussian pixels with the data's
    per-channel mean and std (not clipped, as in the paper). Returns (images, corrupted)."""
    _check_p(p)
    g = torch.Generator().manual_seed(seed)
    n = len(x)
    corrupted = torch.zeros(n, dtype=torch.bool)
    corrupted[torch.randperm(n, generator=g)[: round(p * n)]] = True
    out = x.clone()
    k = int(corrupted.sum())
    noise = torch.randn((k, *x.shape[1:]), generator=g)
    out[corrupted] = noise * std.view(1, -1, 1, 1) + mean.view(1, -1, 1, 1)
    return out, corrupted


def own_class_labels(n: int) -> torch.Tensor:
    """E2's second panel: every example is its own class (n classes)."""
    return torch.arange(n, dtype=torch.int64)


def _check_p(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"noise fraction p = {p} is out of range; allowed: 0 ≤ p ≤ 1")


@dataclass(frozen=True)
class Corruption:
    """How one run's training set is corrupted: kind in {'none', 'randY', 'randX'}, fraction p,
    and the seed of the draw (runs that share it see the same corrupted data set)."""

    kind: str = "none"
    p: float = 0.0
    seed: int = 0


def corrupt(train: Images, c: Corruption):
    """Apply one corruption. Returns (x, given_labels, corrupted_mask)."""
    if c.kind == "none" or c.p == 0:
        return train.x, train.y, torch.zeros(len(train), dtype=torch.bool)
    if c.kind == "randY":
        labels, corrupted, _ = rand_labels(train.y, c.p, train.n_classes, c.seed)
        return train.x, labels, corrupted
    if c.kind == "randX":
        mean, std = train.pixel_stats()
        x, corrupted = rand_inputs(train.x, c.p, c.seed, mean, std)
        return x, train.y, corrupted
    raise ValueError(f"corruption kind = {c.kind!r} is not known; allowed: 'none', 'randY', 'randX'")


# ---------------------------------------------------------------------------------------------
# Command line: fetch the raw datasets into data/raw (online download, or an offline copy)


def main(argv=None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description="get: put full MNIST or CIFAR-10 into data/raw/; "
                                 "sample: rebuild data/cifar10s.npz from a cifar10-jpeg.tar.gz")
    ap.add_argument("command", choices=["get", "sample"])
    ap.add_argument("dataset", choices=["mnist", "cifar10"])
    ap.add_argument("--from", dest="src", help="an offline cifar10-jpeg.tar.gz (ImageFolder layout) to unpack")
    args = ap.parse_args(argv)
    if args.command == "sample":
        if args.dataset != "cifar10" or not args.src:
            ap.error("sample: only `sample cifar10 --from cifar10-jpeg.tar.gz`")
        counts = sample_cifar10(Path(args.src))
        print(f"wrote {CIFAR10S}: {counts['train']} train / {counts['test']} test images, sha256 {sha256(CIFAR10S)}")
        return
    RAW.mkdir(parents=True, exist_ok=True)
    if args.src:
        dest = RAW / "cifar10-jpeg"
        with tarfile.open(args.src) as tar:
            tar.extractall(dest, filter="data")
        print(f"unpacked {args.src} into {dest}")
    train, val = load(args.dataset, download=not args.src)
    print(f"{args.dataset}: {len(train)} train / {len(val)} test images ready in {RAW}")


if __name__ == "__main__":
    main()
