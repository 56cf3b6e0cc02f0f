"""Build the website into ``_build/html`` (or the PDF), every chapter executed, warnings as errors.

The steps:

1. The assignments' pages (``assignments/pages/<name>.ipynb``, the student notebooks
   with their public tests shown) are generated, not committed: they are (re)built from
   the masters in ``assignments/`` when a master changed, by ``tools/build_assignments.py``.
2. The chapters are executed into Jupyter Book's cache *before* the build, in parallel,
   and only those whose code, imported ``bpbook`` modules or computing libraries changed
   (``tools/book_cache.py``); the build then reads every chapter from the cache.
3. ``jupyter-book build`` with warnings as errors. Its extensions (``_config.yml``) also
   write every page as a notebook into ``_build/html/notebooks/`` (``tools/bpbook_publish.py``).

``--pdf`` builds the whole book as one PDF with Jupyter Book's LaTeX builder and XeLaTeX
into ``_build/latex/book.pdf`` (``make pdf`` installs TeX Live first); a later HTML build
publishes it with the site and links it from every page.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import book_cache  # noqa: E402  (a sibling module of this script)

#: Every warning fails the build, but the build goes on to report all of them; ``-n``
#: also warns about every reference that cannot be resolved.
STRICT_FLAGS = ["-W", "-n", "--keep-going"]


def toc_pages(toc: Path) -> list[str]:
    """Every page of a table of contents, in order (paths without suffix)."""
    data = yaml.safe_load(toc.read_text())
    pages = [data["root"]]
    for part in data.get("parts", [data]):
        pages += [entry["file"] for entry in part.get("chapters", [])]
    return pages


def build_assignment_pages() -> subprocess.Popen:
    """Start generating the book pages of the assignments whose master changed.

    The reference solutions are not graded here (``make assignments`` does that): the
    pages show the student version, and building it is all the book needs. It runs while
    the chapters are checked against the cache (two cores).
    """
    command = [
        sys.executable, str(ROOT / "tools" / "build_assignments.py"),
        "--no-run-tests", "--if-changed",
    ]
    return subprocess.Popen(command, cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path-output", type=Path, default=ROOT,
                        help="folder that receives _build/ (default: the repository)")
    parser.add_argument("--toc", type=Path, default=None,
                        help="alternative table of contents, e.g. to build one chapter")
    parser.add_argument("--config", type=Path, default=None,
                        help="alternative _config.yml, passed on to jupyter-book")
    parser.add_argument("--pdf", action="store_true",
                        help="build the PDF (_build/latex/book.pdf) instead of the website")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    toc = args.toc or ROOT / "_toc.yml"
    pages = toc_pages(toc)
    assignments = None
    if any(p.startswith("assignments/pages/") for p in pages):
        assignments = build_assignment_pages()

    # The published page has no kernel: interactive experiments must precompute their
    # frames (see bpbook.widgets). Kernels started from here on inherit this variable.
    os.environ["BPBOOK_STATIC_WIDGETS"] = "1"
    build_dir = args.path_output.resolve() / "_build"
    notebooks = [ROOT / f"{p}.md" for p in pages if (ROOT / f"{p}.md").is_file()]
    notebooks = [p for p in notebooks if book_cache.is_notebook_page(p)]
    try:
        book_cache.prepare(notebooks, build_dir, book_cache.book_config(ROOT, args.config))
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        assignments_failed = assignments is not None and assignments.wait() != 0
    if assignments_failed:
        print("error: building the assignments' pages failed", file=sys.stderr)
        return 1

    if args.pdf:
        from bpbook_publish import book_sources_digest

        sources = book_sources_digest()  # before the build: edits during it make it stale
    command = [
        str(Path(sys.executable).parent / "jupyter-book"), "build", str(ROOT),
        "--path-output", str(args.path_output), *STRICT_FLAGS,
    ]
    if args.pdf:
        command += ["--builder", "pdflatex"]
    if args.toc is not None:
        command += ["--toc", str(args.toc)]
    if args.config is not None:
        command += ["--config", str(args.config)]
    code = subprocess.call(command, cwd=ROOT)
    if code == 0 and args.pdf:
        # What the PDF was made from: the website links it only while that holds.
        from bpbook_publish import PDF_SOURCES

        record = build_dir / "latex" / PDF_SOURCES
        record.write_text(json.dumps({"sources": sources}) + "\n")
    print(f"build_book: {'PDF' if args.pdf else 'website'} built in "
          f"{time.perf_counter() - start:.1f} s" if code == 0 else "build_book: failed")
    return code


if __name__ == "__main__":
    sys.exit(main())
