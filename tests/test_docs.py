"""The worked examples in ``docs/*.md`` and README.md run as written.

Every fenced ``python`` block of a document is executed in order in one namespace (a later
block may use names an earlier one defined); each block asserts what it claims.
"""

from __future__ import annotations

import pathlib
import re

import pytest

# Slow tier (pytest -m slow): subprocesses, benchmarks, compilation of large programs.
pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
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


def test_readme_examples_run(tmp_path, monkeypatch):
    """The README's python blocks, in order, in one namespace, in a scratch directory (the
    study example writes its folder), with one change: 1,000 splits for the README's 10,000
    (the same programs, a tenth of the running). ``enable_compilation_cache`` would turn on
    the persistent cache for the rest of this test process: it is called, and its directory
    checked, without that."""
    import jaxlogreg
    from jaxlogreg._cache import default_cache_dir

    calls = []

    def enable_compilation_cache(path=None):
        calls.append(default_cache_dir() if path is None else path)
        return calls[-1]

    monkeypatch.setattr(jaxlogreg, "enable_compilation_cache", enable_compilation_cache)
    monkeypatch.chdir(tmp_path)
    code = blocks(ROOT / "README.md")
    assert len(code) >= 4 and "num=10_000" in code[0]
    code = [block.replace("num=10_000", "num=1_000") for block in code]
    namespace = {"__name__": "docs.README"}
    for k, block in enumerate(code):
        exec(compile(block, f"README.md, python block {k + 1}", "exec"), namespace)
    assert calls and calls[0].endswith("jax")
    assert (tmp_path / "my-study" / "summary.json").exists()
    assert namespace["batch"].coef.shape == (1_000, 6)
