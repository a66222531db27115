"""The trainer: fitting random labels, reproducibility, K batched runs = K separate runs, clean
validation, deadlines and stop flags, per-example tracking, augmentation and adversarial training
(critical samples only, one dropout mask for the clean and the adversarial pass)."""
from __future__ import annotations

import dataclasses
import time

import pandas as pd
import pytest
import torch

from conftest import as_double, scores, spec
from training import data as D
from training import engine as E
from training.metrics import epochs_to_fit

FRAME_COLUMNS = ["run", "seed", "epoch", "lr", "train_loss", "train_acc", "train_acc_clean", "train_acc_corrupted",
                 "train_acc_true", "val_loss", "val_acc", "seconds"]


def fit(specs, train, val, corruptions=None, **kw):
    corruptions = corruptions or [D.Corruption()] * len(specs)
    return E.fit(specs, E.make_train_set(train, corruptions), val, **kw)


def test_history_frame_shape_and_columns(small):
    train, val = small
    hist = fit([spec(0), spec(1)], train, val, [D.Corruption("randY", 0.5, 0)] * 2)
    f = hist.frame
    assert set(FRAME_COLUMNS) <= set(f.columns) and list(f.columns[:3]) == ["run", "seed", "epoch"]
    assert len(f) == 2 * 3 and sorted(f["epoch"].unique()) == [0, 1, 2]
    assert f["seed"].tolist() == [0, 1] * 3 and hist.stopped == ""
    assert f[["train_acc", "val_acc", "train_acc_clean", "train_acc_corrupted"]].stack().between(0, 1).all()
    assert (f.loc[f.epoch == 2, "train_acc"] > f.loc[f.epoch == 0, "train_acc"].values).all()
    assert hist.model.k == 2 and not hist.model.training


def test_mlp_fits_200_random_labels(mnist):
    train = D.stratified_subset(mnist[0], 200, 0)
    val = D.stratified_subset(mnist[1], 50, 0)
    s = spec(0, {"width": 256}, optimizer="adam", lr=3e-3, momentum=0.0, epochs=30)
    hist = fit([s], train, val, [D.Corruption("randY", 1.0, 7)])
    last = hist.frame.iloc[-1]
    assert last["train_acc"] == 1.0                                  # every random label memorised
    assert last["train_acc_corrupted"] == 1.0 and pd.isna(last["train_acc_clean"])
    assert last["train_acc_true"] < 0.3                              # ...which says nothing about the digits
    assert epochs_to_fit(hist.frame).iloc[0] <= 30


def test_same_seed_same_history(small):
    train, val = small
    s = spec(4, {"dropout": 0.2, "input_noise": 0.1}, weight_decay=1e-3)
    a = fit([s], train, val, [D.Corruption("randY", 0.3, 1)])
    b = fit([s], train, val, [D.Corruption("randY", 0.3, 1)])
    pd.testing.assert_frame_equal(scores(a.frame), scores(b.frame))
    c = fit([dataclasses.replace(s, seed=5)], train, val, [D.Corruption("randY", 0.3, 1)])
    assert not scores(a.frame).equals(scores(c.frame))


def mixed_specs(arch: str):
    """Three runs that may share one batched model: other seeds, dropout, noise, weight decay, augmentation."""
    model = {"arch": arch, "filters": 4, "dense": (16, 8), "crop": 2}
    return [spec(0, model),
            spec(1, {**model, "dropout": 0.3, "input_dropout": 0.1}, weight_decay=1e-3),
            spec(2, {**model, "input_noise": 0.2, "hidden_noise": 0.1},
                 augment={"rotation": 10.0, "pixel_noise": 0.05})]


def assert_batched_equals_separate(specs, train, val, corruptions, atol):
    together = fit(specs, train, val, corruptions).frame
    for i, s in enumerate(specs):
        alone = fit([s], train, val, [corruptions[i]]).frame
        a, b = scores(together[together.run == i]), scores(alone)
        pd.testing.assert_frame_equal(a, b, check_exact=False, atol=atol, rtol=0)


def test_k_batched_mlp_runs_match_separate_runs(small):
    train, val = small
    specs = mixed_specs("mlp")
    corruptions = [D.Corruption("randY", 0.3, 0), D.Corruption("randY", 0.6, 1), D.Corruption()]
    assert_batched_equals_separate(specs, train, val, corruptions, atol=1e-4)


@pytest.mark.slow  # trains CNNs in float64
def test_k_batched_cnn_runs_match_separate_runs(small, float64):
    # In float32 a grouped convolution sums in another order than a single one, and momentum with
    # batch norm amplifies that rounding noise over steps; in float64 it stays far below the tolerance.
    train, val = as_double(small[0].take(torch.arange(120))), as_double(small[1].take(torch.arange(50)))
    specs = [dataclasses.replace(s, train=dataclasses.replace(s.train, batch_size=40)) for s in mixed_specs("cnn")]
    corruptions = [D.Corruption("randY", 0.5, 0), D.Corruption(), D.Corruption("randY", 0.5, 0)]
    assert_batched_equals_separate(specs, train, val, corruptions, atol=1e-4)


def test_validation_data_is_never_corrupted(small):
    train, val = small
    x0, y0 = val.x.clone(), val.y.clone()
    hist = fit([spec(0), spec(1)], train, val, [D.Corruption("randY", 1.0, 0), D.Corruption("randX", 1.0, 0)])
    assert torch.equal(val.x, x0) and torch.equal(val.y, y0)
    # the reported validation accuracy is the model's accuracy on the clean images and true labels
    logits = E.predict(hist.model, val.x, 2)
    clean_acc = (logits.argmax(-1) == val.y).float().mean(1)
    last = hist.frame[hist.frame.epoch == 2].sort_values("run")
    assert torch.allclose(clean_acc, torch.tensor(last["val_acc"].values, dtype=torch.float32))
    data = E.make_train_set(train, [D.Corruption("randY", 1.0, 0)])
    assert torch.equal(data.y_true, train.y) and data.corrupted.all()


def test_a_deadline_or_a_stop_flag_ends_the_run_after_the_current_epoch(small):
    train, val = small
    s = spec(0, epochs=5)
    late = fit([s], train, val, deadline=time.monotonic() - 1)
    assert late.stopped == "deadline" and late.frame["epoch"].tolist() == [0, 1]
    seen = []
    stopped = fit([s], train, val, on_epoch=lambda r: seen.append(r["epoch"]), stop=lambda: len(seen) >= 3)
    assert stopped.stopped == "stop" and stopped.frame["epoch"].tolist() == [0, 1, 2] and seen == [0, 1, 2]
    full = fit([s], train, val, deadline=time.monotonic() + 3600, stop=lambda: False)
    assert full.stopped == "" and full.frame["epoch"].max() == 5


def test_per_example_tracking_and_the_epoch_callback(small):
    train, val = small
    reports = []
    hist = fit([spec(0), spec(1)], train, val, on_epoch=reports.append, track_examples=True)
    assert sorted(hist.preds) == [0, 1, 2]
    for epoch, pred in hist.preds.items():
        assert pred.shape == (2, len(train)) and pred.min() >= 0 and pred.max() <= 9
    assert [r["epoch"] for r in reports] == [0, 1, 2] and all(r["epochs"] == 2 for r in reports)
    assert torch.equal(reports[-1]["pred"].to(torch.int16), hist.preds[2])
    acc = (hist.preds[2] == train.y).float().mean(1)
    assert torch.allclose(acc, torch.tensor(hist.frame[hist.frame.epoch == 2]["train_acc"].values, dtype=torch.float32))
    assert len(reports[1]["rows"]) == 2 and reports[1]["model"] is hist.model
    assert fit([spec(0)], train, val).preds == {}


def test_mlp_augmentation_runs_and_changes_training(small):
    train, val = small
    base = fit([spec(0)], train, val).frame
    for aug in ({"rotation": 15.0}, {"pixel_noise": 0.1}, {"brightness": 0.3, "contrast": 0.3}):
        f = fit([spec(0, augment=aug)], train, val).frame
        assert f["train_loss"].notna().all()
        assert (f["train_loss"] - base["train_loss"]).abs().iloc[1:].max() > 1e-4, aug


def colour_digits(images: D.Images) -> D.Images:
    """Real digits painted in one of three colours on a tinted background: a 3-channel set for colour jitter."""
    palette = torch.tensor([[1.0, 0.3, 0.2], [0.2, 0.8, 0.3], [0.3, 0.4, 1.0]])
    ink = palette[images.index % 3].view(-1, 3, 1, 1)
    x = 0.15 + 0.85 * images.x * ink                                 # (N, 3, 28, 28)
    return dataclasses.replace(images, x=x)


def test_colour_jitter_on_a_three_channel_cnn(small):
    train, val = colour_digits(small[0].take(torch.arange(100))), colour_digits(small[1].take(torch.arange(40)))
    model = {"arch": "cnn", "filters": 4, "dense": (16, 8)}
    base = fit([spec(0, model, epochs=1, batch_size=25)], train, val).frame
    jitter = {"saturation": 0.5, "hue": 0.2, "brightness": 0.2}
    f = fit([spec(0, model, epochs=1, batch_size=25, augment=jitter)], train, val).frame
    assert f["train_loss"].notna().all()
    assert abs(f["train_loss"].iloc[1] - base["train_loss"].iloc[1]) > 1e-5
    # the jitter itself: one draw per run, pixels stay in [0, 1], colours change
    xb = train.x[:8].unsqueeze(0)
    out = E.augment_batch(xb, [spec(0, model, augment=jitter)], [torch.Generator().manual_seed(0)])
    assert out.shape == xb.shape and 0 <= out.min() and out.max() <= 1 and not torch.allclose(out, xb)


def test_adversarial_training_runs_and_changes_the_result(small):
    train, val = small
    base = fit([spec(0, epochs=1)], train, val).frame
    f = fit([spec(0, epochs=1, adv_weight=0.5, adv_steps=2)], train, val, lass_cfg={"radius": 0.1, "alpha": 0.05}).frame
    assert f["train_loss"].notna().all()
    assert abs(f["train_loss"].iloc[1] - base["train_loss"].iloc[1]) > 1e-4


def stub_lass(make_adv, make_flipped):
    """A stand-in for LASS: x_adv = make_adv(x), flipped = make_flipped(K, B); it draws nothing."""
    def search(model, x, *, gens, steps, **kw):
        return make_adv(x), make_flipped(x.shape[0], x.shape[1])
    return search


def without_flips(frame):
    """A history's scores without the adversarial runs' share of flipped points."""
    return scores(frame).drop(columns="adv_flipped", errors="ignore")


def first_points(k, b):
    """Flipped: the first half of every batch."""
    flipped = torch.zeros(k, b, dtype=torch.bool)
    flipped[:, : b // 2] = True
    return flipped


def test_adversarial_samples_enter_the_loss_only_where_lass_flipped(small, monkeypatch):
    train, val = small
    plain = fit([spec(0, epochs=1)], train, val).frame
    adv = spec(0, epochs=1, adv_weight=0.5, adv_steps=1)
    # far-off "samples" that LASS did not flip: they must not enter the loss, so training is plain training
    monkeypatch.setattr(E, "lass", stub_lass(lambda x: 1 - x, lambda k, b: torch.zeros(k, b, dtype=torch.bool)))
    pd.testing.assert_frame_equal(without_flips(fit([adv], train, val).frame), scores(plain))
    # the same samples, flipped for half of each batch: now they do
    monkeypatch.setattr(E, "lass", stub_lass(lambda x: 1 - x, first_points))
    changed = fit([adv], train, val).frame
    assert abs(changed["train_loss"].iloc[1] - plain["train_loss"].iloc[1]) > 1e-3


def test_the_clean_and_adversarial_passes_share_the_dropout_mask(small, monkeypatch):
    # LASS "flips" every point but returns it unchanged: with one mask for both passes the adversarial
    # term equals the clean one and training is plain dropout training; a second mask would change it
    train, val = small
    model = {"dropout": 0.5}
    plain = fit([spec(0, model, epochs=1)], train, val).frame
    monkeypatch.setattr(E, "lass", stub_lass(lambda x: x.clone(), lambda k, b: torch.ones(k, b, dtype=torch.bool)))
    same = fit([spec(0, model, epochs=1, adv_weight=0.5, adv_steps=1)], train, val).frame
    pd.testing.assert_frame_equal(without_flips(same), scores(plain), check_exact=False, atol=1e-6, rtol=0)
    assert (same["adv_flipped"].iloc[1:] == 1.0).all()


def test_adversarial_loss_adds_the_critical_samples_loss_of_flipped_points_only(small, monkeypatch):
    train, _ = small
    torch.manual_seed(0)
    model = E.build([spec(0).model] * 2, (1, 28, 28), 10, torch.zeros(1), torch.ones(1), [0, 1])
    model.gens = [torch.Generator().manual_seed(i) for i in range(2)]
    model.train()
    xb = torch.stack([train.x[:8], train.x[8:16]])                    # (K=2, B=8, 1, 28, 28)
    yb = torch.stack([train.y[:8], train.y[8:16]])
    x_adv = (xb + 0.2).clamp(0, 1)
    flipped = torch.zeros(2, 8, dtype=torch.bool)
    flipped[0, [1, 5]] = True                                         # run 1: nothing flipped
    monkeypatch.setattr(E, "lass", stub_lass(lambda x: x_adv, lambda k, b: flipped))
    w = torch.tensor([0.3, 0.7])
    loss, got, logits = E.adversarial_loss(model, xb, yb, w, gens=model.gens, steps=1)
    assert logits.shape == (2, 8, 10)                                 # the clean pass, for the training-mode accuracy
    with torch.no_grad():
        ce, ce_adv = E._ce_each(model(xb), yb), E._ce_each(model(x_adv), yb)
    want0 = (ce[0].sum() + 0.3 * (ce_adv[0, [1, 5]] - ce[0, [1, 5]]).sum()) / 8
    assert torch.equal(got, flipped)
    assert loss[0].item() == pytest.approx(want0.item(), rel=1e-6)
    assert loss[1].item() == pytest.approx(ce[1].mean().item(), rel=1e-6)  # no flip: the clean loss, weight 1


def test_the_adversarial_pass_runs_in_fp32_and_the_clean_pass_in_the_training_precision(small, monkeypatch):
    train, _ = small
    model = E.build([spec(0).model], (1, 28, 28), 10, torch.zeros(1), torch.ones(1), [0])
    model.gens = [torch.Generator().manual_seed(0)]
    model.train()
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append((m.training, torch.is_autocast_enabled("cpu"))))
    monkeypatch.setattr(E, "lass", stub_lass(lambda x: x.clone(), lambda k, b: torch.ones(k, b, dtype=torch.bool)))
    bf16 = lambda: torch.autocast("cpu", dtype=torch.bfloat16)  # noqa: E731
    E.adversarial_loss(model, train.x[:8].unsqueeze(0), train.y[:8].unsqueeze(0), torch.tensor([0.5]),
                       gens=model.gens, steps=1, autocast=bf16)
    assert seen == [(True, True), (True, False)]


def test_a_zero_weight_run_trains_alongside_adversarial_runs_as_it_would_alone(small):
    # LASS draws its noise from its own stream and the second pass replays the first pass's masks, so
    # adversarial runs in the same batched model leave a weight-0 run's dropout draws untouched
    train, val = small
    model = {"dropout": 0.3}
    alone = fit([spec(0, model, epochs=1)], train, val).frame
    mixed = fit([spec(0, model, epochs=1, adv_steps=2), spec(1, model, epochs=1, adv_weight=0.5, adv_steps=2)],
                train, val, lass_cfg={"radius": 0.1, "alpha": 0.05}).frame
    pd.testing.assert_frame_equal(without_flips(mixed[mixed.run == 0]), scores(alone), check_exact=False,
                                  atol=1e-4, rtol=0)
    assert mixed.loc[mixed.run == 1, "adv_flipped"].iloc[1] > 0            # the other run did train adversarially


def test_shared_draws_replay_masks_and_leave_batch_norm_statistics(small):
    train, _ = small
    cfg = spec(0, {"arch": "cnn", "filters": 4, "dense": (16, 8), "crop": 2, "dropout": 0.5, "hidden_noise": 0.1}).model
    model = E.build([cfg] * 2, (1, 28, 28), 10, torch.zeros(1), torch.ones(1), [0, 1])
    model.gens = [torch.Generator().manual_seed(i) for i in range(2)]
    x = train.x[:6].unsqueeze(0).expand(2, -1, -1, -1, -1).contiguous()
    model.train()
    with model.shared_draws():
        a = model(x)
        stats = [b.clone() for name, b in model.named_buffers() if name.startswith("run_")]
        model.eval()
        model(x)                                                      # an eval pass between (LASS) draws nothing
        model.train()
        b = model(x)
        assert all(torch.equal(s, t) for s, t in zip(stats, (t for n, t in model.named_buffers() if n.startswith("run_"))))
    assert torch.allclose(a, b, atol=1e-6)
    assert not torch.allclose(model(x), a, atol=1e-3)                 # outside: fresh draws again


def test_mismatched_runs_are_rejected(small):
    train, val = small
    data = E.make_train_set(train, [D.Corruption()] * 2)
    with pytest.raises(ValueError, match="batch_key"):
        E.fit([spec(0), spec(1, lr=0.1)], data, val)
    with pytest.raises(ValueError, match="2 runs"):
        E.fit([spec(0)], data, val)
