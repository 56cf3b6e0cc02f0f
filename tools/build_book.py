"""Build the website into ``_build/html`` with every chapter executed, warnings as errors.

Jupyter Book's ``cache`` execution mode re-executes a chapter only when its code cells
change. It does not notice changes to the ``bpbook`` package the chapters import, so a
stale cache would publish numbers the current code no longer produces. We therefore key
the cache on a hash of the package source and clear it when the package changes.

The assignments' pages (``assignments/pages/<name>.ipynb``, the student notebooks with
their public tests shown) are generated, not committed: they are (re)built from the
masters in ``assignments/`` first, when a master changed, by ``tools/build_assignments.py``.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Every warning fails the build, but the build goes on to report all of them; ``-n``
#: also warns about every reference that cannot be resolved.
STRICT_FLAGS = ["-W", "-n", "--keep-going"]


def package_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "bpbook").rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def clear_stale_cache(build_dir: Path) -> None:
    stamp = build_dir / ".bpbook-source-hash"
    current = package_hash()
    if stamp.exists() and stamp.read_text() == current:
        return
    shutil.rmtree(build_dir / ".jupyter_cache", ignore_errors=True)
    shutil.rmtree(build_dir / "jupyter_execute", ignore_errors=True)
    build_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(current)


def build_assignment_pages() -> int:
    """Generate the book pages of the assignments whose master changed; return the exit code.

    The reference solutions are not graded here (``make assignments`` does that): the
    pages show the student version, and building it is all the book needs.
    """
    command = [
        sys.executable, str(ROOT / "tools" / "build_assignments.py"),
        "--no-run-tests", "--if-changed",
    ]
    return subprocess.call(command, cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path-output", type=Path, default=ROOT,
                        help="folder that receives _build/ (default: the repository)")
    parser.add_argument("--toc", type=Path, default=None,
                        help="alternative table of contents, e.g. to build one chapter")
    parser.add_argument("--config", type=Path, default=None,
                        help="alternative _config.yml, passed on to jupyter-book")
    args = parser.parse_args(argv)
    toc = (args.toc or ROOT / "_toc.yml").read_text()
    if "assignments/pages/" in toc and build_assignment_pages() != 0:
        print("error: building the assignments' pages failed", file=sys.stderr)
        return 1
    clear_stale_cache(args.path_output / "_build")
    command = [
        str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT),
        "--path-output", str(args.path_output), *STRICT_FLAGS,
    ]
    if args.toc is not None:
        command += ["--toc", str(args.toc)]
    if args.config is not None:
        command += ["--config", str(args.config)]
    # The published page has no kernel: interactive experiments must precompute their
    # frames (see bpbook.widgets). Kernels started by the build inherit this variable.
    env = {**os.environ, "BPBOOK_STATIC_WIDGETS": "1"}
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
