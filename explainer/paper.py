"""The paper's own numbers (Arpit et al., 2017), drawn beside ours as grey reference marks, and what each of
its figures plots (`FIGURES`, told in our own words for the "Paper figures" page).

Values marked ≈ in docs/PAPER.md were read off the paper's plots (about ±0.01). They describe the
paper's setup (full MNIST / CIFAR-10, 4096-unit MLPs, 100+ epochs), not our CPU profile, so charts
label them "paper (≈)" and the prose compares shapes and directions, not digits.
"""
from __future__ import annotations

from typing import NamedTuple

import pandas as pd

CITATION = "Arpit et al., A Closer Look at Memorization in Deep Networks, ICML 2017 (arXiv:1706.05394)"
LINK = "https://arxiv.org/abs/1706.05394"

# E5, Fig. 7 (its right panels): MNIST MLP, randY, validation critical sample ratio once it has levelled off.
CSR_MNIST_RANDY = pd.DataFrame({"kind": "randY", "p": [0.0, 0.2, 0.4, 0.6, 0.8],
                                "csr": [0.004, 0.09, 0.20, 0.31, 0.38]})

# E5, Fig. 9: CIFAR-10 CNN, validation CSR with 100 % noise (real ≈ .20, randX ≈ .76, randY ≈ .74 by epoch 140).
CSR_CIFAR = pd.DataFrame({"kind": ["none", "randX", "randY"], "p": [0.0, 1.0, 1.0], "csr": [0.20, 0.76, 0.74]})

# E5, Fig. 7 (as the scoreboard cites it): MNIST randY validation accuracy, best (early) and after 100 epochs.
VAL_MNIST_RANDY = pd.DataFrame({"kind": "randY", "p": [0.2, 0.8], "best_val_acc": [0.975, 0.91],
                                "final_val_acc": [0.89, 0.33]})

# E3, Fig. 5: best validation accuracy of the 4096-unit MLP per noise level.
CAPACITY_4096 = pd.DataFrame({"kind": ["randX"] * 5 + ["randY"] * 5, "p": [0.0, 0.2, 0.4, 0.6, 0.8] * 2,
                              "width": 4096,
                              "best_val_acc": [0.982, 0.981, 0.978, 0.974, 0.965, 0.982, 0.972, 0.966, 0.952, 0.915]})

# E4, Fig. 6 left: epochs to fit with 4096 units relative to 256 units.
CONVERGENCE_WIDTH_RATIO = pd.DataFrame({"p": [0.0, 1.0], "ratio_4096_to_256": [0.815, 0.405]})
# E4, Fig. 6 right (input noise only): normalised epochs at n = 50,000 relative to the smallest set, clean data;
# with noise, the range over p = .2 ... 1 at 50,000 examples and the peak range (at 3,125 examples).
CONVERGENCE_SIZE_CLEAN_50K = 0.66
CONVERGENCE_SIZE_NOISY_50K = (1.27, 2.14)
CONVERGENCE_SIZE_NOISY_PEAK = (1.95, 2.51)

# E2, Fig. 3: Gini coefficient of the loss-sensitivity at 100k steps.
GINI_100K = pd.DataFrame({"condition": ["real", "50% real", "random inputs"], "gini": [0.64, 0.44, 0.25]})

# E1, Fig. 1: typical P(correct) after one epoch.
EASY_HARD = {"randX": 0.1, "randY_upper_tail": 0.3}

# E6, Fig. 11: randY training accuracy after 100 epochs, per regularizer.
REG_RANDY_TRAIN_ACC = pd.DataFrame({
    "regularizer": ["none", "weight_decay", "hidden_noise", "input_noise", "dropout", "input_dropout", "adversarial"],
    "train_acc": [0.99, 0.99, 0.94, 0.74, 0.72, 0.67, 0.51]})
# E6, Fig. 10: best clean validation accuracy reachable while randY training accuracy stays below x.
REG_FRONTIER = pd.DataFrame({"regularizer": ["adversarial", "dropout"], "x": [0.10, 0.16], "best_val_acc": [0.763, 0.763]})


def _v(x: float) -> str:
    """0.915 -> '.915', 0.2 -> '.2' (the paper's values as its plots give them)."""
    return f"{x:g}".lstrip("0") if 0 < x < 1 else f"{x:g}"


def _levels(values) -> str:
    return " / ".join(map(_v, values))


def _by(df: pd.DataFrame, key: str, value: str, names: dict | None = None) -> str:
    return ", ".join(f"{(names or {}).get(k, k)} {_v(v)}" for k, v in zip(df[key], df[value]))


class Figure(NamedTuple):
    number: int
    title: str
    experiment: str
    page: str        # the story chapter that tells it
    plotted: str     # what the paper drew, in our words
    numbers: str     # what it reads, in our words (≈: read off the plot)


_KIND = {"none": "real", "randX": "random inputs", "randY": "random labels"}
_REG = {"none": "none", "weight_decay": "weight decay", "hidden_noise": "hidden noise", "input_noise": "input noise",
        "dropout": "dropout", "input_dropout": "input dropout", "adversarial": "adversarial + dropout"}
_RX = CAPACITY_4096[CAPACITY_4096["kind"] == "randX"]["best_val_acc"]
_RY = CAPACITY_4096[CAPACITY_4096["kind"] == "randY"]["best_val_acc"]

FIGURES = [
    Figure(1, "Easy and hard examples", "E1", "chapters/04_experiment_time.py",
           "One MLP trained for a single epoch a hundred times, each from a fresh start. For each of 1,000 training "
           "examples: the share of runs that classify it correctly. The examples are sorted by that share, one curve "
           "for real data, one for random inputs, one for random labels, and a binomial curve of pure chance at the "
           "random-input mean.",
           f"Real data covers the whole range, from examples no run gets right to examples every run gets right; "
           f"random inputs follow the binomial curve near ≈ {EASY_HARD['randX']:g}; random labels have a slightly "
           f"fatter easy tail, up to ≈ {EASY_HARD['randY_upper_tail']:g}. (CIFAR-10 in the paper.)"),
    Figure(3, "Loss-sensitivity: a few examples or all of them", "E2", "chapters/07_memorization_vs_generalization.py",
           "A 2 × 16 MLP on 1,000 digits shrunk to 14 × 14 pixels. For each training example: how much the training "
           "loss after t SGD steps changes with that example (the gradient through the unrolled steps), averaged "
           "over steps; then the Gini coefficient of those values across the examples, over training, for real "
           "data, half real data and random inputs.",
           "All three start near a Gini of 0.2 and dip; after 100,000 steps ≈ " + _by(GINI_100K, "condition", "gini")
           + ": on real data a minority of examples carries most of the sensitivity."),
    Figure(4, "Which classes teach which", "E2", "chapters/07_memorization_vs_generalization.py",
           "The same sensitivity summed class by class: a 10 × 10 map of how much the loss on one class depends on "
           "the training examples of each class.",
           "No numbers, a picture: for real data a good part of the mass lies off the diagonal (examples of one "
           "digit help with others); for random inputs it stays on the diagonal."),
    Figure(5, "Capacity needed under noise", "E3", "chapters/03_factors.py",
           "MLPs from 4 to 4,096 units per layer on MNIST with a share p = 0 to 0.8 of the training examples "
           "corrupted (random inputs in one panel, random labels in the other); the best validation accuracy "
           "reached during training, per width.",
           f"At 4,096 units, p = 0 to 0.8: random inputs ≈ {_levels(_RX)}, random labels ≈ {_levels(_RY)}. Clean "
           "data levels off by 256–1,024 units; with noise the curves are still rising at 4,096."),
    Figure(6, "Time to fit", "E4", "chapters/03_factors.py",
           "Epochs until training accuracy reaches 100 %, relative to a reference setting. Left: widths 256 to "
           "4,096 at 50,000 examples, per share of random inputs. Right: 180 to 50,000 examples at 4,096 units.",
           f"4,096 units need ≈ {CONVERGENCE_WIDTH_RATIO.iloc[0, 1]:g}× the 256-unit time on clean data but only "
           f"≈ {CONVERGENCE_WIDTH_RATIO.iloc[1, 1]:g}× at p = 1; with 50,000 examples clean data needs "
           f"≈ {CONVERGENCE_SIZE_CLEAN_50K:g}× the time of the smallest set, data with noisy inputs "
           f"≈ {CONVERGENCE_SIZE_NOISY_50K[0]:g}–{CONVERGENCE_SIZE_NOISY_50K[1]:g}× (p = .2 to 1; the peak, "
           f"≈ {CONVERGENCE_SIZE_NOISY_PEAK[0]:g}–{CONVERGENCE_SIZE_NOISY_PEAK[1]:g}×, comes at 3,125 examples)."),
    Figure(7, "Patterns first, noise later: accuracy and critical samples, MNIST", "E5",
           "chapters/08_training_time.py",
           "MNIST MLPs trained on partly random labels or partly random inputs (p = 0 to 0.8): training and "
           "validation accuracy per epoch, and (right panels) the critical sample ratio: the share of validation "
           "points that a small nudge (each pixel within ±0.3/255, found by a Langevin adversarial search) moves "
           "to another predicted class.",
           "With random labels validation accuracy peaks in the first epochs and then falls while the noisy labels "
           "get fitted: " + "; ".join(f"p = {p:g}: ≈ {_v(b)} at best, {_v(f)} after 100 epochs" for p, b, f in zip(
               VAL_MNIST_RANDY["p"], VAL_MNIST_RANDY["best_val_acc"], VAL_MNIST_RANDY["final_val_acc"]))
           + ". Random inputs barely hurt (final ≈ .985 clean, ≈ .970 at p = 0.8). The critical sample ratio "
           "climbs with the share of random labels and levels off at ≈ " + _levels(CSR_MNIST_RANDY["csr"])
           + " for p = 0 to 0.8."),
    Figure(8, "Partial noise on CIFAR-10", "E5", "chapters/07_memorization_vs_generalization.py",
           "The CIFAR-10 CNN with 20 to 80 % of its inputs or labels replaced: training and validation accuracy and "
           "the critical sample ratio per epoch, as Fig. 7 does for MNIST.",
           "The same picture as on MNIST: validation accuracy peaks early under label noise, and the critical "
           "sample ratio rises with the share of noise."),
    Figure(9, "Critical sample ratio, CIFAR-10", "E5", "chapters/07_memorization_vs_generalization.py",
           "The same measurement through training of the CIFAR-10 CNN on real data, on random inputs and on random "
           "labels (all examples corrupted).",
           "≈ " + _by(CSR_CIFAR, "kind", "csr", _KIND) + " (random labels climbing there by epoch 140): fitting "
           "noise bends the decision boundary around far more points."),
    Figure(10, "Regularizers: less memorized, still generalizing", "E6", "chapters/05_regularization.py",
           "The CIFAR-10 CNN trained with each of six regularizers at many strengths, once on real and once on "
           "random labels. For every level x: the best clean validation accuracy of any setting whose random-label "
           "training accuracy stays at or below x.",
           "Adversarial training + dropout keeps ≈ .763 clean accuracy while fitting only ≈ 10 % of the random "
           "labels, dropout alone from ≈ 16 %; weight decay tops out near .72–.74; the noise regularizers and input "
           "dropout reach good clean accuracy only once most random labels are fitted."),
    Figure(11, "Regularizers against random labels, over time", "E6", "chapters/05_regularization.py",
           "Training accuracy on random labels per epoch over 100 epochs of the CIFAR-10 CNN, one curve per "
           "regularizer.",
           "After 100 epochs ≈ " + _by(REG_RANDY_TRAIN_ACC, "regularizer", "train_acc", _REG)
           + "; with adversarial training the network stays at chance until about epoch 40."),
]
