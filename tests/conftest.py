"""Shared fixtures: the shipped MNIST sample (loaded once), small stratified subsets of it, helpers to
build RunSpecs and compare training histories, and the app server and browser of the real-browser tests."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `pytest` from anywhere imports training/ from this checkout
    sys.path.insert(0, str(ROOT))

import browserkit  # noqa: E402  (tests/ is on sys.path: pytest's rootdir-relative conftest import)
from training import data as D  # noqa: E402
from training.config import AugmentConfig, ModelConfig, RunSpec, TrainConfig  # noqa: E402

# Every tensor in the tests is tiny: one thread avoids OpenMP's hand-offs (tens of times slower on a
# busy 2-core machine) and keeps float summation order the same on any machine.
torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    """Every browser or pipeline test is also slow, so `pytest -m "not slow"` leaves them all out (the
    markers are registered in pytest.ini)."""
    for item in items:
        if item.get_closest_marker("browser") or item.get_closest_marker("pipeline"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def mnist():
    """(train, val) of the shipped 10k sample: 8,000 / 2,000 real digits."""
    return D.mnist10k()


@pytest.fixture(scope="session")
def small(mnist):
    """A 300-digit training subset and a 100-digit validation subset (stratified, seed 0)."""
    train, val = mnist
    return D.stratified_subset(train, 300, 0), D.stratified_subset(val, 100, 0)


@pytest.fixture(scope="module")
def server():
    """The story app on a free localhost port, one per test module (see tests/browserkit.py)."""
    with browserkit.streamlit_server() as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Headless system Chromium, one per test module."""
    with browserkit.chromium() as b:
        yield b


@pytest.fixture(scope="session")
def axe() -> str:
    """axe-core's script (the version package.json pins), installed by `npm ci` on first use, so the README's
    plain `pytest` runs the accessibility scan; the tests that need it skip, saying why, without npm."""
    why = browserkit.install_axe()
    if why:
        pytest.skip(why)
    return str(browserkit.AXE)


@pytest.fixture
def float64():
    """Run a test with float64 as the default dtype (restored afterwards)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def as_double(images: D.Images) -> D.Images:
    return dataclasses.replace(images, x=images.x.double())


def spec(seed: int = 0, model: dict | None = None, **train) -> RunSpec:
    """A small RunSpec: an MLP 784-64-64-10 trained by SGD unless told otherwise."""
    m = {"width": 64, "depth": 2, **(model or {})}
    t = {"optimizer": "sgd", "lr": 0.05, "momentum": 0.9, "batch_size": 50, "epochs": 2, **train}
    t["augment"] = AugmentConfig(**t.get("augment", {}))
    return RunSpec(seed=seed, model=ModelConfig(**m), train=TrainConfig(**t))


def scores(frame: pd.DataFrame) -> pd.DataFrame:
    """A history frame without the columns that legitimately differ between runs (wall clock, run index)."""
    return frame.drop(columns=["seconds", "run"]).reset_index(drop=True)
