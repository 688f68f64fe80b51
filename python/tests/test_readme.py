"""The Python examples of python/README.md (and of the repository README's "Use from Python"
section, when it has one) run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def python_blocks(path: Path, section: str | None = None) -> list[str]:
    text = path.read_text()
    if section is not None:
        match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
        if match is None:
            return []
        text = match.group(1)
    return re.findall(r"```python\n(.*?)```", text, re.S)


def examples() -> list:
    found = []
    for path, section in [(HERE.parent / "README.md", None), (HERE.parent.parent / "README.md", "Use from Python")]:
        if path.is_file():
            for index, block in enumerate(python_blocks(path, section)):
                found.append(pytest.param(block, id=f"{path.parent.name}/{path.name}#{index}"))
    return found


@pytest.mark.parametrize("code", examples())
def test_readme_example_runs(code):
    if "import torch" in code:
        pytest.importorskip("torch")
    if "import jax" in code:
        pytest.importorskip("jax")
    exec(compile(code, "<README example>", "exec"), {"__name__": "__readme__"})


def test_docstring_examples():
    import doctest

    import gss

    for module in (gss._smooth, gss._box):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, module.__name__
    assert gss.smooth.__doc__ and "Parameters" in gss.smooth.__doc__
