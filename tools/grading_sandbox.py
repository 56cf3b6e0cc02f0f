"""Run one step of a submission's grading in a bubblewrap sandbox, and nothing else.

Each call of :func:`run` starts ``tools/grading_runner.py`` in a fresh sandbox made by
Debian's ``bwrap`` (bubblewrap), which needs no daemon and works for root as for an
ordinary user. Inside, the submission sees:

- read-only: the Python interpreter and its packages, the ``bpbook`` package chosen for
  this step (the real one, or a copy whose assessed functions are tripwires), the runner
  and its input files; nothing else of the machine (no repository, no masters, no
  autograder, no other submission, no score file);
- writable: its own working folder and ``/tmp``, both in memory with a size limit;
- no network (a network namespace of its own), no other process (a PID namespace of its
  own: the grader and the other submissions are invisible and cannot be signalled), a new
  session (no terminal), no capabilities, and when the grader runs as root a user id of
  its own;
- limits on address space (memory), CPU time, file size, open files and, under its own
  user id, processes; and a wall-clock limit after which the grader kills it.

When the sandbox's first process ends, the kernel ends every process it started (that is
what a PID namespace does), so nothing of a submission outlives its step. The runner
reports on file descriptor 3, a pipe that the grader reads with a size cap; the sandbox
writes no file outside itself.

If ``bwrap`` is missing, :func:`ensure_bwrap` installs it (``tools/install_grading_deps.sh``)
as ``make test`` installs Chromium.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
RUNNER = TOOLS / "grading_runner.py"
INSTALL_SCRIPT = TOOLS / "install_grading_deps.sh"
#: The user id (and group id) a sandbox runs as when the grader runs as root.
SANDBOX_UID = 61234
#: Size of the sandbox's working folder and of its /tmp (each), in bytes.
SCRATCH_BYTES = 256 << 20
#: What the grader keeps of a sandbox's report channel and of its stderr, in bytes.
REPORT_LIMIT = 64 << 20
STDERR_LIMIT = 64 << 10

__all__ = ["Limits", "Result", "ensure_bwrap", "run"]


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandbox.

    ``seconds`` is the wall-clock limit of the whole step; ``memory`` the address space in
    bytes; ``processes`` the processes and threads of the sandbox's user (enforced when the
    grader runs as root and can give the sandbox a user id of its own).
    """

    seconds: float = 600.0
    memory: int = 3 << 30
    processes: int = 256
    file_size: int = 128 << 20
    open_files: int = 256


@dataclass
class Result:
    """What came out of a sandbox: its report lines, the end of its stderr, how it ended."""

    lines: list[str] = field(default_factory=list)
    stderr: str = ""
    returncode: int | None = None
    timed_out: bool = False
    seconds: float = 0.0


def bwrap_path() -> str | None:
    """The ``bwrap`` executable, or None if it is not installed."""
    return shutil.which("bwrap")


def bwrap_works() -> bool:
    """Whether ``bwrap`` is installed and can make a sandbox here (Docker may forbid it)."""
    found = bwrap_path()
    if not found:
        return False
    probe = subprocess.run([found, "--unshare-pid", "--unshare-net", "--ro-bind", "/", "/",
                            "--proc", "/proc", "--", "/bin/true"], capture_output=True)
    return probe.returncode == 0


def ensure_bwrap() -> str:
    """The ``bwrap`` executable, installed first (with apt-get, as root) if it is missing."""
    found = bwrap_path()
    if found:
        return found
    if INSTALL_SCRIPT.is_file():
        subprocess.run(["bash", str(INSTALL_SCRIPT)], check=False)
    found = bwrap_path()
    if not found:
        raise RuntimeError(
            "grading needs bubblewrap (the bwrap command): sudo apt-get install bubblewrap"
        )
    return found


def _mount_roots() -> list[Path]:
    """Folders to show read-only: the interpreter, its standard library and packages.

    The system's /usr is always shown (shared libraries). Every other folder is the
    smallest one holding a part of the environment, so that for a virtual environment
    inside a repository only ``.venv`` is shown, not the repository around it.
    """
    candidates = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix),
                  Path(os.path.realpath(sys.executable)).parent.parent}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        candidates.add(Path(sysconfig.get_paths()[key]))
    roots: list[Path] = []
    for path in sorted(candidates, key=lambda p: len(p.parts)):
        path = path.resolve() if path.exists() else path
        if not path.exists() or path == Path("/usr") or Path("/usr") in path.parents:
            continue
        if not any(root == path or root in path.parents for root in roots):
            roots.append(path)
    return roots


def _site_packages() -> list[Path]:
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    return [Path(p) for p in paths if Path(p).is_dir()]


def _with_parents(path: Path, created: set[Path]) -> list[str]:
    """bwrap arguments that create the missing ancestors of ``path`` as readable folders."""
    args = []
    for parent in reversed(path.parents):
        if parent == Path("/") or parent in created:
            continue
        created.add(parent)
        args += ["--perms", "0755", "--dir", str(parent)]
    return args


def command(package: Path, inputs: Path, argv: list[str], report_fd: int,
            run_as: int | None) -> list[str]:
    """The bwrap command line of one sandbox.

    Parameters
    ----------
    package : Path
        A folder holding the ``bpbook`` package to show (as ``/pkg/bpbook``); any copy of
        ``bpbook`` in the environment's site-packages is hidden behind the same folder.
    inputs : Path
        Shown read-only as ``/in``: the runner and its input files.
    argv : list of str
        Arguments of the runner.
    report_fd : int
        The descriptor of the report pipe's writing end, passed to the runner.
    run_as : int or None
        A user id to switch to inside (the grader must be root), or None.
    """
    bwrap = ensure_bwrap()
    created: set[Path] = set()
    args = [
        bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
        "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "grading",
        "--ro-bind", "/usr", "/usr",
    ]
    if run_as is None:
        args.insert(1, "--unshare-user")  # an ordinary user needs a user namespace
    for name in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    # /tmp first: an environment that lives below /tmp is mounted on top of it.
    args += ["--perms", "1777", "--size", str(SCRATCH_BYTES), "--tmpfs", "/tmp"]
    for root in _mount_roots():
        args += _with_parents(root, created) + ["--ro-bind", str(root), str(root)]
    # A bpbook installed into site-packages would bypass the package shown for this step.
    for site in _site_packages():
        if (site / "bpbook").is_dir():
            args += ["--ro-bind", str(package / "bpbook"), str(site / "bpbook")]
    args += [
        "--proc", "/proc", "--dev", "/dev",
        "--perms", "1777", "--size", str(16 << 20), "--tmpfs", "/dev/shm",
        "--perms", "0755", "--dir", "/pkg", "--ro-bind", str(package / "bpbook"), "/pkg/bpbook",
        "--ro-bind", str(inputs), "/in",
        "--perms", "1777", "--size", str(SCRATCH_BYTES), "--tmpfs", "/submission",
        "--chdir", "/submission", "--clearenv",
    ]
    environment = {
        "HOME": "/submission", "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "PYTHONPATH": "/pkg", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
        "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/matplotlib", "IPYTHONDIR": "/tmp/ipython",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
        "LANG": "C.UTF-8", "TQDM_DISABLE": "1",
    }
    for key, value in environment.items():
        args += ["--setenv", key, value]
    args.append("--")
    if run_as is not None:
        # bwrap sets the sandbox up as root; setpriv then becomes an ordinary user with no
        # capabilities at all, so the limits on processes apply and nothing can be remounted.
        args += ["/usr/bin/setpriv", f"--reuid={run_as}", f"--regid={run_as}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    args += [sys.executable, "/in/grading_runner.py", "--report-fd", str(report_fd), *argv]
    return args


def _limit(limits: Limits, run_as: int | None):
    def apply() -> None:
        memory = limits.memory
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        cpu = int(limits.seconds) + 30
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size, limits.file_size))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if run_as is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    return apply


def _drain(stream, limit: int, sink: list[bytes]) -> None:
    """Read ``stream`` to its end, keeping at most ``limit`` bytes."""
    kept = 0
    while True:
        chunk = stream.read(1 << 16)
        if not chunk:
            return
        if kept < limit:
            sink.append(chunk[: limit - kept])
            kept += len(sink[-1])


def run(package: Path, inputs: Path, argv: list[str], limits: Limits) -> Result:
    """Run the runner with ``argv`` in a new sandbox; wait for it or kill it at the limit.

    ``inputs`` must be readable by every user (the runner is copied into it here). Never
    raises for anything the submission does; the result tells how the sandbox ended.
    """
    shutil.copy(RUNNER, inputs / "grading_runner.py")
    _readable_by_all(inputs)
    run_as = SANDBOX_UID if os.geteuid() == 0 else None
    read_end, write_end = os.pipe()
    started = time.perf_counter()
    try:
        process = subprocess.Popen(
            command(package, inputs, argv, write_end, run_as), stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(write_end,),
            preexec_fn=_limit(limits, run_as), close_fds=True,
        )
    finally:
        os.close(write_end)

    def end(timed_out: bool) -> None:
        # Only bwrap itself needs ending: --die-with-parent takes the sandbox's PID 1, and
        # with it every process of the sandbox, along.
        if timed_out:
            process.kill()

    return _collect(process, read_end, started, limits.seconds, end, join_seconds=30)


def _readable_by_all(folder: Path) -> None:
    """Let every user (the sandbox's among them) read ``folder`` and enter its folders."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _collect(process: subprocess.Popen, read_end: int, started: float, seconds: float,
             end, join_seconds: float) -> Result:
    """Read a step's report (from ``read_end``) and stderr while it runs; how it ended.

    The step may run for ``seconds``; then ``end(timed_out)`` ends what it left running.
    The readers drain both channels to the end, keeping at most REPORT_LIMIT and
    STDERR_LIMIT bytes, so a step that writes without end can neither block nor fill the
    grader's memory; a reader still blocked after ``join_seconds`` (a pipe held open by
    a process that escaped) is abandoned.
    """
    report: list[bytes] = []
    errors: list[bytes] = []
    result = Result()
    with os.fdopen(read_end, "rb") as reading:
        readers = [threading.Thread(target=_drain, args=(reading, REPORT_LIMIT, report)),
                   threading.Thread(target=_drain, args=(process.stderr, STDERR_LIMIT, errors))]
        for reader in readers:
            reader.start()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            result.timed_out = True
        end(result.timed_out)
        process.wait()
        for reader in readers:
            reader.join(timeout=join_seconds)
    process.stderr.close()
    result.returncode = process.returncode
    result.seconds = round(time.perf_counter() - started, 2)
    result.lines = b"".join(report).decode("utf-8", "replace").splitlines()
    result.stderr = b"".join(errors).decode("utf-8", "replace")
    return result


# --- the package a sandbox sees ------------------------------------------------------------

TRIPWIRE_MODULE = '''"""The grader's tripwires: package functions switched off while grading."""

import os


class TripwireError(RuntimeError):
    """Raised by a package function that computes what the graded question asks for."""


def tripped(name):
    try:
        os.write(2, ("bpbook-tripwire: " + name + "\\n").encode())
    except OSError:
        pass
    raise TripwireError(name)
'''


def copy_package(source: Path, destination: Path, tripwires: tuple[str, ...] = ()) -> Path:
    """Copy the ``bpbook`` package in ``source`` to ``destination/bpbook``, with tripwires.

    Each tripwire names a function, ``"module.function"`` or ``"module.Class.method"``
    (modules relative to ``bpbook``). In the copy its body is replaced by a call that raises
    ``TripwireError``: the source file itself no longer holds the implementation, so no
    alias, ``getattr``, ``importlib.reload`` or ``exec`` of its source brings it back.
    Returns ``destination``, readable by every user; raises ``ValueError`` for a tripwire
    that names nothing.
    """
    import ast

    package = destination / "bpbook"
    shutil.copytree(source / "bpbook", package, ignore=shutil.ignore_patterns("__pycache__"))
    (package / "_tripwire.py").write_text(TRIPWIRE_MODULE)
    by_module: dict[str, list[list[str]]] = {}
    for target in tripwires:
        module, *path = target.split(".")
        by_module.setdefault(module, []).append(path)
    for module, paths in by_module.items():
        file = package / f"{module}.py"
        if not file.is_file():
            raise ValueError(f"tripwire names a module bpbook.{module} that does not exist")
        tree = ast.parse(file.read_text())
        for path in paths:
            scope, node = tree, None
            for name in path:
                node = next((n for n in getattr(scope, "body", []) if isinstance(
                    n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name),
                    None)
                if node is None:
                    raise ValueError(f"tripwire bpbook.{module}.{'.'.join(path)} names nothing")
                scope = node
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                raise ValueError(f"tripwire bpbook.{module}.{'.'.join(path)} is not a function")
            qualified = f"bpbook.{module}.{'.'.join(path)}"
            node.body = ast.parse(
                f"from bpbook._tripwire import tripped\ntripped({qualified!r})").body
        file.write_text(ast.unparse(tree) + "\n")
    _readable_by_all(destination)
    return destination


def run_unsandboxed(package: Path, inputs: Path, argv: list[str], limits: Limits) -> Result:
    """Run the runner as :func:`run` does, but without bubblewrap.

    Only for a container that already holds nothing but one submission and its autograder
    (Gradescope's): the step still runs in a process of its own, under a user of its own if
    the grader is root, with the same resource limits, and the tripwired package first on
    its path; but it can see the container's files and its leftover processes are ended
    through its process group only.
    """
    shutil.copy(RUNNER, inputs / "grading_runner.py")
    _readable_by_all(inputs)
    argv = [a.replace("/in/", f"{inputs}/", 1) if a.startswith("/in/") else a for a in argv]
    run_as = SANDBOX_UID if os.geteuid() == 0 else None
    limit = _limit(limits, run_as)

    def prepare() -> None:
        limit()
        if run_as is not None:
            os.setgroups([])
            os.setgid(run_as)
            os.setuid(run_as)

    read_end, write_end = os.pipe()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="grading-home-") as home:
        os.chmod(home, 0o777)
        environment = {"HOME": home, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
                       "PYTHONPATH": str(package), "PYTHONDONTWRITEBYTECODE": "1",
                       "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1", "LANG": "C.UTF-8",
                       "MPLCONFIGDIR": f"{home}/.matplotlib", "IPYTHONDIR": f"{home}/.ipython"}
        try:
            process = subprocess.Popen(
                [sys.executable, str(inputs / "grading_runner.py"), "--report-fd",
                 str(write_end), *argv], cwd=home, env=environment, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(write_end,),
                preexec_fn=prepare, start_new_session=True)
        finally:
            os.close(write_end)

        def end(timed_out: bool) -> None:
            # Timed out or not: without a PID namespace, what the step left running dies
            # only with its process group.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

        return _collect(process, read_end, started, limits.seconds, end, join_seconds=5)
