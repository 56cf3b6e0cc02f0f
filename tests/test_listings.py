"""The package code the chapters show fits the page's code box.

A chapter shows the real code of the package with ``literalinclude`` and ``:pyobject:``.
The code box of the website shows about 80 characters on a desktop before it scrolls,
so every line of a shown function (its docstring included) is at most 80 characters,
counted after the ``:dedent:`` the directive asks for. The rest of the package may use
the project's 100 columns.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from conftest import ROOT

WIDTH = 80
DIRECTIVE = re.compile(r"```\{literalinclude\} \.\./(\S+)\n((?::[^\n]*\n)*)")


def shown_objects() -> list[tuple[str, str, str, bool]]:
    """(chapter, file, object, dedented) for every listing of a package object."""
    found = []
    for chapter in sorted(ROOT.glob("chapters/*.md")):
        for match in DIRECTIVE.finditer(chapter.read_text()):
            options = match.group(2)
            name = re.search(r":pyobject: (\S+)", options)
            if name:
                found.append((chapter.name, match.group(1), name.group(1),
                              ":dedent:" in options))
    return found


def object_lines(path: Path, name: str) -> tuple[list[str], int]:
    """The source lines of ``name`` (``Class.method`` allowed) and its first line number."""
    source = path.read_text()
    body = ast.parse(source).body
    node: ast.AST | None = None
    for part in name.split("."):
        node = next(
            n for n in body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and n.name == part
        )
        body = node.body
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
    return source.splitlines()[start:node.end_lineno], start + 1


def test_the_chapters_show_package_code():
    assert len(shown_objects()) >= 10


@pytest.mark.parametrize(
    "chapter, path, name, dedented", shown_objects(), ids=lambda v: str(v)
)
def test_shown_code_fits_the_code_box(chapter, path, name, dedented):
    lines, first = object_lines(ROOT / path, name)
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    cut = indent if dedented else 0
    long = [
        f"{path}:{first + i}: {len(line) - cut} characters"
        for i, line in enumerate(lines) if len(line) - cut > WIDTH
    ]
    assert not long, f"{chapter} shows {name}; shorten:\n" + "\n".join(long)
