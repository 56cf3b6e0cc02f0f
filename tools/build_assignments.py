"""Build every assignment: student notebook, student bundle, autograder, book page.

Each assignment is a folder ``assignments/<name>/`` holding its master notebook,
``<name>.md`` (MyST Markdown, in the format of ``otter assign``: questions, solutions,
public tests), and its grader's checks, ``checks.py`` (the hidden tests; see
``tools/grading_checks.py``). Both are private: they hold every answer. For each
assignment this script writes, into ``assignments/<name>/dist/`` (generated, not
committed):

- ``student/<name>.ipynb``: what students work in: solutions replaced by ``...``, the
  answer cells editable and only the set-up, data and check cells locked, the public tests
  in the metadata (``grader.check`` runs them, also when the file was renamed);
- ``student/<name>-student.zip``: what students download: that notebook, the ``bpbook``
  package as a wheel built from this working tree, and ``requirements.txt``, and nothing
  else (no master, no check, no solution);
- ``autograder/<name>-autograder.zip``: what grades: the checks, the grading tools, the
  same wheel, ``requirements.txt``, and Gradescope's ``setup.sh`` and ``run_autograder``;
  byte-for-byte reproducible, so its SHA-256 identifies it; no solution;
- ``autograder/<name>.ipynb``: the reference solution (for you and the tests);

and ``assignments/pages/<name>.ipynb`` (with the bundle next to it), the book's page: the
student notebook, not executed, with its public tests shown and a download link.

Usage::

    python tools/build_assignments.py               # every assignment, references graded
    python tools/build_assignments.py backprop      # one assignment
    python tools/build_assignments.py --no-run-tests --if-changed   # what build_book does

By default the reference solution is graded by ``tools/grade.py`` with the new autograder
and must score full marks, and the blank student notebook must score nothing; otter also
runs the public tests on the reference. A broken master never reaches students.
"""

from __future__ import annotations

import argparse
import copy
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools"
ASSIGNMENTS = ROOT / "assignments"
PAGES = ASSIGNMENTS / "pages"
BIN = Path(sys.executable).parent
#: The grading tools that go into every autograder zip.
GRADING_TOOLS = ("grade.py", "grading_checks.py", "grading_runner.py", "grading_sandbox.py",
                 "install_grading_deps.sh")
#: Packages of requirements.txt that students need (with its version bounds).
STUDENT_PACKAGES = ("numpy", "sympy", "mpmath", "matplotlib", "scikit-learn", "tqdm",
                    "threadpoolctl", "ipywidgets", "otter-grader", "jupyterlab", "ipykernel")
#: Packages of requirements.txt that the grading needs (it runs no Jupyter and no otter).
GRADING_PACKAGES = ("numpy", "sympy", "mpmath", "matplotlib", "scikit-learn", "tqdm",
                    "threadpoolctl")
#: Zip entries get this date, so that building twice gives the same bytes.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
#: otter's tag of a cell inside a ``# BEGIN SOLUTION`` block (an answer cell).
SOLUTION_TAG = "otter_assign_solution_cell"

__all__ = ["ASSIGNMENTS", "PAGES", "autograder_zip", "build", "bundle", "masters",
           "student_notebook"]


def masters() -> dict[str, Path]:
    """Every assignment by name: the folders of ``assignments/`` holding ``<folder>.md``."""
    return {
        folder.name: folder / f"{folder.name}.md"
        for folder in sorted(ASSIGNMENTS.iterdir())
        if (folder / f"{folder.name}.md").is_file()
    }


def dist(name: str, output: Path | None = None) -> Path:
    """The folder that receives the generated files of assignment ``name``.

    ``assignments/<name>/dist`` by default; ``output/<name>`` if an output folder is given
    (the tests build into a temporary folder that way).
    """
    return ASSIGNMENTS / name / "dist" if output is None else output / name


def student_notebook(name: str, output: Path | None = None) -> Path:
    """Path of the generated student notebook of assignment ``name``."""
    return dist(name, output) / "student" / f"{name}.ipynb"


def bundle(name: str, output: Path | None = None) -> Path:
    """Path of the zip that students download for assignment ``name``."""
    return dist(name, output) / "student" / f"{name}-student.zip"


def autograder_zip(name: str, output: Path | None = None) -> Path:
    """Path of the generated autograder of assignment ``name``."""
    return dist(name, output) / "autograder" / f"{name}-autograder.zip"


def reference_notebook(name: str, output: Path | None = None) -> Path:
    """Path of the reference solution (the master run through otter, with solutions)."""
    return dist(name, output) / "autograder" / f"{name}.ipynb"


def source_hash(master: Path) -> str:
    """Hash of what a build depends on: master, checks, package, grading tools, otter."""
    import otter

    digest = hashlib.sha256()
    parts = [master, master.with_name("checks.py"), Path(__file__),
             *(TOOLS / tool for tool in GRADING_TOOLS), ROOT / "pyproject.toml",
             ROOT / "requirements.txt", *sorted((ROOT / "src" / "bpbook").glob("*.py"))]
    for path in parts:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"")
    digest.update(otter.__version__.encode())
    return digest.hexdigest()


def build(name: str, run_tests: bool = True, output: Path | None = None) -> None:
    """Build assignment ``name`` (see the module's description); raise if anything fails.

    With ``output``, everything goes to ``output/<name>/`` and the page to
    ``output/pages/``, and the repository is not touched.
    """
    master = masters().get(name)
    if master is None:
        known = ", ".join(masters())
        raise ValueError(f"unknown assignment {name!r}; known assignments: {known}")
    if not master.with_name("checks.py").is_file():
        raise ValueError(f"assignment {name!r} has no checks.py next to its master")
    out = dist(name, output)
    shutil.rmtree(out, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        notebook = Path(tmp) / f"{name}.ipynb"
        _run([str(BIN / "jupytext"), "--quiet", "--to", "ipynb", str(master), "-o", str(notebook)])
        command = [str(BIN / "otter"), "assign", str(notebook), str(out)]
        if not run_tests:
            command.insert(2, "--no-run-tests")
        _run(command, cwd=tmp)
    # otter's own autograder runs its tests in the student's kernel; ours replaces it.
    for stale in (out / "autograder").glob(f"{name}-autograder_*.zip"):
        stale.unlink()
    (out / "autograder" / "otter_config.json").unlink(missing_ok=True)
    finish_student_notebook(student_notebook(name, output), question_points(name))
    finish_student_notebook(reference_notebook(name, output))
    wheel = build_wheel()
    write_bundle(name, wheel, output)
    write_autograder(name, wheel, output)
    write_page(name, output)
    if run_tests:
        grade_reference_and_blank(name, output)
    (out / ".source-hash").write_text(source_hash(master))


def is_current(name: str) -> bool:
    """Whether ``dist/`` and the page of ``name`` were built from the current sources."""
    stamp = dist(name) / ".source-hash"
    return (
        stamp.is_file()
        and stamp.read_text() == source_hash(masters()[name])
        and (PAGES / f"{name}.ipynb").is_file()
        and (PAGES / bundle(name).name).is_file()
    )


# --- the student notebook -------------------------------------------------------------------

def question_points(name: str) -> dict[str, str]:
    """What each question of ``name`` is worth, as shown in its heading ("4 points")."""
    import importlib.util

    sys.path.insert(0, str(TOOLS))
    import grading_checks

    spec = importlib.util.spec_from_file_location(f"build_checks_{name}",
                                                  ASSIGNMENTS / name / "checks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shown = {}
    for question, details in grading_checks.questions_of(module).items():
        points = f"{details.points:g} point" + ("" if details.points == 1 else "s")
        shown[question] = points + (", graded by hand" if details.manual else "")
    return shown


def finish_student_notebook(path: Path, points: dict[str, str] | None = None) -> None:
    """Make every answer cell editable and lock only the cells that must not change.

    otter locks every cell of a question outside a ``# BEGIN SOLUTION`` block; the masters
    put each answer inside one, and here each answer cell (and each written answer of a
    hand-graded question) is made editable explicitly and marked with its question in the
    metadata (``bpbook.answer``), which ``tools/grade.py`` uses to collect written answers.
    Locked: the set-up cell (collapsed), the cell that makes the student's data, and the
    ``grader.check`` cells. With ``points``, each question's heading shows its points.
    """
    nb = nbformat.read(path, as_version=4)
    questions = _question_of_cells(nb)
    for cell in nb.cells:
        heading = re.search(r"^(##\s+Question\s+(\d+)\b.*)$", cell.source, flags=re.M)
        if points and cell.cell_type == "markdown" and heading:
            worth = points.get(f"q{heading.group(2)}")
            if worth and worth not in heading.group(1):
                line = heading.group(1)
                cell.source = cell.source.replace(line, f"{line} ({worth})", 1)
    for index, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        source = cell.source
        answer = SOLUTION_TAG in tags or (
            cell.cell_type == "markdown" and "Type your answer here" in source)
        if answer:
            cell.metadata["editable"] = True
            cell.metadata["deletable"] = False
            if questions.get(index):
                cell.metadata["bpbook"] = {"answer": questions[index]}
        elif "otter.Notebook(" in source or "def student_data(" in source:
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
            if "otter.Notebook(" in source:
                cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
        elif re.fullmatch(r'grader\.check\("\w+"\)', source.strip()):
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
    nbformat.write(nb, path)


def _question_of_cells(nb) -> dict[int, str]:
    """The question each cell belongs to, from the ``## Question N`` headings."""
    questions, current = {}, None
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            heading = re.search(r"^##\s+Question\s+(\d+)", cell.source, flags=re.M)
            if heading:
                current = f"q{heading.group(1)}"
            elif re.search(r"^## ", cell.source, flags=re.M):
                current = None
        questions[index] = current
    return questions


# --- the wheel, the bundle and the autograder -----------------------------------------------

@functools.lru_cache(maxsize=1)
def build_wheel() -> Path:
    """A wheel of ``bpbook`` built from this working tree (reproducibly, once per process).

    Built from a clean copy of ``pyproject.toml``, ``README.md`` and ``src/bpbook`` in a
    temporary folder, so no stale file of an earlier build can slip in.
    """
    work = Path(tempfile.mkdtemp(prefix="bpbook-wheel-"))
    source = work / "source"
    shutil.copytree(ROOT / "src" / "bpbook", source / "src" / "bpbook",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    env = {**os.environ, "SOURCE_DATE_EPOCH": "315532800", "PIP_NO_INDEX": "1"}
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
          "--wheel-dir", str(work / "wheel"), str(source)], env=env)
    (wheel,) = (work / "wheel").glob("bpbook-*.whl")
    return wheel


def _requirements(names: tuple[str, ...]) -> list[str]:
    """The lines of requirements.txt for the packages ``names``, with their bounds."""
    lines = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        match = re.match(r"([A-Za-z0-9_.-]+)", line.strip())
        if match and match.group(1).lower() in names:
            lines.append(line.strip())
    return lines


def write_zip(path: Path, files: dict[str, bytes], executable: set[str] = frozenset()) -> None:
    """A zip of ``files`` (name to bytes) with fixed dates and modes: same input, same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100755 if name in executable else 0o100644) << 16
            archive.writestr(info, files[name])


STUDENT_README = """\
# {name}: the student bundle

This folder holds everything you need for the assignment:

- `{name}.ipynb`, the notebook you work in and hand in;
- `{wheel}`, the `bpbook` package of the book (the code the chapters show);
- `requirements.txt`, the packages to install.

With Python 3.11 or newer, in this folder:

```bash
python3 -m venv .venv
.venv/bin/python -m pip install -r requirements.txt
.venv/bin/jupyter lab {name}.ipynb
```

(On Windows: `py -m venv .venv`, then `.venv\\Scripts\\python -m pip install -r
requirements.txt` and `.venv\\Scripts\\jupyter lab {name}.ipynb`.) Run the notebook's first
cell, set `STUDENT_ID`, and replace every `...` with your answer; the cell after each
question runs its public tests. Hand in `{name}.ipynb` (any file name is fine).
"""


def write_bundle(name: str, wheel: Path, output: Path | None = None) -> Path:
    """Write the student bundle of ``name``: notebook, wheel, requirements, instructions."""
    requirements = [
        "# Install in a fresh virtual environment: python -m pip install -r requirements.txt",
        f"./{wheel.name}", *_requirements(STUDENT_PACKAGES),
    ]
    files = {
        f"{name}/{name}.ipynb": student_notebook(name, output).read_bytes(),
        f"{name}/{wheel.name}": wheel.read_bytes(),
        f"{name}/requirements.txt": ("\n".join(requirements) + "\n").encode(),
        f"{name}/README.md": STUDENT_README.format(name=name, wheel=wheel.name).encode(),
    }
    path = bundle(name, output)
    write_zip(path, files)
    return path


RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope's entry point: grade the notebook in /autograder/submission.
set -euo pipefail
cd /autograder/source
exec /autograder/venv/bin/python grade.py --gradescope /autograder/submission \\
    --autograder-folder /autograder/source --results /autograder/results/results.json
"""

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope builds its grading image with this script (choose the Ubuntu 24.04 base image):
# Python, bubblewrap, and the grading requirements in /autograder/venv.
set -euo pipefail
cd /autograder/source
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv bubblewrap >/dev/null
python3 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --quiet -r requirements.txt
"""

AUTOGRADER_README = """\
# The autograder of {name}

Private: it holds the hidden checks. Three ways to use it:

- `make grade SUBMISSIONS=folder` in the book's repository grades a folder of notebooks
  with it (each in a bubblewrap sandbox).
- Gradescope: upload this zip as a programming assignment's autograder, on the Ubuntu
  24.04 base image. `setup.sh` installs Python, bubblewrap and `requirements.txt` (which
  includes the `bpbook` wheel shipped here); `run_autograder` grades the submitted
  notebook and writes `results.json`. Hand-graded questions are not in the score: grade
  them in Gradescope's own interface.
- Any machine or container: `python3 -m venv venv && venv/bin/pip install -r
  requirements.txt`, then `venv/bin/python grade.py --gradescope FOLDER
  --autograder-folder . --results results.json` grades the one notebook in FOLDER.
"""


def write_autograder(name: str, wheel: Path, output: Path | None = None) -> Path:
    """Write the autograder zip of ``name`` (see the module's description)."""
    folder = ASSIGNMENTS / name
    requirements = [f"./{wheel.name}", *_requirements(GRADING_PACKAGES),
                    f"ipython=={_version('ipython')}"]
    settings = {"name": name, "wheel": wheel.name}
    files = {
        "checks.py": (folder / "checks.py").read_bytes(),
        "assignment.json": (json.dumps(settings, indent=1, sort_keys=True) + "\n").encode(),
        "requirements.txt": ("\n".join(requirements) + "\n").encode(),
        "run_autograder": RUN_AUTOGRADER.encode(),
        "setup.sh": SETUP_SH.encode(),
        "README.md": AUTOGRADER_README.format(name=name).encode(),
        wheel.name: wheel.read_bytes(),
    }
    for tool in GRADING_TOOLS:
        files[tool] = (TOOLS / tool).read_bytes()
    path = autograder_zip(name, output)
    write_zip(path, files, executable={"run_autograder", "setup.sh", "install_grading_deps.sh"})
    return path


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


# --- the book page --------------------------------------------------------------------------

def write_page(name: str, output: Path | None = None) -> Path:
    """Write the book page of ``name``: the student notebook, its public tests shown.

    The page is not executed (its answer cells hold ``...``), which the notebook's
    ``mystnb.execution_mode`` metadata tells the book. Below the title, a box links the
    student bundle (copied next to the page); after each ``grader.check("q")`` cell a
    collapsed box shows the public tests of ``q``; the hidden checks are in no student file.
    """
    nb = nbformat.read(student_notebook(name, output), as_version=4)
    page = copy.deepcopy(nb)
    page.metadata["mystnb"] = {"execution_mode": "off"}
    tests = nb.metadata.get("otter", {}).get("tests", {})
    cells = []
    for cell in page.cells:
        if "otter.Notebook(" in cell.source:
            continue  # the set-up machinery is in the download, not on the page
        cells.append(cell)
        check = re.fullmatch(r'grader\.check\("(\w+)"\)', cell.source.strip())
        if cell.cell_type == "code" and check and check.group(1) in tests:
            cells.append(nbformat.v4.new_markdown_cell(_public_tests_box(tests[check.group(1)])))
    zip_name = bundle(name).name
    cells.insert(1, nbformat.v4.new_markdown_cell(
        ":::{admonition} Work on it in JupyterLab\n"
        f"Download {{download}}`the student bundle <{zip_name}>`: the notebook "
        f"`{name}.ipynb`, the book's package `bpbook` as a wheel, and `requirements.txt`. "
        "Unzip it and, in its folder, run `python3 -m venv .venv`, "
        "`.venv/bin/python -m pip install -r requirements.txt` and "
        f"`.venv/bin/jupyter lab {name}.ipynb` (the bundle's `README.md` has the same for "
        "Windows). Hand in the notebook.\n:::\n"))
    page.cells = cells
    pages = PAGES if output is None else output / "pages"
    pages.mkdir(parents=True, exist_ok=True)
    path = pages / f"{name}.ipynb"
    nbformat.write(page, path)
    shutil.copy(bundle(name, output), pages / zip_name)
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


# --- grading the reference ------------------------------------------------------------------

def grade_reference_and_blank(name: str, output: Path | None = None) -> None:
    """Grade the reference (must score full marks) and the blank notebook (must score 0)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "submissions"
        folder.mkdir()
        shutil.copy(reference_notebook(name, output), folder / "reference.ipynb")
        shutil.copy(student_notebook(name, output), folder / "blank.ipynb")
        command = [sys.executable, str(TOOLS / "grade.py"), str(folder), "--assignment", name,
                   "--output", str(Path(tmp) / "grades")]
        if output is not None:
            command += ["--autograders", str(output)]
        _run(command)
        grades = {g["submission"]: g for g in json.loads(
            (Path(tmp) / "grades" / "scores.json").read_text())["grades"]}
    reference, blank = grades["reference.ipynb"], grades["blank.ipynb"]
    failed = [f"{c['question']}/{c['name']}: {c['message']}" for c in reference["checks"]
              if not c["passed"]]
    if reference["status"] != "graded" or failed or not reference["possible"]:
        raise RuntimeError(f"the reference solution of {name} does not score full marks: "
                           f"{reference['reason']} {failed}")
    if blank["status"] != "graded" or blank["score"] != 0:
        passed = [c["name"] for c in blank["checks"] if c["passed"]]
        raise RuntimeError(f"the blank notebook of {name} scores {blank['score']}: {passed}")


def _run(command: list[str], cwd: str | Path | None = None, env: dict | None = None) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed with exit code {result.returncode}:\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="assignments to build (default: all)")
    parser.add_argument("--no-run-tests", action="store_true",
                        help="do not grade the reference solution and the blank notebook")
    parser.add_argument("--if-changed", action="store_true",
                        help="skip assignments whose sources have not changed since their build")
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
        print(f"  student bundle:   {bundle(name, output)}")
        print(f"  autograder:       {autograder_zip(name, output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
