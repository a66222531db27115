"""What every stage shares: reading its params, running groups of batched runs, and writing
tables, checkpoints, metrics and a manifest atomically (a temp file renamed into place, so an
interrupted stage never leaves a half-written file).

A stage module = a frozen `Config` dataclass, a pure `run(cfg, ctx) -> Result` and a one-line
`main()` that calls `stage_main`. Paths come from the command line (written once, in dvc.yaml).
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from safetensors.torch import save_file

from .. import data as D
from ..config import PRECISIONS, ROOT, ConfigError, RunSpec, load_params, opt, parse, stage_section, to_dict
from ..engine import History, fit, make_train_set, resolve_precision
from ..metrics import best_val, epochs_to_fit
from ..models import run_state

MAX_BATCH_RUNS = 32  # runs trained together at most (memory and CPU cache friendliness)

# The setting columns that every stage's tables share, in this order, so that one vocabulary describes any
# measured configuration (the app's catalog reads them). A setting a stage does not vary still has its
# column: kind "none" with p 0 (clean data), regularizer "none" and augment "none" with strength 0.
#   width: hidden units per layer (MLP) or filters per conv layer (CNN); depth: hidden layers (MLP) or conv
#   blocks (CNN, always 2); kind: none | randX (inputs replaced by noise) | randY (labels redrawn), p its share;
#   regularizer: none | an E6 family (strength: its setting); augment: none | an augmentation (strength: its
#   setting). Per-run tables end with `seed`; tables over several seeds say `seeds` (how many) instead.
SETTINGS = ("dataset", "arch", "width", "depth", "n_train", "kind", "p", "regularizer", "strength", "augment", "seed")

# Headline metrics (artifacts/metrics/*.json, what `dvc metrics show` prints): at most MAX_HEADLINE per
# stage, named from this one short vocabulary so that every stage's row fits one terminal line. What each
# means in a stage is said by that stage's `headline` docstring and the README's experiment table.
HEADLINE = ("real", "randX", "randY", "half", "gap", "csr", "repro", "partly", "open", "not")
MAX_HEADLINE = 6


@dataclass
class Context:
    """Where and how a stage runs; handed to `run`."""

    profile: str = "cpu"
    device: str = "cpu"
    out: Path = ROOT / "artifacts"
    log: Callable[[str], None] = print
    datasets: dict = field(default_factory=dict)  # name -> {"source": ..., "n_train": ..., "n_val": ...}


@dataclass
class Result:
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)        # name -> tidy table (CSV)
    metrics: dict = field(default_factory=dict)                           # headline numbers (JSON)
    checkpoints: dict[str, tuple[dict, dict]] = field(default_factory=dict)  # name -> (tensors, config)
    arrays: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)   # name -> arrays (.npz), e.g. image galleries
    extra: dict = field(default_factory=dict)                             # anything else for the manifest


@dataclass(frozen=True)
class Work:
    """What one group of a stage's runs costs, for the planner (training/plan.py): `specs` trained
    together on n_train examples for `epochs` epochs (an upper bound where `capped`: the stage stops
    once they fit), evaluated on n_train + n_val examples after every epoch, plus any LASS searches
    (CSR measurements every `lass_every` epochs of `lass_points` points, up to `lass_steps`
    iterations each) and, for adversarial runs, the per-batch search of adv_steps iterations.
    A stage with its own loop gives `flops`/`steps` directly instead (E2)."""

    what: str
    specs: tuple = ()
    in_shape: tuple = (1, 28, 28)
    n_classes: int = 10
    n_train: int = 0
    n_val: int = 0
    epochs: int = 0
    capped: bool = False
    lass_points: int = 0
    lass_every: int = 0
    lass_steps: int = 0
    lass_batch: int = 500
    flops: float = 0.0
    steps: int = 0


def dataset_size(name: str, n_train: int, n_val: int) -> tuple[tuple[int, int, int], int, int]:
    """(image shape, training examples, validation examples) a stage asking for n_train/n_val gets."""
    shape, n_tr, n_va = D.SIZES[name]
    return shape, min(n_train, n_tr), min(n_val, n_va)


# ---------------------------------------------------------------------------------------------
# Data and runs


def load_data(ctx: Context, name: str, n_train: int, n_val: int, seed: int = 0):
    """The (train, val) pair a stage trains on: stratified subsets of `name`, recorded in ctx."""
    train, val = D.load(name)
    train = D.stratified_subset(train, n_train, seed)
    val = D.stratified_subset(val, n_val, seed)
    ctx.datasets[name] = {"source": train.source, "n_train": len(train), "n_val": len(val),
                          "train_name": train.name, "val_name": val.name}
    return train, val


def batches(specs: Sequence[RunSpec]) -> list[list[int]]:
    """The indices of the runs trained together: runs that can share one batched model, in as few
    batches of at most MAX_BATCH_RUNS as fit, of even size (33 -> 17 + 16)."""
    groups: dict = {}
    for i, spec in enumerate(specs):
        groups.setdefault(spec.batch_key(), []).append(i)
    out = []
    for members in groups.values():
        size = -(-len(members) // -(-len(members) // MAX_BATCH_RUNS))
        out += [members[s : s + size] for s in range(0, len(members), size)]
    return out


def settings_of(spec: RunSpec, corruption: D.Corruption, dataset: str, n_train: int, **named) -> dict:
    """The SETTINGS columns of one run. `named` gives what the spec alone cannot say (regularizer,
    strength, augment: which knob a stage turns; kind and p where a stage corrupted the data itself,
    as E1 does) and may add a stage's own columns after them."""
    m = spec.model
    width, depth = (m.width, m.depth) if m.arch == "mlp" else (m.filters, 2)
    out = {"dataset": dataset, "arch": m.arch, "width": width, "depth": depth, "n_train": n_train,
           "kind": corruption.kind if corruption.p > 0 else "none", "p": float(corruption.p),
           "regularizer": "none", "strength": 0.0, "augment": "none"}
    unknown = set(named) & {"dataset", "arch", "width", "depth", "n_train", "seed"}
    if unknown:
        raise ValueError(f"settings_of: {sorted(unknown)} come from the run itself")
    extra = {k: v for k, v in named.items() if k not in out}
    return {**out, **{k: v for k, v in named.items() if k in out}, "seed": spec.seed, **extra}


def fit_all(specs: Sequence[RunSpec], corruptions: Sequence[D.Corruption], train: D.Images, val: D.Images,
            ctx: Context, named: Sequence[dict] | None = None, run_ids: Sequence[int] | None = None,
            **fit_kw) -> tuple[pd.DataFrame, list[tuple[History, list[int]]]]:
    """Train every run, batching those that can share one batched model, and return one table of all
    their epochs: run, the SETTINGS columns (`named[i]` adds run i's regularizer/augment and any stage
    columns), epoch, then the History's measurements. Run i is called run_ids[i] (default i) in the
    table, and in the reports an `on_epoch` callback gets (each report's rows, and its `chunk`: the
    indices into `specs` of the batch's runs, in the model's order). Also returns each batch's History
    with those indices. Every pipeline stage trains through here; the live lab groups its runs with the
    same `batches` and calls `fit` itself, so that a visitor's Stop also skips the batches not yet begun."""
    on_epoch = fit_kw.pop("on_epoch", None)
    named = named or [{} for _ in specs]
    ids = list(run_ids) if run_ids is not None else list(range(len(specs)))
    dataset = train.name.split("/")[0]
    columns = [settings_of(s, c, dataset, len(train), **n) for s, c, n in zip(specs, corruptions, named)]
    frames, histories = [], []
    for chunk in batches(specs):
        t0 = time.monotonic()
        data = make_train_set(train, [corruptions[i] for i in chunk])

        def report(r, chunk=chunk):
            on_epoch({**r, "chunk": chunk, "rows": [{**row, "run": ids[chunk[row["run"]]]} for row in r["rows"]]})

        hist = fit([specs[i] for i in chunk], data, val, device=ctx.device,
                   on_epoch=report if on_epoch else None, **fit_kw)
        frame = hist.frame.drop(columns=["seed"], errors="ignore")
        local = frame["run"].to_numpy()
        frame["run"] = [ids[chunk[r]] for r in local]
        for col in columns[chunk[0]]:
            frame[col] = [columns[chunk[r]][col] for r in local]
        frames.append(frame)
        histories.append((hist, chunk))
        ctx.log(f"  {len(chunk)} runs x {specs[chunk[0]].train.epochs} epochs in {time.monotonic() - t0:.1f}s")
    table = pd.concat(frames, ignore_index=True)
    front = ["run", *columns[0].keys(), "epoch"]
    return table[front + [c for c in table.columns if c not in front]], histories


def setting_columns(table: pd.DataFrame) -> list[str]:
    """The columns of a curves table that describe its runs (everything between `run` and `epoch`)."""
    cols = list(table.columns)
    return cols[cols.index("run") + 1 : cols.index("epoch")]


def per_run(curves: pd.DataFrame, target: float = 1.0) -> pd.DataFrame:
    """The "final and best" table of a curves table, one row per run: its settings, then final_epoch,
    final_train_acc (on the labels as given), final_train_acc_clean / _corrupted (its clean and its
    corrupted examples), final_val_acc, final_train_acc_batches (the last epoch's training batches as trained
    on, in training mode: the accuracy Keras logs), best_epoch and best_val_acc (the best validation epoch,
    the first on ties) and fit_epoch (first epoch at `target` training accuracy, eval mode; empty if never)."""
    last = curves.sort_values("epoch").groupby("run").tail(1).set_index("run").sort_index()
    best = best_val(curves)
    out = last[setting_columns(curves)].copy()
    out["final_epoch"] = last["epoch"]
    for col in ("train_acc", "train_acc_clean", "train_acc_corrupted", "val_acc", "train_acc_batches"):
        if col in last.columns:
            out[f"final_{col}"] = last[col]
    out["best_epoch"], out["best_val_acc"] = best["best_epoch"], best["best_val_acc"]
    out["fit_epoch"] = epochs_to_fit(curves, "train_acc", target)
    return out.reset_index()


def one_group(cfg, specs: Sequence[RunSpec], **lass) -> list[Work]:
    """The planner's view of a stage whose runs all train on cfg.dataset's n_train/n_val examples for
    cfg.run.train.epochs (E3, E5, E6, augment); `lass` adds its LASS searches (see Work)."""
    shape, n_train, n_val = dataset_size(cfg.dataset, cfg.n_train, cfg.n_val)
    return [Work(f"{len(specs)} runs", tuple(specs), shape, n_train=n_train, n_val=n_val,
                 epochs=cfg.run.train.epochs, **lass)]


def rounded(x, digits: int = 4):
    """A headline number for the metrics JSON: a rounded float, or None where it is missing."""
    return None if x is None or pd.isna(x) else round(float(x), digits)


def _worker_init(threads: int) -> None:
    torch.set_num_threads(threads)


def parallel_map(fn: Callable, jobs: Sequence[dict]) -> list:
    """fn(**job) for every job, spread over worker processes when this stage has more than one core
    (the cores are shared out: 2 jobs on 2 cores = 2 one-thread workers), else in this process.
    fn must be importable (a module-level function) and its arguments and result picklable.
    Results are the same either way: each job owns its seeds, and fn's work does not depend on
    which process runs it."""
    cores = torch.get_num_threads()
    workers = min(len(jobs), cores)
    if workers <= 1:
        return [fn(**job) for job in jobs]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_worker_init,
                             initargs=(max(1, cores // workers),)) as pool:
        return list(pool.map(_call, [(fn, job) for job in jobs]))


def _call(fn_job):
    fn, job = fn_job
    return fn(**job)


def gallery(images: D.Images, idx, **columns) -> dict[str, np.ndarray]:
    """Small uint8 image thumbnails (N, H, W[, C]) with their source index and label, for the app
    (which reads them with numpy alone)."""
    idx = torch.as_tensor(idx, dtype=torch.long)
    x = (images.x[idx].clamp(0, 1) * 255).round().to(torch.uint8)
    x = x[:, 0] if x.shape[1] == 1 else x.permute(0, 2, 3, 1)
    out = {"images": x.numpy(), "index": images.index[idx].numpy(), "label": images.y[idx].numpy()}
    out.update({k: torch.as_tensor(v).numpy() for k, v in columns.items()})
    return out


def checkpoint(hist: History, k: int, spec: RunSpec, **about) -> tuple[dict, dict]:
    """One run's weights and the config needed to rebuild it (safetensors + JSON)."""
    return run_state(hist.model, k), {"run_spec": to_dict(spec), "arch": spec.model.arch, **about}


# ---------------------------------------------------------------------------------------------
# Writing


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_csv(df: pd.DataFrame, path: Path) -> None:
    _atomic(path, lambda p: df.to_csv(p, index=False, float_format="%.6g"))


def write_json(obj, path: Path) -> None:
    _atomic(path, lambda p: p.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_plain) + "\n"))


def _plain(o):
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")


REVISION_ENV = "TRAINING_GIT_REVISION"  # set by training.run_profile where the checkout has no .git


def git_revision() -> str:
    if os.environ.get(REVISION_ENV):
        return os.environ[REVISION_ENV]
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "training", "params.yaml", "dvc.yaml"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return rev + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_threads(value) -> int:
    """params `threads`: 0 = every core this process may use; n = exactly n."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"threads = {value!r} is out of range; allowed: a whole number ≥ 0 (0 = every core)")
    if value:
        return value
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def with_precision(section: dict, config_cls, value) -> str:
    """Check params `precision` (the default of every stage) and hand it to a stage's training runs
    unless the stage sets its own `run.train.precision`. Returns the checked value."""
    if value not in PRECISIONS:
        raise ConfigError(f"precision = {value!r} is not allowed; allowed: " + ", ".join(map(repr, PRECISIONS)))
    if "run" in {f.name for f in dataclasses.fields(config_cls)}:
        run = dict(section.get("run") or {})
        train = dict(run.get("train") or {})
        train.setdefault("precision", value)
        run["train"] = train
        section["run"] = run
    return value


def check_headline(stage: str, metrics: dict) -> dict:
    """A stage's headline metrics, checked against the shared vocabulary (HEADLINE, MAX_HEADLINE)."""
    unknown = sorted(set(metrics) - set(HEADLINE))
    if unknown or len(metrics) > MAX_HEADLINE or any(isinstance(v, dict) for v in metrics.values()):
        raise ValueError(f"{stage}: headline metrics must be at most {MAX_HEADLINE} numbers named from "
                         f"{', '.join(HEADLINE)}; got {sorted(metrics)}")
    return metrics


def pick_device(want: str) -> str:
    if want == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return want


def stage_config(params: dict, name: str, item: str | None, config_cls) -> tuple[str, object, str]:
    """A stage's checked settings for the active profile: (profile, config, the precision asked for).
    The item's section (e.g. e5.mnist) with the profile's overrides; fields the item's name fixes
    (Config.from_item: e3's kind, e4's axis, e6's regularizer) are set from it and must not be restated."""
    where = f"{name}.{item}" if item else name
    profile, section = stage_section(params, name)
    if item:
        if item not in section:
            raise ConfigError(f"params has no section {where!r}")
        section = dict(section[item])
        fixed = config_cls.from_item(item) if hasattr(config_cls, "from_item") else {}
        restated = sorted(set(fixed) & set(section))
        if restated:
            raise ConfigError(f"{where}.{restated[0]} restates the item's name; remove it (item {item!r} sets "
                              f"{restated[0]} = {fixed[restated[0]]!r})")
        section.update(fixed)
    asked = with_precision(section, config_cls, params.get("precision", "fp32"))
    return profile, parse(config_cls, section, where), asked


def stage_main(name: str, config_cls, run: Callable[[object, Context], Result], argv=None) -> None:
    """Parse args, validate params (before any training), run, write outputs and the manifest."""
    ap = argparse.ArgumentParser(description=f"DVC stage {name}")
    ap.add_argument("--params", default=str(ROOT / "params.yaml"))
    ap.add_argument("--item", default=None, help="the foreach item (e.g. a dataset), a sub-section of the params")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--metrics", default=None, help="headline-numbers JSON (default: <out>/metrics.json)")
    args = ap.parse_args(argv)
    section_name = f"{name}.{args.item}" if args.item else name
    try:
        params = load_params(args.params)
        profile, cfg, asked = stage_config(params, name, args.item, config_cls)
        device = pick_device(str(params.get("device", "auto")))
        threads = cpu_threads(params.get("threads", 0))
    except ConfigError as err:
        sys.exit(f"params.yaml: {err}")
    torch.set_num_threads(threads)  # deliberate: every core of the machine unless params say otherwise
    torch.set_flush_denormal(True)  # tiny weights late in training otherwise slow CPU steps 5x (E5 CIFAR: 11 -> 60 s/epoch)
    # fp32 means fp32 on a GPU too: no TF32 in matmuls or convolutions (cuDNN allows it by default), so the
    # measurements the CPU set takes in fp32 (LASS/CSR, E2, the adversarial search) are not TF32 there
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    run_spec = getattr(cfg, "run", None)
    asked = run_spec.train.precision if isinstance(run_spec, RunSpec) else asked
    used, why = resolve_precision(asked, device) if isinstance(run_spec, RunSpec) else ("fp32", "")
    precision = {"asked": asked, "used": used, **({"note": why} if why else {})}
    if not isinstance(run_spec, RunSpec):
        precision["note"] = "this stage has its own fp32 loop (no training precision setting)"
    out = Path(args.out)
    ctx = Context(profile=profile, device=device, out=out,
                  log=lambda m: print(f"[{section_name}] {m}", flush=True))
    ctx.log(f"profile={profile} device={device} threads={threads} precision={used}" + (f" ({why})" if why else ""))
    t0 = time.monotonic()
    result = run(cfg, ctx)
    seconds = round(time.monotonic() - t0, 1)
    for table, df in result.tables.items():
        write_csv(df, out / f"{table}.csv")
    for ck, (tensors, conf) in result.checkpoints.items():
        tensors = {k: v.contiguous() for k, v in tensors.items()}
        _atomic(out / f"{ck}.safetensors", lambda p, t=tensors: save_file(t, str(p)))
        write_json(conf, out / f"{ck}.json")
    for name_, arrays in result.arrays.items():
        _atomic(out / f"{name_}.npz", lambda p, a=arrays: np.savez_compressed(open(p, "wb"), **a))
    write_json({**check_headline(section_name, result.metrics), "secs": seconds},
               Path(args.metrics) if args.metrics else out / "metrics.json")
    write_json({
        "stage": section_name, "profile": profile, "device": device,
        "device_name": torch.cuda.get_device_name() if device == "cuda" else platform.processor() or platform.machine(),
        "threads": threads, "precision": precision, "datasets": ctx.datasets, "config": to_dict(cfg), "seconds": seconds,
        "torch": torch.__version__, "python": platform.python_version(), "git_revision": git_revision(),
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "tables": {t: list(df.columns) for t, df in result.tables.items()}, **result.extra,
    }, out / "manifest.json")
    ctx.log(f"done in {seconds}s -> {out}")


def seeds_field():
    return opt(lo=0, hi=2**31 - 1, help="one run per seed (init, shuffle, noise)")


def replace_model(spec: RunSpec, **kw) -> RunSpec:
    return dataclasses.replace(spec, model=dataclasses.replace(spec.model, **kw))


def replace_train(spec: RunSpec, **kw) -> RunSpec:
    return dataclasses.replace(spec, train=dataclasses.replace(spec.train, **kw))
