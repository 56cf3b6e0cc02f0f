"""Grade a folder of submitted notebooks: scores, feedback and hand-grading sheets.

Usage::

    python tools/grade.py SUBMISSIONS [--assignment NAME] [--output FOLDER] [--jobs 2]

Every ``*.ipynb`` under ``SUBMISSIONS`` (subfolders included) is graded against the
autograder of its assignment (``assignments/<name>/dist/autograder/<name>-autograder.zip``,
built by ``make assignments``); other files are listed as skipped. Each notebook is graded
in three steps, the first two in bubblewrap sandboxes (``tools/grading_sandbox.py``) with
no network, no view of anything but what the step needs, and limits on memory, time and
processes:

1. **the notebook run**: the code cells, top to bottom, in a fresh IPython process with the
   real ``bpbook``; the values the checks need (``VALUES`` of the checks) are reported;
2. **the probes**, one fresh process per question: only the notebook's definitions, with
   the package functions that compute what the question asks for replaced by tripwires,
   called on the checks' inputs (per-student, seeded by the student id);
3. **the checks**, outside every sandbox: they compute what is expected with the real
   package and compare. No code of the submission runs here, so replacing otter, NumPy or
   a checker inside the notebook changes nothing.

One submission's crash, endless loop, exhausted memory or killed process is an error of
that submission with its reason and never stops the run; scores are written only by this
process, after every notebook is done, into ``--output`` (default: a folder next to the
submissions, ``<SUBMISSIONS>-grades``):

- ``scores.csv``: one row per notebook: the student id, one numeric column per question
  (hand-graded questions empty and listed as pending), total, percentage, status, reason;
- ``scores.json``: the same with every check, its points and its message;
- ``feedback/<student id>.md``: what each check found, with the message that names the
  mistake (never the code of a hidden check);
- ``hand-grading/<question>.md``: every student's answer to each hand-graded question.

The student id is the file name (without ``.ipynb`` and a browser's `` (1)``), or what
``--id-pattern`` (a regular expression with a group ``id``) finds in the path relative to
``SUBMISSIONS``; ``--ids notebook`` takes the ``STUDENT_ID`` the notebook assigns instead.
The assignment is ``--assignment`` or the notebook's otter metadata, and must be one of the
built assignments (never a path).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))

__all__ = ["Autograder", "Grade", "grade_all", "grade_submission", "main"]

#: Limits, in seconds: the notebook run, one of its cells, the probes of one question,
#: one probe call.
NOTEBOOK_SECONDS = 600.0
CELL_SECONDS = 120.0
PROBE_SECONDS = 180.0
CALL_SECONDS = 30.0
#: Address space of one sandbox, in bytes.
MEMORY = 3 << 30
#: Largest notebook file graded, in bytes.
MAX_NOTEBOOK_BYTES = 20 << 20
#: An assignment name: lower-case letters, digits and underscores (never a path).
NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
STUDENT_ID_NAME = "STUDENT_ID"


@dataclass
class Grade:
    """The grade of one submitted notebook.

    ``questions`` maps each autograded question to ``[score, possible]``; ``pending`` each
    hand-graded question to its points; ``checks`` lists every check as ``{"question",
    "name", "points", "public", "passed", "message"}``. ``status`` is ``"graded"``, or
    ``"error"`` when the notebook could not be graded at all (``reason`` says why; the
    score is then 0).
    """

    submission: str
    student_id: str
    assignment: str | None
    score: float = 0.0
    possible: float = 0.0
    status: str = "error"
    reason: str = ""
    questions: dict[str, list[float]] = field(default_factory=dict)
    pending: dict[str, float] = field(default_factory=dict)
    checks: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.possible if self.possible else 0.0

    def failed(self) -> set[str]:
        """``"question/check"`` of every failed check."""
        return {f"{c['question']}/{c['name']}" for c in self.checks if not c["passed"]}


# --- autograders ----------------------------------------------------------------------------

class Autograder:
    """An autograder zip, unpacked into a private folder: checks, package, settings.

    The zip (built by ``tools/build_assignments.py``) holds ``checks.py``, the ``bpbook``
    wheel, ``assignment.json`` and the grading tools. Everything is read once, when the
    grading starts; the zip's SHA-256 is kept to show which autograder graded.
    """

    def __init__(self, source: Path, work: Path) -> None:
        self.source = source
        if source.is_dir():
            self.folder = source
            self.sha256 = ""
        else:
            data = source.read_bytes()
            self.sha256 = hashlib.sha256(data).hexdigest()
            self.folder = work / f"autograder-{self.sha256[:12]}"
            if not self.folder.is_dir():
                with zipfile.ZipFile(source) as archive:
                    for member in archive.namelist():
                        target = (self.folder / member).resolve()
                        if self.folder.resolve() not in target.parents:
                            raise ValueError(f"{source} holds a path outside itself: {member}")
                    archive.extractall(self.folder)
        settings = json.loads((self.folder / "assignment.json").read_text())
        self.name = settings["name"]
        self.settings = settings
        wheels = sorted(self.folder.glob("bpbook-*.whl"))
        self.package = self.folder / "package"
        if not (self.package / "bpbook").is_dir():
            if not wheels:
                raise ValueError(f"{source} holds no bpbook wheel")
            with zipfile.ZipFile(wheels[-1]) as wheel:
                members = [m for m in wheel.namelist() if m.startswith("bpbook/")]
                wheel.extractall(self.package, members)

    def checks_module(self):
        """The assignment's checks, imported from the autograder."""
        name = f"checks_{self.name}"
        if name in sys.modules:
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, self.folder / "checks.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module


def repository_autograders(autograders: Path | None = None) -> dict[str, Path]:
    """Built autograder zips by assignment name, from the repository or a build folder."""
    if autograders is None:
        zips = (TOOLS.parent / "assignments").glob("*/dist/autograder/*-autograder.zip")
    else:
        zips = autograders.glob("*/autograder/*-autograder.zip")
    found = {}
    for zipped in sorted(zips):
        name = zipped.name.removesuffix("-autograder.zip")
        if NAME.fullmatch(name):
            found[name] = zipped
    return found


# --- reading a submission -------------------------------------------------------------------

def read_notebook(path: Path) -> dict:
    """The notebook's JSON, or ``ValueError`` saying why it is not a notebook."""
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"the file is larger than {MAX_NOTEBOOK_BYTES >> 20} MB")
    text = path.read_bytes()
    if not text.strip():
        raise ValueError("the file is empty")
    try:
        notebook = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("the file is not a Jupyter notebook (not JSON)") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError("the file is JSON but not a Jupyter notebook (no list of cells)")
    return notebook


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def code_cells(notebook: dict) -> list[str]:
    """The sources of the code cells; otter's set-up and check cells are left empty."""
    return [source for _, source in numbered_code_cells(notebook)]


def numbered_code_cells(notebook: dict) -> list[tuple[int, str]]:
    """``(position in the notebook, source)`` of every code cell, as :func:`code_cells`."""
    cells = []
    for index, cell in enumerate(notebook["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell_source(cell)
        if "otter.Notebook(" in source or re.fullmatch(r"\s*grader\.check\([^)]*\)\s*", source):
            source = ""
        cells.append((index, source))
    return cells


def notebook_assignment(notebook: dict) -> str | None:
    metadata = notebook.get("metadata", {})
    otter = metadata.get("otter", {}) if isinstance(metadata, dict) else {}
    name = otter.get("assignment_name") if isinstance(otter, dict) else None
    return name if isinstance(name, str) else None


def notebook_student_id(notebook: dict) -> str | None:
    """The string literal the notebook assigns to ``STUDENT_ID``, if any."""
    import ast

    for source in code_cells(notebook):
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in tree.body:
            if (isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == STUDENT_ID_NAME for t in node.targets)
                    and isinstance(node.value, ast.Constant)
                    and isinstance(node.value.value, str) and node.value.value.strip()):
                return node.value.value.strip()
    return None


#: otter's placeholder in the answer cell of a hand-graded question.
PLACEHOLDER = "_Type your answer here, replacing this text._"


def manual_answers(notebook: dict, questions: list[str]) -> dict[str, str]:
    """Each hand-graded question's written answer, for the hand-grading sheets.

    The Markdown cells marked as its answer (``bpbook.answer`` in their metadata); for a
    question without marked cells (a student may have pasted the answer into a new cell),
    the Markdown cells between its heading ``## Question N`` and the next heading.
    """
    answers: dict[str, list[str]] = {}
    current = None
    unmarked: dict[str, list[str]] = {}
    for cell in notebook["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "markdown":
            continue
        text = cell_source(cell).strip()
        metadata = cell.get("metadata", {})
        marked = metadata.get("bpbook", {}).get("answer") if isinstance(metadata, dict) else None
        heading = re.search(r"^##\s+Question\s+(\d+)", text, flags=re.M)
        if heading:
            current = f"q{heading.group(1)}"
            continue
        if re.search(r"^#{1,2} ", text, flags=re.M):
            current = None
        if not text or text == PLACEHOLDER:
            continue
        if marked in questions:
            answers.setdefault(marked, []).append(text)
        elif current in questions:
            unmarked.setdefault(current, []).append(text)
    for question, texts in unmarked.items():
        answers.setdefault(question, texts)
    return {q: "\n\n".join(a) for q, a in answers.items()}


# --- grading one submission (in a worker process) -------------------------------------------

def _decode_lines(lines: list[str]) -> list[dict]:
    messages = []
    for line in lines:
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(message, dict):
            messages.append(message)
    return messages


def _stage(autograder: Autograder, package: Path, files: dict[str, object], argv: list[str],
           limits, sandbox: str):
    import grading_sandbox

    with tempfile.TemporaryDirectory(prefix="grading-in-") as folder:
        inputs = Path(folder)
        for name, content in files.items():
            (inputs / name).write_text(json.dumps(content))
        if sandbox == "none":
            return grading_sandbox.run_unsandboxed(package, inputs, argv, limits)
        return grading_sandbox.run(package, inputs, argv, limits)


def _stage_end(result, what: str) -> str:
    if result.timed_out:
        return f"the {what} was stopped at the time limit"
    tail = [line for line in result.stderr.splitlines() if line.strip()
            and not line.startswith("bpbook-tripwire:")]
    reason = f"the {what} ended early (exit code {result.returncode})"
    return reason + (f": {tail[-1][:200]}" if tail else "")


def grade_submission(notebook_path: Path, autograder: Autograder, student_id: str,
                     limits: dict | None = None, sandbox: str = "bwrap") -> Grade:
    """Grade one notebook (steps 1–3 of the module's description); never raises for it."""
    import grading_checks as gc
    import grading_runner
    import grading_sandbox

    limits = {"notebook": NOTEBOOK_SECONDS, "cell": CELL_SECONDS, "probe": PROBE_SECONDS,
              "call": CALL_SECONDS, "memory": MEMORY, **(limits or {})}
    started = time.perf_counter()
    grade = Grade(str(notebook_path), student_id, autograder.name)
    module = autograder.checks_module()
    questions = gc.questions_of(module)
    grade.possible = sum(q.points for q in questions.values() if not q.manual)
    grade.pending = {name: q.points for name, q in questions.items() if q.manual}
    try:
        notebook = read_notebook(notebook_path)
    except (OSError, ValueError) as error:
        grade.reason = str(error)
        return grade
    numbered = numbered_code_cells(notebook)
    cells = [source for _, source in numbered]
    grade.answers = manual_answers(notebook, list(grade.pending))
    claimed = notebook_student_id(notebook)
    if claimed is not None and claimed != student_id:
        grade.notes.append(f"The notebook sets STUDENT_ID = {claimed!r}; it was graded with "
                           f"the id {student_id!r} of the submission, as the data it uses.")

    # 1. The notebook run.
    values_run = _stage(
        autograder, autograder.package, {"cells.json": cells},
        ["notebook", "/in/cells.json", "--values", ",".join(module.VALUES),
         "--student-id", student_id, "--cell-timeout", str(limits["cell"])],
        grading_sandbox.Limits(seconds=limits["notebook"], memory=limits["memory"]), sandbox)
    values: dict = {}
    finished = False
    for message in _decode_lines(values_run.lines):
        kind = message.get("kind")
        if kind == "values" and isinstance(message.get("values"), dict):
            for name, data in message["values"].items():
                if name in module.VALUES:
                    try:
                        values[name] = grading_runner.decode(data)
                    except (ValueError, TypeError, KeyError):
                        values[name] = grading_runner.Unsupported("value", "unreadable")
            for name in message.get("deleted", []) or []:
                values.pop(name, None)
        elif kind == "cell" and isinstance(message.get("error"), dict):
            error = message["error"]
            index = message.get("index")
            where = (numbered[index][0] + 1 if isinstance(index, int)
                     and 0 <= index < len(numbered) else "?")
            grade.notes.append(f"Cell {where} of the notebook raised "
                               f"{str(error.get('type'))[:60]}: {str(error.get('message'))[:300]}")
        elif kind == "done":
            finished = True
    if not finished:
        reason = _stage_end(values_run, "notebook run")
        grade.notes.append(reason[0].upper() + reason[1:] + "; the values computed before "
                           "that were graded.")

    # 2. The probes, one sandbox per question, with that question's tripwires.
    context = gc.Context(autograder.name, student_id, values, module)
    calls = gc.collect_calls(module, context)
    outcomes: dict[str, list] = {}
    # Questions with the same tripwires share a sandbox (and a copy of the package).
    groups: dict[tuple[str, ...], list[str]] = {}
    for question in calls:
        groups.setdefault(tuple(sorted(questions[question].tripwires)), []).append(question)
    with tempfile.TemporaryDirectory(prefix="grading-pkg-") as packages:
        for number, (tripwires, members) in enumerate(groups.items()):
            package = grading_sandbox.copy_package(
                autograder.package, Path(packages) / str(number), tripwires)
            batch = [call for question in members for call in calls[question]]
            probes = {"call_timeout": limits["call"], "student_id": student_id,
                      "calls": [call.probe() for call in batch]}
            result = _stage(
                autograder, package, {"cells.json": cells, "probes.json": probes},
                ["probe", "/in/cells.json", "/in/probes.json"],
                grading_sandbox.Limits(seconds=limits["probe"], memory=limits["memory"]),
                sandbox)
            done = _outcomes(batch, _decode_lines(result.lines), result)
            for question in members:
                outcomes[question], done = done[:len(calls[question])], done[len(calls[question]):]

    # 3. The checks.
    for verdict in gc.evaluate(module, context, outcomes):
        grade.checks.append({k: v for k, v in asdict(verdict).items() if k != "internal"})
        if verdict.internal:
            grade.notes.append(f"[for the lecturer] check {verdict.name} failed internally: "
                               + verdict.internal.strip().splitlines()[-1][:300])
    for name, question in questions.items():
        if not question.manual:
            got = sum(c["points"] for c in grade.checks if c["question"] == name and c["passed"])
            grade.questions[name] = [got, question.points]
    grade.score = sum(score for score, _ in grade.questions.values())
    grade.status = "graded"
    grade.seconds = round(time.perf_counter() - started, 1)
    return grade


def _outcomes(batch: list, messages: list[dict], result) -> list:
    import grading_checks as gc
    import grading_runner

    by_index: dict[int, dict] = {}
    detail = ""
    for message in messages:
        if message.get("kind") == "call" and isinstance(message.get("index"), int):
            by_index.setdefault(message["index"], message)
        elif message.get("kind") == "definitions":
            errors = message.get("errors") or []
            if errors and isinstance(errors[0], dict):
                first = errors[0]
                detail = (f" (defining the answers, `{str(first.get('statement'))[:80]}` raised "
                          f"{str(first.get('type'))[:60]}: {str(first.get('message'))[:200]})")
    outcomes = []
    for index, call in enumerate(batch):
        message = by_index.get(index)
        if message is None:
            outcomes.append(gc.Outcome(call, "missing"))
            continue
        status = message.get("status")
        outcome = gc.Outcome(call, status if status in {"returned", "raised", "undefined"}
                             else "missing", detail=detail)
        try:
            if status == "returned":
                outcome.result = grading_runner.decode(message.get("value"))
                outcome.args_after = [grading_runner.decode(a)
                                      for a in message.get("args_after", [])]
            elif status == "raised":
                error = message.get("error") or {}
                outcome.error_type = str(error.get("type", ""))[:80]
                outcome.error_message = str(error.get("message", ""))[:500]
            functions = message.get("functions", [])
            outcome.functions = [f for f in functions if isinstance(f, dict)]
        except (ValueError, TypeError, KeyError):
            outcome = gc.Outcome(call, "raised", error_type="UnreadableValue",
                                 error_message="the returned value could not be read")
        outcomes.append(outcome)
    return outcomes


# --- the whole folder -----------------------------------------------------------------------

@dataclass
class Submission:
    path: Path
    relative: str
    student_id: str
    assignment: str | None
    problem: str = ""


def default_student_id(relative: str) -> str:
    """The file name without ``.ipynb`` and without a browser's copy suffix `` (1)``."""
    stem = Path(relative).name
    stem = re.sub(r"\.ipynb$", "", stem, flags=re.IGNORECASE)
    return re.sub(r"\s*\(\d+\)$", "", stem).strip() or stem


def discover(folder: Path, known: set[str], assignment: str | None, id_pattern: str | None,
             ids: str) -> tuple[list[Submission], list[str]]:
    """The notebooks under ``folder`` (recursively) and the files skipped, with reasons."""
    pattern = re.compile(id_pattern) if id_pattern else None
    submissions, skipped = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        if any(part.startswith(".") for part in Path(relative).parts):
            skipped.append(f"{relative}: hidden file or folder")
            continue
        if path.suffix.lower() != ".ipynb":
            skipped.append(f"{relative}: not a notebook (.ipynb)")
            continue
        student_id = default_student_id(relative)
        if pattern is not None:
            match = pattern.search(relative)
            if match is None:
                skipped.append(f"{relative}: --id-pattern finds no student id in the name")
                continue
            student_id = match.group("id") if "id" in pattern.groupindex else match.group(1)
        submission = Submission(path, relative, student_id, assignment)
        notebook = None
        try:
            notebook = read_notebook(path)
        except (OSError, ValueError) as error:
            submission.problem = str(error)
        if notebook is not None and ids == "notebook":
            claimed = notebook_student_id(notebook)
            if claimed:
                submission.student_id = claimed
        if assignment is None and notebook is not None:
            named = notebook_assignment(notebook)
            if named is None:
                submission.problem = ("the notebook names no assignment (no otter metadata); "
                                      "grade it with --assignment NAME")
            elif not NAME.fullmatch(named) or named not in known:
                submission.problem = (f"unknown assignment {named[:80]!r} in the notebook's "
                                      f"metadata; known: {', '.join(sorted(known))}")
            else:
                submission.assignment = named
        submissions.append(submission)
    return submissions, skipped


def _worker_command(submission: Submission, autograder: Autograder, result: Path,
                    limits: dict, sandbox: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--worker", str(submission.path),
            "--autograder-folder", str(autograder.folder), "--student-id",
            submission.student_id, "--result", str(result), "--limits", json.dumps(limits),
            "--sandbox", sandbox]


def grade_all(folder: Path, assignment: str | None = None, *, jobs: int = 2,
              autograders: Path | None = None, limits: dict | None = None,
              id_pattern: str | None = None, ids: str = "filename",
              sandbox: str = "bwrap") -> tuple[list[Grade], list[str], dict[str, str]]:
    """Grade every notebook under ``folder``; return the grades, skipped files, autograders.

    Each notebook is graded by a worker process of its own (``jobs`` at a time); the grades
    come back only when every worker has ended. The third value maps each assignment used
    to the SHA-256 of its autograder zip.
    """
    limits = {"notebook": NOTEBOOK_SECONDS, "cell": CELL_SECONDS, "probe": PROBE_SECONDS,
              "call": CALL_SECONDS, "memory": MEMORY, **(limits or {})}
    zips = repository_autograders(autograders)
    if assignment is not None and assignment not in zips:
        raise ValueError(f"no autograder for {assignment!r}; run `make assignments` first "
                         f"(built: {', '.join(sorted(zips)) or 'none'})")
    if sandbox == "bwrap":
        import grading_sandbox

        grading_sandbox.ensure_bwrap()
    submissions, skipped = discover(folder, set(zips), assignment, id_pattern, ids)
    work = Path(tempfile.mkdtemp(prefix="grading-"))
    loaded: dict[str, Autograder] = {}
    try:
        for submission in submissions:
            name = submission.assignment
            if name is not None and name not in loaded and not submission.problem:
                loaded[name] = Autograder(zips[name], work)
        # The worst case of one worker: the notebook run, the probes of every question.
        ceiling = limits["notebook"] + 8 * limits["probe"] + 300

        def one(submission: Submission) -> Grade:
            started = time.perf_counter()
            if submission.problem or submission.assignment not in loaded:
                grade = Grade(submission.relative, submission.student_id, submission.assignment,
                              reason=submission.problem or "no autograder")
                return grade
            autograder = loaded[submission.assignment]
            result = Path(tempfile.mkdtemp(prefix="result-", dir=work)) / "grade.json"
            log = ""
            try:
                finished = subprocess.run(
                    _worker_command(submission, autograder, result, limits, sandbox),
                    capture_output=True, text=True, timeout=ceiling, stdin=subprocess.DEVNULL)
                log = finished.stdout + finished.stderr
            except subprocess.TimeoutExpired:
                log = "the grading of this notebook did not finish"
            if result.is_file():
                grade = Grade(**json.loads(result.read_text()))
            else:
                lines = [line for line in log.splitlines() if line.strip()]
                grade = Grade(submission.relative, submission.student_id,
                              submission.assignment,
                              reason="grader error: " + (lines[-1] if lines else "no result"))
            grade.submission = submission.relative
            grade.seconds = round(time.perf_counter() - started, 1)
            return grade

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            grades = list(pool.map(one, submissions))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    counts: dict[str, int] = {}
    for grade in grades:
        counts[grade.student_id] = counts.get(grade.student_id, 0) + 1
    for grade in grades:
        if counts[grade.student_id] > 1:
            grade.notes.append(f"{counts[grade.student_id]} submissions have the student id "
                               f"{grade.student_id!r}")
    return grades, skipped, {name: a.sha256 for name, a in loaded.items()}


# --- writing the results --------------------------------------------------------------------

def question_columns(grades: list[Grade]) -> list[str]:
    names = {q for g in grades for q in [*g.questions, *g.pending]}
    return sorted(names, key=lambda q: (len(q), q))


def write_csv(grades: list[Grade], path: Path) -> None:
    """``scores.csv``: id, file, assignment, one numeric column per question, total, status."""
    columns = question_columns(grades)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "submission", "assignment", *columns, "score", "possible",
                         "percent", "pending", "status", "reason", "notes"])
        for g in grades:
            per_question = []
            for q in columns:
                per_question.append(f"{g.questions[q][0]:g}" if q in g.questions else "")
            pending = "; ".join(f"{q} ({p:g} points, by hand)" for q, p in g.pending.items())
            writer.writerow([
                g.student_id, g.submission, g.assignment or "", *per_question, f"{g.score:g}",
                f"{g.possible:g}", f"{g.percent:.1f}", pending, g.status, g.reason,
                " | ".join(n for n in g.notes if not n.startswith("[for the lecturer]"))[:2000],
            ])


def feedback(grade: Grade) -> str:
    """The feedback of one submission, in Markdown: each check and what it found."""
    lines = [f"# Feedback: {grade.assignment or 'unknown assignment'}, {grade.student_id}", ""]
    if grade.status != "graded":
        lines += [f"This submission could not be graded: {grade.reason}", ""]
        return "\n".join(lines)
    lines += [f"Autograded score: **{grade.score:g} of {grade.possible:g}** points.", ""]
    for question, (score, possible) in grade.questions.items():
        lines += [f"## {question}: {score:g} of {possible:g}", ""]
        for c in grade.checks:
            if c["question"] != question:
                continue
            kind = "public" if c["public"] else "hidden"
            mark = "passed" if c["passed"] else "FAILED"
            points = f"{c['points']:g} point" + ("" if c["points"] == 1 else "s")
            lines.append(f"- {mark}: `{c['name']}` ({points}, {kind} test)")
            if not c["passed"] and c["message"]:
                lines.append(f"  {c['message']}")
        lines.append("")
    for question, points in grade.pending.items():
        lines += [f"## {question}: graded by hand ({points:g} points)", ""]
    notes = [n for n in grade.notes if not n.startswith("[for the lecturer]")]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._@-]+", "_", text).strip("._") or "unnamed"


def write_results(grades: list[Grade], skipped: list[str], hashes: dict[str, str],
                  output: Path) -> None:
    """Write ``scores.csv``, ``scores.json``, ``feedback/`` and ``hand-grading/``."""
    output.mkdir(parents=True, exist_ok=True)
    write_csv(grades, output / "scores.csv")
    (output / "scores.json").write_text(json.dumps(
        {"autograders": hashes, "skipped": skipped,
         "grades": [{**asdict(g), "percent": round(g.percent, 2)} for g in grades]},
        indent=1, ensure_ascii=False))
    folder = output / "feedback"
    folder.mkdir(exist_ok=True)
    used: set[str] = set()
    for g in grades:
        name = safe_name(g.student_id)
        while name in used:
            name += "_"
        used.add(name)
        (folder / f"{name}.md").write_text(feedback(g), encoding="utf-8")
    by_question: dict[str, list[str]] = {}
    for g in grades:
        for question in g.pending:
            answer = g.answers.get(question, "").strip() or "*(no answer found)*"
            by_question.setdefault(question, []).append(
                f"## {g.student_id} ({g.submission})\n\n{answer}\n")
    if by_question:
        (output / "hand-grading").mkdir(exist_ok=True)
        for question, entries in by_question.items():
            (output / "hand-grading" / f"{question}.md").write_text(
                f"# Answers to {question}\n\n" + "\n".join(entries), encoding="utf-8")
    if skipped:
        (output / "skipped.txt").write_text("\n".join(skipped) + "\n", encoding="utf-8")


def markdown_table(grades: list[Grade]) -> str:
    """The scores as a Markdown table, for the terminal."""
    rows = ["| student id | submission | assignment | score | % | status | reason |",
            "| --- | --- | --- | ---: | ---: | --- | --- |"]
    for g in grades:
        reason = g.reason.replace("|", "\\|").replace("\n", " ")[:120]
        rows.append(f"| {g.student_id} | {g.submission} | {g.assignment or '?'} | "
                    f"{g.score:g} / {g.possible:g} | {g.percent:.0f} | {g.status} | {reason} |")
    return "\n".join(rows)


# --- command line ---------------------------------------------------------------------------

def _worker(args) -> int:
    autograder = Autograder(args.autograder_folder, args.autograder_folder.parent)
    limits = json.loads(args.limits) if args.limits else {}
    grade = grade_submission(args.worker, autograder, args.student_id, limits, args.sandbox)
    args.result.write_text(json.dumps(asdict(grade)))
    return 0


def gradescope(submission: Path, folder: Path, results: Path) -> int:
    """Grade the one notebook in ``submission`` for Gradescope; write ``results`` (its JSON).

    The student id comes from Gradescope's ``submission_metadata.json`` (the student's id,
    else e-mail), else the file name. Without a working bubblewrap (Docker often forbids the
    namespaces it needs) the steps run unsandboxed: Gradescope's container holds only this
    submission, and the results say so.
    """
    import grading_sandbox

    notebooks = sorted(p for p in submission.rglob("*") if p.suffix.lower() == ".ipynb")
    payload: dict = {"score": 0.0, "tests": [], "output": ""}
    if len(notebooks) != 1:
        payload["output"] = (f"Expected one notebook (.ipynb) in the submission, found "
                             f"{len(notebooks)}.")
    else:
        student_id = default_student_id(notebooks[0].name)
        metadata = submission.parent / "submission_metadata.json"
        try:
            users = json.loads(metadata.read_text()).get("users", [])
            student_id = str(users[0].get("sid") or users[0].get("email") or student_id)
        except (OSError, ValueError, IndexError, AttributeError):
            pass
        sandbox = "bwrap" if grading_sandbox.bwrap_works() else "none"
        autograder = Autograder(folder, folder)
        grade = grade_submission(notebooks[0], autograder, student_id, None, sandbox)
        payload["score"] = grade.score
        payload["output"] = "\n".join(
            ([grade.reason] if grade.reason else [])
            + [n for n in grade.notes if not n.startswith("[for the lecturer]")]
            + ([] if sandbox == "bwrap" else ["(graded without bubblewrap)"]))
        for c in grade.checks:
            kind = "public" if c["public"] else "hidden"
            payload["tests"].append({
                "name": f"{c['question']} {c['name']} ({kind})",
                "score": c["points"] if c["passed"] else 0.0, "max_score": c["points"],
                "output": c["message"], "visibility": "visible"})
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(payload, indent=1, ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, nargs="?",
                        help="folder of submitted notebooks (searched recursively)")
    parser.add_argument("--assignment", help="grade every notebook as this assignment "
                        "(default: the one named in each notebook's metadata)")
    parser.add_argument("--output", type=Path, default=None,
                        help="folder for scores.csv, scores.json, feedback/ and hand-grading/ "
                             "(default: SUBMISSIONS-grades next to SUBMISSIONS)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks graded at once")
    parser.add_argument("--id-pattern", default=None,
                        help="regular expression with a group 'id' (or one group) that finds "
                             "the student id in each notebook's path below SUBMISSIONS")
    parser.add_argument("--ids", choices=("filename", "notebook"), default="filename",
                        help="take the student id from the file name (default) or from the "
                             "STUDENT_ID the notebook sets")
    parser.add_argument("--timeout", type=float, default=NOTEBOOK_SECONDS,
                        help=f"seconds for the notebook run (default {NOTEBOOK_SECONDS:g})")
    parser.add_argument("--cell-timeout", type=float, default=CELL_SECONDS,
                        help=f"seconds for one cell (default {CELL_SECONDS:g})")
    parser.add_argument("--memory", type=float, default=MEMORY / 2**30,
                        help=f"GiB of address space per sandbox (default {MEMORY / 2**30:g})")
    parser.add_argument("--autograders", type=Path, default=None,
                        help="the --output folder of tools/build_assignments.py "
                             "(default: assignments/<name>/dist)")
    parser.add_argument("--sandbox", choices=("bwrap", "none"), default="bwrap",
                        help="'none' only inside a container that already isolates each "
                             "submission (Gradescope); see assignments/README.md")
    parser.add_argument("--gradescope", type=Path, default=None,
                        help="grade the one notebook in this folder as Gradescope does "
                             "(with --autograder-folder and --results)")
    parser.add_argument("--results", type=Path, default=None,
                        help="where --gradescope writes its results.json")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--autograder-folder", type=Path,
                        help="an unpacked autograder zip (for --gradescope)")
    parser.add_argument("--student-id", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--limits", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        return _worker(args)
    if args.gradescope is not None:
        if args.autograder_folder is None or args.results is None:
            parser.error("--gradescope needs --autograder-folder and --results")
        return gradescope(args.gradescope, args.autograder_folder.resolve(), args.results)
    if args.submissions is None or not args.submissions.is_dir():
        parser.error(f"SUBMISSIONS must be a folder of notebooks, got {args.submissions}")
    if args.jobs < 1 or args.timeout <= 0 or args.cell_timeout <= 0 or args.memory <= 0:
        parser.error("--jobs, --timeout, --cell-timeout and --memory must be positive")
    if args.assignment is not None and not NAME.fullmatch(args.assignment):
        parser.error(f"--assignment must be an assignment's name, got {args.assignment!r}")
    limits = {"notebook": args.timeout, "cell": args.cell_timeout,
              "memory": int(args.memory * 2**30)}
    try:
        grades, skipped, hashes = grade_all(
            args.submissions, args.assignment, jobs=args.jobs, autograders=args.autograders,
            limits=limits, id_pattern=args.id_pattern, ids=args.ids, sandbox=args.sandbox)
    except (ValueError, RuntimeError, re.error) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    output = args.output or args.submissions.resolve().with_name(
        args.submissions.resolve().name + "-grades")
    write_results(grades, skipped, hashes, output)
    print(markdown_table(grades))
    for line in skipped:
        print(f"skipped: {line}")
    for name, digest in hashes.items():
        print(f"autograder {name}: sha256 {digest}")
    print(f"\nwrote {output}/scores.csv, scores.json, feedback/"
          + (" and hand-grading/" if any(g.pending for g in grades) else ""))
    if not grades:
        print(f"no notebooks under {args.submissions}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
