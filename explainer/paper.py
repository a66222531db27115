"""The paper's own numbers (Arpit et al., 2017), drawn beside ours as grey reference marks.

Values marked ≈ in docs/PAPER.md were read off the paper's plots (about ±0.01). They describe the
paper's setup (full MNIST / CIFAR-10, 4096-unit MLPs, 100+ epochs), not our CPU profile, so charts
label them "paper (≈)" and the prose compares shapes and directions, not digits.
"""
from __future__ import annotations

import pandas as pd

CITATION = "Arpit et al., A Closer Look at Memorization in Deep Networks, ICML 2017 (arXiv:1706.05394)"
LINK = "https://arxiv.org/abs/1706.05394"

# E5, Fig. 7: MNIST MLP, randY, validation critical sample ratio once it has levelled off.
CSR_MNIST_RANDY = pd.DataFrame({"kind": "randY", "p": [0.0, 0.2, 0.4, 0.6, 0.8],
                                "csr": [0.004, 0.09, 0.20, 0.31, 0.38]})

# E5, Fig. 9: CIFAR-10 CNN, validation CSR with 100 % noise (real ≈ .20, randX ≈ .76, randY ≈ .74 by epoch 140).
CSR_CIFAR = pd.DataFrame({"kind": ["none", "randX", "randY"], "p": [0.0, 1.0, 1.0], "csr": [0.20, 0.76, 0.74]})

# E5, Fig. 8: MNIST randY validation accuracy, best (early) and after 100 epochs.
VAL_MNIST_RANDY = pd.DataFrame({"kind": "randY", "p": [0.2, 0.8], "best_val_acc": [0.975, 0.91],
                                "final_val_acc": [0.89, 0.33]})

# E3, Fig. 5: best validation accuracy of the 4096-unit MLP per noise level.
CAPACITY_4096 = pd.DataFrame({"kind": ["randX"] * 5 + ["randY"] * 5, "p": [0.0, 0.2, 0.4, 0.6, 0.8] * 2,
                              "width": 4096,
                              "best_val_acc": [0.982, 0.981, 0.978, 0.974, 0.965, 0.982, 0.972, 0.966, 0.952, 0.915]})

# E4, Fig. 6 left: epochs to fit with 4096 units relative to 256 units.
CONVERGENCE_WIDTH_RATIO = pd.DataFrame({"p": [0.0, 1.0], "ratio_4096_to_256": [0.815, 0.405]})
# E4, Fig. 6 right: clean data's normalised epochs at n = 50,000 (relative to the smallest set).
CONVERGENCE_SIZE_CLEAN_50K = 0.66
CONVERGENCE_SIZE_NOISY_GROWTH = (2.0, 2.5)

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
