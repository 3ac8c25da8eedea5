"""The worked examples in ``docs/*.md`` run as written.

Every fenced ``python`` block of a document is executed in order in one namespace (a later
block may use names an earlier one defined); each block asserts what it claims.
"""

from __future__ import annotations

import pathlib
import re

import pytest

# Slow tier (pytest -m slow): subprocesses, benchmarks, compilation of large programs.
pytestmark = pytest.mark.slow

DOCS = sorted((pathlib.Path(__file__).resolve().parent.parent / "docs").glob("*.md"))
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def blocks(path: pathlib.Path) -> list[str]:
    return BLOCK.findall(path.read_text())


def test_the_documents_have_examples():
    assert any(p.name == "embedding.md" for p in DOCS)
    for path in DOCS:
        assert blocks(path), f"{path.name} has no python example"


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_examples_run(path):
    namespace = {"__name__": f"docs.{path.stem}"}
    for k, code in enumerate(blocks(path)):
        exec(compile(code, f"{path.name}, python block {k + 1}", "exec"), namespace)
