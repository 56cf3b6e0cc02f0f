"""Grade a folder of submitted notebooks into a table of scores, without Docker.

Each notebook is graded by ``otter run`` against the autograder of its assignment (built
by ``tools/build_assignments.py``), in a subprocess of its own with a time limit, so one
submission that raises, loops forever or is not a notebook at all cannot stop the others:

- a cell that raises counts as an error in that cell; the notebook runs on, and every
  test is graded on what the notebook defined;
- a cell that runs longer than ``--cell-timeout`` seconds is interrupted and counts as
  an error in that cell, as above;
- a notebook whose grading takes longer than ``--timeout`` seconds in all, or that is
  not a readable notebook, scores 0, and the table says why.

Usage::

    python tools/grade.py SUBMISSIONS [--assignment NAME] [--output scores.csv]

The assignment of a notebook is read from its metadata (``otter.assignment_name``, which
the student notebooks carry); ``--assignment`` sets it for all of them. The result is a
CSV file (one row per notebook: total, per-question scores, status and reason), a JSON
file with every test case's result next to it, and a Markdown table on stdout.

``otter run`` executes the submitted code with the grader's own rights. Grade untrusted
submissions in a container instead: ``otter grade`` (see ``assignments/README.md``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_assignments import autograder_zip, masters  # noqa: E402

__all__ = ["Grade", "grade_all", "grade_notebook"]

#: Default limits in seconds: the whole grading of one notebook, and one cell of it.
TIMEOUT = 900
CELL_TIMEOUT = 300


@dataclass
class Grade:
    """The grade of one submitted notebook.

    ``questions`` maps each question to ``[score, possible]``; ``tests`` lists every test
    case as ``{"question", "test", "hidden", "points", "passed", "message"}``. ``status``
    is ``"graded"``, or ``"error"`` when the notebook could not be graded, in which case
    ``reason`` says why and the score is 0.
    """

    submission: str
    assignment: str | None
    score: float = 0.0
    possible: float = 0.0
    status: str = "error"
    reason: str = ""
    questions: dict[str, list[float]] = field(default_factory=dict)
    tests: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.possible if self.possible else 0.0

    def failed(self) -> set[str]:
        """Names ``"question/test_function"`` of the test cases that failed."""
        return {f"{t['question']}/{t['test']}" for t in self.tests if not t["passed"]}


def assignment_of(notebook: Path) -> str | None:
    """The assignment named in a notebook's otter metadata, or None if it has none."""
    try:
        metadata = json.loads(notebook.read_text(encoding="utf-8")).get("metadata", {})
        return metadata.get("otter", {}).get("assignment_name")
    except (OSError, ValueError, AttributeError):
        return None


def grade_notebook(
    notebook: Path,
    assignment: str | None = None,
    timeout: float = TIMEOUT,
    cell_timeout: float = CELL_TIMEOUT,
    autograders: Path | None = None,
) -> Grade:
    """Grade one notebook in a subprocess; never raises for a bad submission.

    Parameters
    ----------
    notebook : Path
        The submitted ``.ipynb``.
    assignment : str, optional
        Its assignment; default: the one named in its metadata.
    timeout : float
        Seconds the whole grading may take; the process tree is killed after that.
    cell_timeout : float
        Seconds one cell may run before it is interrupted.
    autograders : Path, optional
        The ``--output`` folder of a build of the assignments; default: the repository's
        ``assignments/<name>/dist``.
    """
    started = time.perf_counter()
    grade = _grade_notebook(notebook, assignment, timeout, cell_timeout, autograders)
    grade.seconds = round(time.perf_counter() - started, 1)
    return grade


def _grade_notebook(notebook, assignment, timeout, cell_timeout, autograders) -> Grade:
    assignment = assignment or assignment_of(notebook)
    grade = Grade(str(notebook), assignment)
    if assignment is None:
        grade.reason = "cannot tell the assignment (no otter metadata); pass --assignment"
        return grade
    autograder = autograder_zip(assignment, autograders)
    if not autograder.is_file():
        grade.reason = f"no autograder for {assignment!r}; run `make assignments` first"
        return grade
    grade.possible = _points_possible(autograder)
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "grade.json"
        command = [
            sys.executable, __file__, "--worker", str(notebook.resolve()), "--autograder",
            str(autograder.resolve()), "--result", str(result),
            "--cell-timeout", str(cell_timeout),
        ]
        finished, log = _run_bounded(command, timeout, cwd=tmp)
        if not finished:
            grade.reason = f"grading did not finish within {timeout:g} s"
        elif result.is_file():
            return Grade(**{**json.loads(result.read_text()), "submission": str(notebook)})
        else:
            grade.reason = _last_error(log)
    return grade


#: Environment variable that marks every process started to grade one notebook.
MARKER = "BPBOOK_GRADING"


def _run_bounded(command: list[str], timeout: float, cwd: str) -> tuple[bool, str]:
    """Run ``command``; kill it and every process it started if it exceeds ``timeout``.

    The kernel that executes a notebook runs in a session of its own, so killing the
    worker's process group would leave it running. Every process of one grading inherits
    a unique value of the environment variable :data:`MARKER`; on timeout we kill the
    worker's tree of children, and after every grading any process still carrying that
    value (a kernel that outlived its worker, or a process the student's code started).
    """
    # The prefix names the process that started the grading (see marked_processes).
    token = f"{os.getpid()}-{uuid.uuid4().hex}"
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, MARKER: token},
        )
        try:
            process.wait(timeout=timeout)
            finished = True
        except subprocess.TimeoutExpired:
            finished = False
            _kill_tree(process.pid, token)
            process.wait()
        finally:
            _kill_all(marked_processes(token))
        log.seek(0)
        return finished, log.read()


def _kill_tree(pid: int, token: str) -> None:
    """Kill process ``pid``, its descendants, and every process marked with ``token``."""
    import psutil

    victims = psutil.Process(pid).children(recursive=True)
    os.killpg(pid, signal.SIGKILL)
    _kill_all(victims + marked_processes(token))


def _kill_all(processes: list) -> None:
    """Kill the given psutil processes and wait until they are gone."""
    import psutil

    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(processes, timeout=10)


def marked_processes(token: str | None = None, owner: int | None = None) -> list:
    """Live processes started to grade a notebook.

    Parameters
    ----------
    token : str, optional
        Only those of the grading with this marker value.
    owner : int, optional
        Only those of gradings started by the process with this id.
    """
    import psutil

    found = []
    for process in psutil.process_iter():
        try:
            value = process.environ().get(MARKER)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
        if value is None or (token is not None and value != token):
            continue
        if owner is None or value.startswith(f"{owner}-"):
            found.append(process)
    return found


def _last_error(log: str) -> str:
    """The last line of a worker's log that names an error, for the table."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if re.search(r"(Error|Exception)\b", line)]
    reason = (errors or lines or ["the grader stopped without a result"])[-1]
    return reason[:300]


def _points_possible(autograder: Path) -> float:
    """Total points of an autograder, read from its test files."""
    total = 0.0
    with zipfile.ZipFile(autograder) as archive:
        for name in archive.namelist():
            if name.startswith("tests/") and name.endswith(".py"):
                source = archive.read(name).decode()
                total += sum(float(p) for p in re.findall(r"@test_case\(points=([\d.]+)", source))
    return total


def _test_names(autograder: Path) -> dict[str, list[str]]:
    """For each question, the names of its test functions in the order otter runs them."""
    names = {}
    with zipfile.ZipFile(autograder) as archive:
        for name in archive.namelist():
            if name.startswith("tests/") and name.endswith(".py"):
                source = archive.read(name).decode()
                names[Path(name).stem] = re.findall(r"^def (\w+)\(", source, flags=re.M)
    return names


def worker(notebook: Path, autograder: Path, result: Path, cell_timeout: float) -> None:
    """Grade ``notebook`` with ``otter run`` in this process; write a :class:`Grade` as JSON."""
    import otter.execute
    import otter.run
    from traitlets.config import Config

    # otter configures nbclient inside grade_notebook with a fresh Config and no cell
    # time limit; give it one that interrupts a cell which runs too long, so the rest of
    # the notebook is still executed and graded.
    def config_with_cell_timeout() -> Config:
        config = Config()
        config.ExecutePreprocessor.timeout = cell_timeout
        config.ExecutePreprocessor.interrupt_on_timeout = True
        return config

    otter.execute.Config = config_with_cell_timeout
    with tempfile.TemporaryDirectory() as out:
        results = otter.run.main(
            str(notebook), autograder=str(autograder), output_dir=out, no_logo=True
        )
    names = _test_names(autograder)
    grade = Grade(str(notebook), assignment_of(notebook), status="graded")
    for question, test_file in results.results.items():
        grade.questions[question] = [float(test_file.score), float(test_file.possible)]
        functions = names.get(question, [])
        for i, outcome in enumerate(test_file.test_case_results):
            case = outcome.test_case
            grade.tests.append({
                "question": question,
                "test": functions[i] if i < len(functions) else case.name,
                "hidden": bool(case.hidden),
                "points": float(case.points or 0.0),
                "passed": bool(outcome.passed),
                "message": "" if outcome.passed else str(outcome.message)[-500:],
            })
    grade.score = float(results.total)
    grade.possible = float(results.possible)
    if results.catastrophic_error is not None:
        grade.reason = str(results.catastrophic_error)[:300]
    result.write_text(json.dumps(asdict(grade)))


def grade_all(
    folder: Path,
    assignment: str | None = None,
    timeout: float = TIMEOUT,
    cell_timeout: float = CELL_TIMEOUT,
    jobs: int = 2,
    autograders: Path | None = None,
) -> list[Grade]:
    """Grade every ``*.ipynb`` in ``folder`` (not recursively), ``jobs`` at a time.

    The arguments are those of :func:`grade_notebook`; ``jobs`` notebooks are graded in
    parallel, each in its own process.
    """
    notebooks = sorted(folder.glob("*.ipynb"))

    def one(notebook: Path) -> Grade:
        return grade_notebook(notebook, assignment, timeout, cell_timeout, autograders)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, notebooks))


def write_csv(grades: list[Grade], path: Path) -> None:
    """One row per submission: file, assignment, total, status, reason, per-question scores,
    and the seconds its grading took."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["submission", "assignment", "score", "possible", "percent", "status", "reason",
             "questions", "seconds"]
        )
        for g in grades:
            questions = "; ".join(f"{q} {s:g}/{p:g}" for q, (s, p) in sorted(g.questions.items()))
            writer.writerow([
                Path(g.submission).name, g.assignment or "", f"{g.score:g}", f"{g.possible:g}",
                f"{g.percent:.1f}", g.status, g.reason, questions, f"{g.seconds:g}",
            ])


def markdown_table(grades: list[Grade]) -> str:
    """The scores as a Markdown table, for the terminal or a report."""
    rows = [
        "| submission | assignment | score | % | status | reason |",
        "| --- | --- | ---: | ---: | --- | --- |",
    ]
    for g in grades:
        reason = g.reason.replace("|", "\\|").replace("\n", " ")
        rows.append(
            f"| {Path(g.submission).name} | {g.assignment or '?'} | "
            f"{g.score:g} / {g.possible:g} | {g.percent:.0f} | {g.status} | {reason} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, nargs="?",
                        help="folder of submitted .ipynb notebooks")
    parser.add_argument("--assignment", choices=list(masters()),
                        help="grade every notebook as this assignment (default: from metadata)")
    parser.add_argument("--output", type=Path, default=None,
                        help="CSV file to write (default: SUBMISSIONS/scores.csv); "
                             "the per-test details go to the same name with .json")
    parser.add_argument("--timeout", type=float, default=TIMEOUT,
                        help=f"seconds per notebook (default {TIMEOUT})")
    parser.add_argument("--cell-timeout", type=float, default=CELL_TIMEOUT,
                        help=f"seconds per cell (default {CELL_TIMEOUT})")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks graded at once")
    parser.add_argument("--autograders", type=Path, default=None,
                        help="the --output folder of tools/build_assignments.py "
                             "(default: assignments/<name>/dist)")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--autograder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        worker(args.worker, args.autograder, args.result, args.cell_timeout)
        return 0
    if args.submissions is None or not args.submissions.is_dir():
        parser.error(f"SUBMISSIONS must be a folder of notebooks, got {args.submissions}")
    if args.jobs < 1 or args.timeout <= 0 or args.cell_timeout <= 0:
        parser.error("--jobs, --timeout and --cell-timeout must be positive")
    grades = grade_all(args.submissions, args.assignment, args.timeout, args.cell_timeout,
                       args.jobs, args.autograders)
    if not grades:
        print(f"no .ipynb files in {args.submissions}", file=sys.stderr)
        return 1
    output = args.output or args.submissions / "scores.csv"
    write_csv(grades, output)
    output.with_suffix(".json").write_text(
        json.dumps([asdict(g) for g in grades], indent=1, ensure_ascii=False)
    )
    print(markdown_table(grades))
    print(f"\nwrote {output} and {output.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
