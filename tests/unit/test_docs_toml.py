"""Every ``toml`` block of the docs and the examples' READMEs is TOML that a reader can paste
(``tomllib`` parses it), and every ``hourhand.toml`` of the examples is too."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"```toml\n(.*?)```", re.DOTALL)
PAGES = sorted([REPO / "README.md", *REPO.glob("docs/**/*.md"), *REPO.glob("examples/*/README.md")])


def blocks() -> list[tuple[str, int, str]]:
    found = []
    for page in PAGES:
        for n, text in enumerate(BLOCK.findall(page.read_text()), 1):
            found.append((str(page.relative_to(REPO)), n, text))
    return found


@pytest.mark.parametrize(("page", "n", "text"), blocks(), ids=lambda v: str(v)[:40])
def test_a_toml_block_of_the_docs_parses(page: str, n: int, text: str) -> None:
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        pytest.fail(f"{page}, toml block {n}: {exc}")


@pytest.mark.parametrize(
    "path", sorted(REPO.glob("examples/*/hourhand.toml")), ids=lambda p: p.parent.name
)
def test_an_examples_hourhand_toml_parses(path: Path) -> None:
    tomllib.loads(path.read_text())
