"""Cached, validating readers of what the pipeline wrote to artifacts/.

Every reader is keyed by the file's path and modification time, so a fresh `dvc repro` shows up on
the next rerun without restarting the app. A missing, empty or malformed file raises `Missing`,
whose message says what is wrong and which command regenerates it; pages turn it into a friendly
note (`explainer.ui.missing`) and never show a traceback.

Result sets: artifacts/ holds what `dvc repro` makes on a laptop (the CPU profile); results/<name>/
holds sets made elsewhere (a GPU run of the `gpu` profile, written by `python -m training.run_profile`)
with the same layout and a resultset.json of their provenance. The visitor picks one in the sidebar;
the default is the largest-scale set present (profile order smoke < cpu < gpu < paper) that is not
under-trained (resultset.json `under_trained`: its nets did not memorize random labels). Every reader
below reads the selected set; a partial set (a run that ended before all its stages) lacks some stage
folders, and those are read from the CPU set instead (`source`), which captions and the sidebar name.
$EXPLAINER_ARTIFACTS and $EXPLAINER_RESULTS point both at scratch copies (tests, development).
"""
from __future__ import annotations

import functools
import json
import os
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
ENV = "EXPLAINER_ARTIFACTS"
RESULTS_ENV = "EXPLAINER_RESULTS"
RESULTSET = "resultset.json"
SCALE = {"smoke": 0, "cpu": 1, "gpu": 2, "paper": 3}  # which profile is the larger scale
PROFILE_NAME = {"smoke": "smoke test", "cpu": "CPU profile", "gpu": "GPU profile", "paper": "paper profile"}
STATE_KEY = "result-set"  # st.session_state key (and query parameter `results`) of the visitor's choice
HELD = ("finished", "copied")  # resultset.json statuses of the stages a set holds (training/resultset.py)


class Missing(Exception):
    """An artifact is absent or unreadable; str() is a sentence for the reader, `command` regenerates it."""

    def __init__(self, what: str, folder: str):
        self.what, self.folder, self.command = what, folder, reproduce(folder)
        super().__init__(what)


@dataclass(frozen=True)
class ResultSet:
    """One folder of results: `name` ("cpu" for artifacts/, else its folder under results/), its
    profile, where it ran, and resultset.json's provenance (empty for artifacts/, whose provenance
    is dvc.lock and the manifests)."""

    name: str
    path: Path
    profile: str
    device: str
    info: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        parts = [PROFILE_NAME.get(self.profile, self.profile), self.device]
        if self.partial:
            parts.append(f"partial, {self.held} of {len(self.stages)} stages")
        if self.under_trained:
            parts.append("⚠️ under-trained")
        return " · ".join(parts)

    @property
    def scale(self) -> int:
        return SCALE.get(self.profile, -1)

    @property
    def stages(self) -> dict[str, dict]:
        """resultset.json's record per stage (status, why, seconds); {} for artifacts/ (dvc repro made all)."""
        found = self.info.get("stages")
        return found if isinstance(found, dict) else {}

    @property
    def held(self) -> int:
        return sum(isinstance(v, dict) and v.get("status") in HELD for v in self.stages.values())

    @property
    def partial(self) -> bool:
        return self.held < len(self.stages)

    @property
    def under_trained(self) -> bool:
        return self.info.get("under_trained") is True

    def holds(self, folder: str) -> bool:
        return (self.path / folder / "manifest.json").is_file()


def _base() -> Path:
    return Path(os.environ.get(ENV) or ROOT / "artifacts")


def _results() -> Path:
    return Path(os.environ.get(RESULTS_ENV) or ROOT / "results")


def _artifacts_set() -> ResultSet:
    """artifacts/ as a set: its profile and device are the ones most of its manifests name."""
    found = []
    for path in sorted(_base().glob("**/manifest.json")):
        try:
            found.append(_read_json(str(path), _stamp(path)))  # parsed once per file version (cached)
        except (OSError, ValueError):
            continue
    found = [m for m in found if isinstance(m, dict)]
    def most(key, default):
        values = [m.get(key) for m in found if m.get(key)]
        return max(set(values), key=values.count) if values else default
    kind, threads = most("device", "cpu"), most("threads", 0)
    device = f"{kind}, {threads} threads" if kind == "cpu" and threads else f"{kind} ({most('device_name', '?')})"
    return ResultSet("cpu", _base(), most("profile", "cpu"), device)


@st.cache_resource(show_spinner=False, ttl=5)  # read by every loader call: shared, not copied as cache_data would
def _sets(stamp: tuple) -> list[ResultSet]:
    out = [_artifacts_set()]
    folder = _results()
    for info_path in sorted(folder.glob(f"*/{RESULTSET}")) if folder.is_dir() else []:
        try:
            info = json.loads(info_path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(info, dict):
            continue
        name = info_path.parent.name
        device = f"{info.get('device', '?')} ({info.get('device_name', '?')})"
        out.append(ResultSet(name, info_path.parent, str(info.get("profile", "?")), device, info))
    return sorted(out, key=lambda s: (s.under_trained, -s.scale, s.name != "cpu", s.name))  # largest scale first


def result_sets() -> list[ResultSet]:
    """Every result set present, the default first: the largest scale among those not under-trained."""
    return _sets((str(_base()), str(_results())))


def _chosen_name() -> str | None:
    """The visitor's pick: the sidebar's (session state), else a `?results=` link; None outside a session."""
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx
        if get_script_run_ctx(suppress_warning=True) is None:
            return None
        return st.session_state.get(STATE_KEY) or st.query_params.get("results")
    except Exception:  # bare mode, the prefetch thread
        return None


def selected() -> ResultSet:
    """The set every reader reads: the visitor's pick if it exists, else the largest-scale one."""
    sets = result_sets()
    want = _chosen_name()
    return next((s for s in sets if s.name == want), sets[0])


def root() -> Path:
    return selected().path


def source(folder: str) -> ResultSet:
    """The set `folder` (a stage's, e.g. e5/mnist) is read from: the selected set if it holds it, else (a
    partial set) the CPU set, else any other set that does."""
    chosen = selected()
    if chosen.holds(folder):
        return chosen
    others = sorted((s for s in result_sets() if s != chosen), key=lambda s: s.name != "cpu")
    return next((s for s in others if s.holds(folder)), chosen)


def present(folder: str) -> bool:
    """Whether any set the pages may read holds `folder` (the selected one, or the one standing in for it)."""
    return source(folder).holds(folder)


def elsewhere() -> dict[str, str]:
    """For a partial set: every stage folder it lacks that another set holds -> that set's name."""
    chosen = selected()
    return _elsewhere(chosen.name, generation()) if chosen.partial else {}


@st.cache_data(show_spinner=False, max_entries=8)
def _elsewhere(name: str, stamp: tuple) -> dict[str, str]:
    chosen = selected()
    folders = {p.parent.relative_to(s.path).as_posix() for s in result_sets() for p in s.path.glob("**/manifest.json")}
    return {f: source(f).name for f in sorted(folders) if not chosen.holds(f) and source(f) != chosen}


def shown(folder: str | None = None) -> str:
    """The folder of the set a reader reads (of `folder`'s source, if given): artifacts, or results/<name>."""
    chosen = source(folder) if folder else selected()
    return "artifacts" if chosen.name == "cpu" else f"results/{chosen.name}"


def reproduce(folder: str) -> str:
    """The DVC command that rewrites artifacts/<folder> (a foreach stage is addressed as stage@item)."""
    parts = folder.strip("/").split("/")
    if parts[0] == "metrics" or not parts[0]:
        return "dvc repro"
    return "dvc repro " + "@".join(parts[:2])


def _stamp(path: Path) -> int:
    return path.stat().st_mtime_ns


@st.cache_data(show_spinner=False, max_entries=512)
def _read_csv(path: str, mtime: int) -> pd.DataFrame:
    return _vocabulary(pd.read_csv(path))


def _vocabulary(df: pd.DataFrame) -> pd.DataFrame:
    """Tables written before the shared setting columns (training/stages/common.SETTINGS) said
    `labels` (real|partial|random) and `family`; read them in today's words: kind (none|randY) + p,
    regularizer. A no-op on tables the stages write now."""
    if "labels" in df.columns and "kind" not in df.columns:
        p = df["p"] if "p" in df.columns else df["labels"].map({"real": 0.0, "random": 1.0})
        df = df.assign(kind=["none" if q == 0 else "randY" for q in p], p=p)
    if "family" in df.columns and "regularizer" not in df.columns:
        df = df.rename(columns={"family": "regularizer"})
    return df


@st.cache_data(show_spinner=False, max_entries=128)
def _read_npz(path: str, mtime: int) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@st.cache_data(show_spinner=False, max_entries=512)
def _read_json(path: str, mtime: int) -> dict:
    return json.loads(Path(path).read_text())


def _path(folder: str, file: str) -> Path:
    path = source(folder).path / folder / file
    if not path.is_file():
        raise Missing(f"`{shown(folder)}/{folder}/{file}` has not been produced yet", folder)
    return path


def table(folder: str, name: str, needs=(), numeric=()) -> pd.DataFrame:
    """artifacts/<folder>/<name>.csv, checked to have the columns `needs` (and `numeric` ones as numbers)."""
    path = _path(folder, f"{name}.csv")
    try:
        df = _read_csv(str(path), _stamp(path))
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as err:  # EmptyDataError is a ValueError
        raise Missing(f"`{shown(folder)}/{folder}/{name}.csv` could not be read ({type(err).__name__})", folder) from err
    lacking = [c for c in (*needs, *numeric) if c not in df.columns]
    if lacking:
        raise Missing(f"`{shown(folder)}/{folder}/{name}.csv` lacks the column(s) {', '.join(lacking)}", folder)
    wrong = [c for c in numeric if not pd.api.types.is_numeric_dtype(df[c])]
    if wrong:
        raise Missing(f"`{shown(folder)}/{folder}/{name}.csv` has non-numeric values in {', '.join(wrong)}", folder)
    if df.empty:
        raise Missing(f"`{shown(folder)}/{folder}/{name}.csv` is empty", folder)
    return df


def arrays(folder: str, name: str, needs=()) -> dict[str, np.ndarray]:
    """artifacts/<folder>/<name>.npz as a dict of arrays (no pickles), checked to hold `needs`."""
    path = _path(folder, f"{name}.npz")
    try:
        out = _read_npz(str(path), _stamp(path))
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as err:
        raise Missing(f"`{shown(folder)}/{folder}/{name}.npz` could not be read ({type(err).__name__})", folder) from err
    lacking = [k for k in needs if k not in out]
    if lacking:
        raise Missing(f"`{shown(folder)}/{folder}/{name}.npz` lacks the array(s) {', '.join(lacking)}", folder)
    return out


def manifest(folder: str) -> dict:
    """artifacts/<folder>/manifest.json, or {} when absent or unreadable (provenance then says 'unknown')."""
    path = source(folder).path / folder / "manifest.json"
    try:
        data = _read_json(str(path), _stamp(path))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def manifests() -> dict[str, dict]:
    """Every stage folder's manifest, keyed by folder (e.g. 'e5/mnist'); looked up again only when
    the artifacts change (`generation`), since the sidebar shows them on every page run."""
    return _manifests(generation())


@st.cache_data(show_spinner=False, max_entries=8)
def _manifests(stamp: tuple) -> dict[str, dict]:
    base = root()
    if not base.is_dir():
        return {}
    found = sorted(p.parent.relative_to(base).as_posix() for p in base.glob("**/manifest.json"))
    return {folder: m for folder in found if (m := manifest(folder))}


def available(folder: str, name: str, ext: str = "csv") -> bool:
    return (source(folder).path / folder / f"{name}.{ext}").is_file()


GENERATION_TTL_S = 1.0  # a page run (a few dozen derived lookups) walks artifacts/ once, not once per lookup
_generation: tuple[float, tuple] = (float("-inf"), ())
_clock = time.monotonic  # tests move it forward


def generation() -> tuple[str, int, int]:
    """A stamp that changes whenever any artifact file is written, added or removed (newest mtime, count).
    Walking ~400 files costs ~0.1 s, so the stamp is reused for GENERATION_TTL_S seconds: a fresh
    `dvc repro` shows up on the first rerun after that."""
    global _generation
    now = _clock()
    checked, stamp = _generation
    if now - checked < GENERATION_TTL_S and stamp and stamp[0] == str(root()):
        return stamp
    base = root()
    newest, count = 0, 0
    for folder, _, files in os.walk(base):
        for name in files:
            try:
                newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime_ns)
                count += 1
            except OSError:
                continue
    stamp = (str(base), newest, count)
    _generation = (now, stamp)
    return stamp


_DERIVED: dict[str, Callable] = {}


@st.cache_data(show_spinner=False, max_entries=512)
def _derived(name: str, stamp: tuple, args: tuple, kwargs: tuple):
    return _DERIVED[name](*args, **dict(kwargs))


def derived(fn: Callable) -> Callable:
    """Caches a page's data shaping (a function of artifacts and a few plain arguments) until any artifact
    changes, so a rerun costs a dictionary lookup instead of pandas work. Errors (Missing) are not cached."""
    name = f"{fn.__code__.co_filename}:{fn.__qualname__}"
    _DERIVED[name] = fn

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return _derived(name, generation(), args, tuple(sorted(kwargs.items())))

    return wrapper


def finding(key: str, item: str = "", p: float | None = None) -> tuple[str, str]:
    """(answer, why) of one statement the claims stage judged for the pages (artifacts/claims/findings.csv:
    a question's answer, whether runs fitted, a regularizer's best deal, ...): pages say what it says and
    judge nothing themselves. Raises Missing when the scoreboard has no such row."""
    f = table("claims", "findings", needs=["key", "item", "answer", "why"])
    items = f["item"].astype(object).where(f["item"].notna(), "").astype(str)
    rows = f[(f["key"] == key) & (items == item)]
    if p is not None and "p" in rows.columns:
        rows = rows[np.isclose(pd.to_numeric(rows["p"], errors="coerce"), p)]
    if rows.empty:
        raise Missing(f"`{shown()}/claims/findings.csv` has no finding {key!r}"
                      + (f" for {item}" if item else "") + (f" at p = {p:g}" if p is not None else ""), "claims")
    return str(rows["answer"].iloc[0]), str(rows["why"].iloc[0])
