"""Build every assignment into a student notebook, an autograder and a book page.

Each assignment is a folder ``assignments/<name>/`` holding one master notebook,
``<name>.md``: a MyST Markdown notebook (like the chapters) in the format of
``otter assign``, with the questions, the solutions and the public and hidden tests.
For each master this script writes, into ``assignments/<name>/dist/`` (generated, not
committed):

- ``student/<name>.ipynb`` — what students get: solutions replaced by ``...``, only the
  public tests (in the notebook's metadata, run by the ``grader.check`` cells);
- ``autograder/<name>.ipynb`` — the master with the solutions, without test cells;
- ``autograder/<name>-autograder.zip`` — the autograder that ``tools/grade.py``
  (``otter run``) and ``otter grade`` use: every test, hidden ones included;

and ``assignments/pages/<name>.ipynb``, the page of the book: the student notebook, not
executed, with the public tests shown after each check cell.

Usage::

    python tools/build_assignments.py               # every assignment, tests run
    python tools/build_assignments.py backprop      # one assignment
    python tools/build_assignments.py --no-run-tests --if-changed   # what build_book does

By default ``otter assign`` also grades the reference solutions against every test and
fails if one does not pass, so a broken master never reaches students.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ROOT / "assignments"
PAGES = ASSIGNMENTS / "pages"
BIN = Path(sys.executable).parent

__all__ = ["ASSIGNMENTS", "PAGES", "autograder_zip", "build", "masters", "student_notebook"]


def masters() -> dict[str, Path]:
    """Every assignment by name: the folders of ``assignments/`` holding ``<folder>.md``."""
    return {
        folder.name: folder / f"{folder.name}.md"
        for folder in sorted(ASSIGNMENTS.iterdir())
        if (folder / f"{folder.name}.md").is_file()
    }


def dist(name: str, output: Path | None = None) -> Path:
    """The folder that receives the generated versions of assignment ``name``.

    ``assignments/<name>/dist`` by default; ``output/<name>`` if an output folder is given
    (the tests build into a temporary folder that way).
    """
    return ASSIGNMENTS / name / "dist" if output is None else output / name


def student_notebook(name: str, output: Path | None = None) -> Path:
    """Path of the generated student notebook of assignment ``name``."""
    return dist(name, output) / "student" / f"{name}.ipynb"


def autograder_zip(name: str, output: Path | None = None) -> Path:
    """Path of the generated autograder of assignment ``name``."""
    return dist(name, output) / "autograder" / f"{name}-autograder.zip"


def source_hash(master: Path) -> str:
    """Hash of what a build depends on: the master, this script, and otter's version."""
    import otter

    digest = hashlib.sha256()
    for part in (master.read_bytes(), Path(__file__).read_bytes(), otter.__version__.encode()):
        digest.update(part)
    return digest.hexdigest()


def build(name: str, run_tests: bool = True, output: Path | None = None) -> None:
    """Build assignment ``name`` into ``dist/`` and its book page; raise if otter fails.

    With ``output``, everything goes to ``output/<name>/`` and the page to
    ``output/pages/``, and the repository is not touched.

    The master is converted to ``.ipynb`` in a temporary folder (otter reads notebooks,
    the repository keeps Markdown for readable diffs), ``otter assign`` writes the
    student and autograder versions, and the autograder zip gets a stable name (otter's
    carries a timestamp).
    """
    master = masters().get(name)
    if master is None:
        known = ", ".join(masters())
        raise ValueError(f"unknown assignment {name!r}; known assignments: {known}")
    out = dist(name, output)
    shutil.rmtree(out, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        notebook = Path(tmp) / f"{name}.ipynb"
        _run([str(BIN / "jupytext"), "--quiet", "--to", "ipynb", str(master), "-o", str(notebook)])
        command = [str(BIN / "otter"), "assign", str(notebook), str(out)]
        if not run_tests:
            command.insert(2, "--no-run-tests")
        _run(command, cwd=tmp)
    (zipped,) = (out / "autograder").glob(f"{name}-autograder_*.zip")
    zipped.rename(autograder_zip(name, output))
    write_page(name, output)
    (out / ".source-hash").write_text(source_hash(master))


def is_current(name: str) -> bool:
    """Whether ``dist/`` and the page of ``name`` were built from the current master."""
    stamp = dist(name) / ".source-hash"
    return (
        stamp.is_file()
        and stamp.read_text() == source_hash(masters()[name])
        and (PAGES / f"{name}.ipynb").is_file()
    )


def write_page(name: str, output: Path | None = None) -> Path:
    """Write the book page of ``name``: the student notebook, its public tests shown.

    The page is not executed (its answer cells hold ``...``), which the notebook's
    ``mystnb.execution_mode`` metadata tells the book; it is the notebook students
    download from the page, so it keeps otter's set-up cell (moved below the title) and
    the public tests in its metadata. After each ``grader.check("q")``
    cell a collapsed box shows the public tests of ``q``, the tests students can run;
    the hidden ones are not in the student notebook at all.
    """
    nb = nbformat.read(student_notebook(name, output), as_version=4)
    page = copy.deepcopy(nb)
    page.metadata["mystnb"] = {"execution_mode": "off"}
    tests = nb.metadata.get("otter", {}).get("tests", {})
    cells = []
    for cell in page.cells:
        cells.append(cell)
        check = re.fullmatch(r'grader\.check\("(\w+)"\)', cell.source.strip())
        if cell.cell_type == "code" and check and check.group(1) in tests:
            cells.append(nbformat.v4.new_markdown_cell(_public_tests_box(tests[check.group(1)])))
    # otter puts its set-up cell first; on a page the title belongs above it.
    if len(cells) > 1 and "otter.Notebook(" in cells[0].source and cells[1].cell_type == "markdown":
        cells[0], cells[1] = cells[1], cells[0]
    page.cells = cells
    pages = PAGES if output is None else output / "pages"
    pages.mkdir(parents=True, exist_ok=True)
    path = pages / f"{name}.ipynb"
    nbformat.write(page, path)
    return path


def _public_tests_box(test_file: str) -> str:
    """A collapsed admonition with the test functions of an otter test file."""
    # The file starts with otter's header (import, OK_FORMAT, name, points); show the
    # decorated test functions, which are what a student wants to read.
    start = test_file.find("@test_case")
    body = test_file[start:].strip() if start >= 0 else test_file.strip()
    return (
        ":::{admonition} The public tests run by the cell above\n"
        ":class: dropdown\n\n"
        f"```python\n{body}\n```\n"
        ":::\n"
    )


def _run(command: list[str], cwd: str | Path | None = None) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed with exit code {result.returncode}:\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="assignments to build (default: all)")
    parser.add_argument("--no-run-tests", action="store_true",
                        help="do not grade the reference solutions while building")
    parser.add_argument("--if-changed", action="store_true",
                        help="skip assignments whose master has not changed since their build")
    parser.add_argument("--output", type=Path, default=None,
                        help="build into OUTPUT/<name>/ and OUTPUT/pages/ instead of the "
                             "repository's assignments/<name>/dist/ and assignments/pages/")
    args = parser.parse_args(argv)
    names = args.names or list(masters())
    output = None if args.output is None else args.output.resolve()
    for name in names:
        if args.if_changed and output is None and name in masters() and is_current(name):
            continue
        print(f"building assignment {name}", flush=True)
        try:
            build(name, run_tests=not args.no_run_tests, output=output)
        except (RuntimeError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(f"  student notebook: {student_notebook(name, output)}")
        print(f"  autograder:       {autograder_zip(name, output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
