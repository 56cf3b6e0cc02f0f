"""Copy the book's notebooks into the git-ignored workspace that ``make lab`` opens.

The build writes every page of the book as a notebook into ``_build/html/notebooks/``
(``tools/bpbook_publish.py``): the same text, numbering, code listings and outputs as the
website. ``make lab`` runs this script and opens ``workspace/`` in JupyterLab:

- a notebook missing from the workspace is copied there; one already there is **never**
  overwritten, because it holds the student's edits and outputs;
- a new copy is marked trusted, as ``jupyter trust`` does and as JupyterLab marks the
  notebooks you save yourself (it comes from your own build of the book): JupyterLab then
  shows its saved outputs in full, the sliders of the experiments included, before any cell
  has run (an untrusted notebook shows a widget as plain text until its cell runs);
- when the book has changed since a copy was made, the script says which copies are
  older than the book and how to get a fresh one (delete it and run ``make lab`` again);
- ``workspace/.gitignore`` ignores everything in it, so nothing a student saves shows up
  in ``git status`` or gets in the way of ``git pull``.

Usage: ``python tools/notebooks.py [--build _build] [--workspace workspace]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def version(path: Path) -> str | None:
    """The book version a notebook was made from (``metadata.bpbook.version``)."""
    try:
        notebook = json.loads(path.read_text(encoding="utf8"))
    except (OSError, ValueError):
        return None
    return notebook.get("metadata", {}).get("bpbook", {}).get("version")


def sync(source: Path, workspace: Path, data_dir: Path | None = None
         ) -> tuple[list[Path], list[Path]]:
    """Copy new notebooks and trust them; return (copied, older than the book).

    ``data_dir`` is the Jupyter data folder that records trusted notebooks (default: the
    user's, where JupyterLab looks).
    """
    import nbformat
    from nbformat.sign import NotebookNotary

    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
    notary = NotebookNotary(data_dir=str(data_dir)) if data_dir else NotebookNotary()
    if not source.is_dir():
        raise FileNotFoundError(f"{source} does not exist: build the book first (make book)")
    workspace.mkdir(parents=True, exist_ok=True)
    ignore = workspace / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Students' copies of the book's notebooks: never committed.\n*\n")
    copied, outdated = [], []
    for notebook in sorted(source.rglob("*.ipynb")):
        target = workspace / notebook.relative_to(source)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(notebook, target)
            notary.sign(nbformat.read(target, as_version=4))
            copied.append(target)
        elif version(target) != version(notebook):
            outdated.append(target)
    return copied, outdated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=ROOT / "_build",
                        help="the build folder holding html/notebooks (default: _build)")
    parser.add_argument("--workspace", type=Path, default=ROOT / "workspace",
                        help="where the copies go (default: workspace)")
    args = parser.parse_args(argv)
    try:
        copied, outdated = sync(args.build / "html" / "notebooks", args.workspace)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in copied:
        print(f"new copy: {path.relative_to(args.workspace.parent)}")
    if outdated:
        print("The book has changed since these copies were made; they keep your edits:")
        for path in outdated:
            print(f"  {path.relative_to(args.workspace.parent)}")
        print("For a fresh copy, delete (or rename) it and run `make lab` again.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
