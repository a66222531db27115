"""The README and docs/ stand on their own: every relative link points at a file or folder of this
checkout (and at an anchor that exists, for links into Markdown), and the README's experiment table names
every stage of dvc.yaml."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")  # [text](target); images are links too, but none here


def prose(text: str) -> str:
    """The Markdown without fenced code blocks and inline code, where brackets are not links."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def anchors(md: Path) -> set[str]:
    """Anchors a Markdown file offers: explicit <a id="..."> and GitHub's slug of every heading."""
    text = md.read_text()
    found = set(re.findall(r'<a id="([^"]+)"', text))
    for heading in re.findall(r"^#+ +(.+?) *$", prose(text), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def relative_links(md: Path) -> list[str]:
    return [t for t in LINK.findall(prose(md.read_text())) if not re.match(r"[a-z][a-z0-9+.-]*:", t)]


@pytest.mark.parametrize("md", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_every_relative_link_points_at_something_here(md):
    links = relative_links(md)
    assert links or md.name != "README.md", "the README links its experiments"
    broken = []
    for target in links:
        path, _, anchor = target.partition("#")
        dest = (md.parent / path).resolve() if path else md
        if not dest.exists():
            broken.append(f"{target}: no such file or folder")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no anchor #{anchor} in {dest.relative_to(ROOT)}")
        elif ROOT not in dest.parents and dest != ROOT:
            broken.append(f"{target}: outside the repository")
    assert not broken, f"{md.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_experiment_table_names_every_stage_of_dvc_yaml():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    text = (ROOT / "README.md").read_text()
    table = text.split("## Experiments", 1)[1].split("\n## ", 1)[0]
    lines = table.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| experiment"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    rows = lines[start + 2 : end]                                   # the experiment table alone
    named = {m for row in rows for m in re.findall(r"^\|[^|]*\| `([a-z0-9_]+)`", row)}
    assert named == set(stages), f"missing: {set(stages) - named}, not in dvc.yaml: {named - set(stages)}"
    for row in rows:  # every row links its stage code, its artifacts and its tests
        assert "](training/" in row and "](artifacts/" in row and "](tests/" in row, row
