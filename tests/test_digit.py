"""Page 2's "Draw a digit" without a browser: the MNIST-style preprocessing of a drawing (explainer/digit.py),
the NumPy forward pass against the torch model it re-implements (training/models.py) on the committed
e5 checkpoints, and the page itself under AppTest with an empty canvas and without checkpoints.
The drawing itself is tested in a real browser in tests/test_digit_browser.py."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from safetensors.torch import load_file

from explainer import artifacts as A, digit as Dg, palette as P
from test_app_pages import ART, BY_FILE, needs, render, text
from training import data as D, models as M
from training.config import RunSpec, parse

PAGE = BY_FILE["02_what_is_memorization"]
CHECKPOINTS = [f"{Dg.FOLDER}/{name}.{ext}" for name in Dg.STUDENTS for ext in ("safetensors", "json")]


def canvas(strokes, size: int = 280, width: int = 22, transparent: bool = False) -> np.ndarray:
    """What the canvas sends back: RGBA, white strokes on black (or on a transparent background)."""
    im = Image.new("RGBA", (size, size), (0, 0, 0, 0 if transparent else 255))
    pen = ImageDraw.Draw(im)
    for stroke in strokes:
        pen.line(stroke, fill=(255, 255, 255, 255), width=width, joint="curve")
    return np.asarray(im)


def centre_of_mass(x: np.ndarray) -> tuple[float, float]:
    ys, xs = np.mgrid[: x.shape[0], : x.shape[1]]
    return float((x * ys).sum() / x.sum()), float((x * xs).sum() / x.sum())


def ink_box(x: np.ndarray) -> tuple[int, int]:
    rows, cols = np.nonzero((x > 0).any(1))[0], np.nonzero((x > 0).any(0))[0]
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


# ---------------------------------------------------------------------------------------------
# Preprocessing


@pytest.mark.parametrize("transparent", [False, True], ids=["black-background", "transparent-background"])
def test_a_stroke_in_a_corner_ends_up_centred_like_mnist(transparent):
    seven_in_corner = [[(10, 12), (90, 12), (40, 110)]]      # a small 7 in the top-left corner
    x = Dg.preprocess(canvas(seven_in_corner, transparent=transparent))
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.9
    cy, cx = centre_of_mass(x)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5, (cy, cx)
    h, w = ink_box(x)
    assert max(h, w) == 20 and w < h, (h, w)                   # larger side 20 px, aspect ratio kept


def test_a_thin_one_keeps_its_shape():
    x = Dg.preprocess(canvas([[(140, 20), (140, 260)]], width=18))
    h, w = ink_box(x)
    assert h == 20 and w <= 4
    assert abs(centre_of_mass(x)[1] - 14) <= 0.5


def test_an_empty_canvas_is_reported_as_empty():
    assert Dg.preprocess(canvas([])) is None
    assert Dg.preprocess(canvas([], transparent=True)) is None
    faint = np.full((280, 280), 12, dtype=np.uint8)           # below the ink threshold everywhere
    assert Dg.preprocess(faint) is None


def test_mnist_digits_survive_the_trip_through_the_canvas(mnist):
    """A real digit blown up to canvas size and preprocessed again looks like itself (same framing)."""
    val = D.stratified_subset(mnist[1], 50, 0).x[:, 0].numpy()
    back = np.stack([Dg.preprocess(np.asarray(Image.fromarray(np.uint8(im * 255)).resize((280, 280))))
                     for im in val])
    assert np.abs(back - val).mean() < 0.05
    assert np.mean([np.hypot(*np.subtract(centre_of_mass(b), centre_of_mass(v))) for b, v in zip(back, val)]) < 0.6


# ---------------------------------------------------------------------------------------------
# The students: NumPy against torch, on the committed checkpoints


def torch_student(name: str) -> M.Batched:
    about = json.loads((ART / Dg.FOLDER / f"{name}.json").read_text())
    tensors = load_file(str(ART / Dg.FOLDER / f"{name}.safetensors"))
    spec = parse(RunSpec, about["run_spec"])
    model = M.build([spec.model], about["in_shape"], about["n_classes"], tensors["mean"].view(-1),
                    tensors["std"].view(-1), [spec.seed])
    model.load_state_dict(tensors)
    return model.eval()


@pytest.fixture(scope="module")
def digits(mnist):
    """100 validation digits, ten of each class (the split on disk is sorted by class)."""
    return D.stratified_subset(mnist[1], 100, 0)


@pytest.mark.parametrize("name", list(Dg.STUDENTS))
def test_numpy_forward_pass_equals_the_torch_model(name, digits):
    needs(*CHECKPOINTS)
    with torch.no_grad():
        ref = torch_student(name)(digits.x.unsqueeze(0))[0].numpy()
    student = Dg.student(name)
    ours = Dg.logits(student, digits.x[:, 0].numpy())
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)
    probs = Dg.predict(student, digits.x[:, 0].numpy())
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-9)
    assert (probs.argmax(1) == ref.argmax(1)).all()
    assert Dg.predict(student, digits.x[0, 0].numpy()).shape == (1, 10)   # one (28, 28) image


def test_the_real_label_student_reads_real_digits_the_shuffled_one_does_not(digits):
    needs(*CHECKPOINTS)
    x, y = digits.x[:, 0].numpy(), digits.y.numpy()
    real = (Dg.predict(Dg.student("model_real"), x).argmax(1) == y).mean()
    rand = (Dg.predict(Dg.student("model_random"), x).argmax(1) == y).mean()
    assert real >= 0.9 and rand <= 0.4, (real, rand)


def test_a_drawn_seven_is_a_seven_to_the_real_label_student():
    needs(*CHECKPOINTS)
    x = Dg.preprocess(canvas([[(70, 60), (210, 60), (120, 235)]]))
    assert int(Dg.predict(Dg.student("model_real"), x).argmax()) == 7


def test_a_missing_checkpoint_is_a_missing_artifact(tmp_path, monkeypatch):
    monkeypatch.setenv(A.ENV, str(tmp_path))
    with pytest.raises(A.Missing, match="model_real.safetensors` has not been produced") as err:
        Dg.student("model_real")
    assert err.value.command == "dvc repro e5@mnist"
    (tmp_path / Dg.FOLDER).mkdir(parents=True)
    (tmp_path / Dg.FOLDER / "model_real.safetensors").write_bytes(b"not a safetensors file")
    (tmp_path / Dg.FOLDER / "model_real.json").write_text("{}")
    with pytest.raises(A.Missing, match="could not be read"):
        Dg.student("model_real")


def test_confidence_chart_is_valid_and_in_the_students_colours():
    probs = np.full(10, 0.05)
    probs[3] = 0.55
    spec = Dg.confidence_chart(probs, P.BLUE, "🟦 real-label student: 3").to_dict()   # validates the schema
    assert spec["mark"]["color"] == P.BLUE
    values = next(iter(spec["datasets"].values()))
    assert [v["digit"] for v in values if v["answer"]] == ["3"]


# ---------------------------------------------------------------------------------------------
# The page (AppTest: the canvas component renders, but nothing is drawn on it)


def test_page_shows_the_prompt_while_the_canvas_is_empty():
    needs(*CHECKPOINTS)
    at = render(PAGE, answer=True)
    assert not at.exception
    assert any(s.value == "Draw a digit" for s in at.subheader)
    assert "The square is empty" in text(at)
    assert "shuffled-label student says" not in text(at)


def test_page_without_checkpoints_shows_the_missing_note(tmp_path):
    at = render(PAGE, root=tmp_path, answer=True)
    assert not at.exception
    assert "Waiting for numbers: the draw-a-digit exam" in text(at)
    assert "The square is empty" not in text(at)
