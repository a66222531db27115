"""Datasets, the fixed split, subsets, downscaling and the paper's corruptions."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from training import data as D


def test_mnist10k_shapes_dtypes_and_range(mnist):
    train, val = mnist
    assert (len(train), len(val)) == (8000, 2000)
    for part in (train, val):
        assert part.x.shape[1:] == (1, 28, 28) and part.x.dtype == torch.float32
        assert part.y.dtype == torch.int64 and part.index.dtype == torch.int64
        assert 0.0 <= part.x.min() and part.x.max() <= 1.0
        assert set(part.y.unique().tolist()) == set(range(10))
    assert train.name == "mnist10k/train" and val.name == "mnist10k/val"


def test_mnist10k_split_is_fixed_disjoint_and_stratified(mnist):
    train, val = mnist
    again_train, again_val = D.mnist10k()
    assert torch.equal(train.index, again_train.index) and torch.equal(val.index, again_val.index)
    assert torch.equal(train.x, again_train.x) and torch.equal(val.y, again_val.y)
    tr, va = set(train.index.tolist()), set(val.index.tolist())
    assert not tr & va and len(tr | va) == 10000
    # each class is held out in proportion to its share of the 10k digits (the quota floors, +1 for some)
    counts = np.bincount(np.concatenate([train.y.numpy(), val.y.numpy()]), minlength=10)
    held = np.bincount(val.y.numpy(), minlength=10)
    assert np.all(np.abs(held - counts * 0.2) <= 1)


def test_index_points_back_at_the_source_file(mnist):
    train, _ = mnist
    with np.load(D.MNIST10K) as d:
        images, labels = d["images"], d["labels"]
    pick = train.index[:50].numpy()
    assert np.array_equal(labels[pick], train.y[:50].numpy())
    assert np.allclose(images[pick].reshape(50, -1) / 255.0, train.x[:50].reshape(50, -1).numpy(), atol=1e-6)


def test_stratified_subset_keeps_class_proportions_and_is_seeded(mnist):
    train, _ = mnist
    sub = D.stratified_subset(train, 1000, seed=3)
    assert len(sub) == 1000 and len(set(sub.index.tolist())) == 1000
    full = np.bincount(train.y.numpy(), minlength=10) / len(train)
    part = np.bincount(sub.y.numpy(), minlength=10) / len(sub)
    assert np.all(np.abs(part - full) <= 1.5 / 1000)
    assert torch.equal(sub.index, D.stratified_subset(train, 1000, seed=3).index)
    assert not torch.equal(sub.index, D.stratified_subset(train, 1000, seed=4).index)
    assert set(sub.index.tolist()) <= set(train.index.tolist())
    every = D.stratified_subset(train, 10**6, seed=0)              # more than there is: all of it, shuffled
    assert sorted(every.index.tolist()) == sorted(train.index.tolist())
    assert not torch.equal(every.index, train.index)
    with pytest.raises(ValueError, match="subset size"):
        D.stratified_indices(train.y, 0, seed=0)


def test_downscale_to_14px(mnist):
    _, val = mnist
    small = D.downscale(val.take(torch.arange(64)), 14)
    assert small.x.shape == (64, 1, 14, 14) and small.x.dtype == torch.float32
    assert 0.0 <= small.x.min() and small.x.max() <= 1.0
    assert torch.equal(small.y, val.y[:64]) and small.name.endswith("@14px")
    # the mean ink is kept roughly (antialiased area resize)
    assert abs(small.x.mean() - val.x[:64].mean()) < 0.02


@pytest.mark.parametrize("p", [0.0, 0.25, 0.5, 1.0])
def test_rand_labels_fraction_and_masks(mnist, p):
    y = mnist[0].y
    labels, corrupted, changed = D.rand_labels(y, p, 10, seed=1)
    assert int(corrupted.sum()) == round(p * len(y))
    assert not (changed & ~corrupted).any()                      # only redrawn labels can change
    assert torch.equal(labels[~corrupted], y[~corrupted])
    assert torch.equal(changed, labels != y)
    assert labels.min() >= 0 and labels.max() <= 9
    share = changed.float().mean().item()
    assert abs(share - p * (1 - 1 / 10)) < 0.015                 # a redraw keeps the true label 1 time in 10
    again = D.rand_labels(y, p, 10, seed=1)[0]
    assert torch.equal(labels, again)


def test_rand_labels_rejects_bad_p(mnist):
    with pytest.raises(ValueError, match="0 ≤ p ≤ 1"):
        D.rand_labels(mnist[0].y, 1.2, 10, seed=0)
    with pytest.raises(ValueError, match="0 ≤ p ≤ 1"):
        D.rand_inputs(mnist[0].x[:10], -0.1, 0, torch.zeros(1), torch.ones(1))


def test_rand_inputs_fraction_and_noise_statistics(mnist):
    train = mnist[0]
    mean, std = train.pixel_stats()
    x, corrupted = D.rand_inputs(train.x, 0.3, seed=2, mean=mean, std=std)
    assert int(corrupted.sum()) == round(0.3 * len(train))
    assert torch.equal(x[~corrupted], train.x[~corrupted])
    noise = x[corrupted]
    assert not torch.equal(noise, train.x[corrupted])
    assert abs(noise.mean() - mean[0]) < 0.005 and abs(noise.std() - std[0]) < 0.005
    assert noise.min() < 0 and noise.max() > 1                   # Gaussian, not clipped (as in the paper)


def test_corrupt_dispatch_and_own_class_labels(mnist):
    train = mnist[0].take(torch.arange(500))
    x, y, mask = D.corrupt(train, D.Corruption())
    assert x is train.x and y is train.y and not mask.any()
    x, y, mask = D.corrupt(train, D.Corruption("randY", 0.4, 0))
    assert x is train.x and int(mask.sum()) == 200 and torch.equal(y[~mask], train.y[~mask])
    x, y, mask = D.corrupt(train, D.Corruption("randX", 0.4, 0))
    assert y is train.y and int(mask.sum()) == 200 and not torch.equal(x, train.x)
    with pytest.raises(ValueError, match="randY"):
        D.corrupt(train, D.Corruption("flip", 0.4, 0))
    assert torch.equal(D.own_class_labels(5), torch.arange(5))


def test_missing_datasets_raise_a_clear_error(tmp_path):
    with pytest.raises(D.DatasetMissing) as err:
        D.load("cifar10", root=tmp_path)
    assert str(tmp_path / "cifar10-jpeg") in str(err.value) and "`dataset: cifar10s`; it is not the full set" in str(err.value)
    with pytest.raises(D.DatasetMissing) as err:
        D.load("mnist", root=tmp_path)
    assert str(tmp_path / "MNIST" / "raw") in str(err.value)
    with pytest.raises(D.DatasetMissing, match="mnist10k.npz"):
        D.mnist10k(tmp_path / "mnist10k.npz")
    with pytest.raises(ValueError, match="allowed: mnist10k, mnist, cifar10, cifar10s"):
        D.load("imagenet")
    with pytest.raises(D.DatasetMissing, match="cifar10s.npz"):
        D.cifar10_sample(tmp_path / "cifar10s.npz")


def test_the_cifar10_sample_ships_stratified_and_never_stands_in_for_cifar10(tmp_path):
    train, test = D.load("cifar10s")
    assert (len(train), len(test)) == D.SIZES["cifar10s"][1:] == (500, 200)
    for part, per_class in ((train, 50), (test, 20)):
        assert part.x.shape[1:] == (3, 32, 32) and part.x.dtype == torch.float32 and part.y.dtype == torch.int64
        assert 0.0 <= part.x.min() and part.x.max() <= 1.0 and part.x.std() > 0.1  # real photos, not blank
        assert np.bincount(part.y.numpy(), minlength=10).tolist() == [per_class] * 10
    assert (train.name, test.name, train.source) == ("cifar10s/train", "cifar10s/test", "data/cifar10s.npz")
    with np.load(D.CIFAR10S) as d:  # every image names its file in the archive, whose folder is its class
        for split, part in (("train", train), ("test", test)):
            files = d[f"{split}_files"]
            assert len(set(files)) == len(part)
            assert all(f.split("/")[:2] == [split, D.CIFAR_CLASSES[c]] for f, c in zip(files, part.y.tolist()))
    with pytest.raises(D.DatasetMissing, match="cifar10-jpeg"):  # the full set is asked for by its own name
        D.load("cifar10", root=tmp_path)


def test_the_cifar10_sample_rebuilds_byte_for_byte_from_an_archive(tmp_path):
    """`python -m training.data sample` on an ImageFolder archive: here one holding exactly the sample's own
    files (real JPEG bytes), so every file is drawn and the rebuilt npz must equal the shipped one."""
    import io
    import tarfile

    with np.load(D.CIFAR10S) as d, tarfile.open(tmp_path / "cifar.tar.gz", "w:gz") as tar:
        for split in ("train", "test"):
            jpeg, ends = d[f"{split}_jpeg"].tobytes(), d[f"{split}_ends"].tolist()
            for name, a, b in zip(d[f"{split}_files"], [0, *ends[:-1]], ends):
                info = tarfile.TarInfo(str(name))
                info.size = b - a
                tar.addfile(info, io.BytesIO(jpeg[a:b]))
    counts = D.sample_cifar10(tmp_path / "cifar.tar.gz", tmp_path / "again.npz")
    assert counts == {"train": 500, "test": 200}
    assert D.sha256(tmp_path / "again.npz") == D.sha256(D.CIFAR10S)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torchvision.io, once per file decoded here
def test_the_cifar10_sample_decodes_to_the_full_sets_pixels():
    """The sample keeps the archive's JPEG bytes, so its pixels are the full set's, image for image."""
    from torchvision.io import ImageReadMode, decode_image

    tree = D.RAW / "cifar10-jpeg"
    if not (tree / "train").is_dir():
        pytest.skip(f"full CIFAR-10 is not unpacked at {tree} (`python -m training.data get cifar10 --from "
                    "cifar10-jpeg.tar.gz`, or online `python -m training.data get cifar10`)")
    train, test = D.load("cifar10s")
    with np.load(D.CIFAR10S) as d:
        for split, part in (("train", train), ("test", test)):
            for i, name in enumerate(d[f"{split}_files"]):
                assert torch.equal(decode_image(str(tree / name), mode=ImageReadMode.RGB).float() / 255, part.x[i])


def test_a_subset_as_large_as_its_split_is_shuffled_and_has_every_class(mnist):
    """The 10k sample's validation split is sorted by class on disk; a stage that takes the first k of a
    subset (E5's CSR points at n_val = the whole split) must still see every class."""
    _, val = mnist
    assert val.y[:100].unique().numel() < 10                         # the split itself: sorted by class
    whole = D.stratified_subset(val, len(val), 0)
    assert len(whole) == len(val) and sorted(whole.index.tolist()) == sorted(val.index.tolist())
    assert whole.y[:100].unique().numel() == 10
    assert torch.equal(whole.y, D.stratified_subset(val, len(val), 0).y)  # seeded
    assert not torch.equal(whole.y, D.stratified_subset(val, len(val), 1).y)
