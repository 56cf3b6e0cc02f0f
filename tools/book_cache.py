"""The book's execution cache: chapters run in parallel, and re-run exactly when needed.

Jupyter Book's ``cache`` mode (MyST-NB with jupyter-cache) keys an executed chapter on its
code cells alone. It re-executes a chapter whose code changed, but not one whose
*package* code changed, and it executes the chapters one after another while it reads them.
This module does the execution before ``jupyter-book build`` reads anything:

1. **Dependencies.** A chapter depends on its code and on everything its output can come
   from: the ``bpbook`` modules it imports (followed through the package's own imports,
   found by reading the source, so an edit to ``bpbook/evolution.py`` re-runs only the
   chapters that import it), the package's data files, and the versions of the libraries
   the chapters compute with. The hash of all that is recorded per chapter in
   ``_build/.bpbook-dependencies.json``; when it changes, the chapter's cache record is
   removed, so the published numbers are never stale.
2. **Parallel execution.** Chapters without a cache record are executed by a pool of
   worker processes (one per core), exactly as MyST-NB would execute them (its reader, the
   chapter's folder as working directory, the configured timeout, errors fatal), and are
   stored in the cache. The build then finds every chapter cached.
3. **Sphinx.** As a Sphinx extension (``_config.yml``), this module marks a page outdated
   when the cache now holds a newer execution than the one the page was read with, so
   the new outputs reach the website even though the page's source did not change.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "bpbook"

#: Libraries whose version can change what a chapter prints.
COMPUTING_LIBRARIES = (
    "numpy", "scipy", "sympy", "mpmath", "matplotlib", "scikit-learn", "cma", "ipywidgets",
    "ipykernel",
)

#: The record of every chapter's dependency hash, inside the build folder.
DEPENDENCY_FILE = ".bpbook-dependencies.json"


# --------------------------------------------------------------------------------------
# Reading chapters as MyST-NB does
# --------------------------------------------------------------------------------------


def book_config(root: Path = ROOT, config: Path | None = None) -> dict:
    return yaml.safe_load((config or root / "_config.yml").read_text())


def read_chapter(path: Path, extensions: Iterable[str]):
    """The chapter as the notebook MyST-NB builds from it (same cells, same hash)."""
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    md_config = MdParserConfig(enable_extensions=set(extensions))
    return read_myst_markdown_notebook(
        path.read_text(encoding="utf8"), config=md_config, add_source_map=True, path=str(path)
    )


def is_notebook_page(path: Path) -> bool:
    from myst_nb.core.read import is_myst_markdown_notebook

    return path.suffix == ".md" and is_myst_markdown_notebook(path.read_text(encoding="utf8"))


# --------------------------------------------------------------------------------------
# Dependencies
# --------------------------------------------------------------------------------------


def imported_modules(source: str) -> set[str]:
    """Absolute module names imported anywhere in ``source`` (functions included)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        # IPython syntax (%magic, !shell): translate it to Python as IPython does.
        from IPython.core.inputtransformer2 import TransformerManager

        tree = ast.parse(TransformerManager().transform_cell(source))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            # ``from bpbook import losses`` imports the module bpbook.losses.
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def package_modules(names: Iterable[str], package: Path = PACKAGE) -> set[Path]:
    """The package's source files that importing ``names`` runs, followed transitively."""
    prefix = package.name
    pending = [n for n in names if n == prefix or n.startswith(prefix + ".")]
    found: set[Path] = set()
    while pending:
        name = pending.pop()
        parts = name.split(".")
        # Importing a.b.c runs a/__init__.py, a/b/__init__.py (or a/b.py), then a/b/c.
        for depth in range(1, len(parts) + 1):
            relative = Path(*parts[1:depth])
            for candidate in (package / relative / "__init__.py",
                              package / relative.with_suffix(".py") if depth > 1 else None):
                if candidate is not None and candidate.is_file() and candidate not in found:
                    found.add(candidate)
                    pending += [n for n in _file_imports(candidate, candidate.stat().st_mtime_ns)
                                if n == prefix or n.startswith(prefix + ".")]
    return found


@functools.cache
def _file_imports(path: Path, mtime_ns: int) -> frozenset[str]:
    """The imports of a source file (cached while the file is unchanged)."""
    return frozenset(imported_modules(path.read_text()))


def package_data_files(package: Path = PACKAGE) -> list[Path]:
    """Files of the package that are not Python code (data a module may load)."""
    return sorted(
        p for p in package.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    )


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    versions = {}
    for name in COMPUTING_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def dependency_hash(notebook, root: Path = ROOT, package: Path = PACKAGE) -> str:
    """Hash of everything besides the chapter's code that its outputs can depend on."""
    names = set().union(*(imported_modules(c.source) for c in notebook.cells
                          if c.cell_type == "code"))
    files = sorted(package_modules(names, package))
    files += package_data_files(package)
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    digest.update(json.dumps(library_versions(), sort_keys=True).encode())
    digest.update(sys.version.encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------
# Execution
# --------------------------------------------------------------------------------------


@dataclass
class Execution:
    path: Path
    seconds: float
    error: str | None


def _execute(path: str, extensions: list[str], cache_path: str, timeout: int,
             allow_errors: bool) -> Execution:
    """Execute one chapter and cache it, as MyST-NB's ``cache`` mode does."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from jupyter_cache.executors.utils import single_nb_execution

    chapter = Path(path)
    for attempt in range(3):
        notebook = read_chapter(chapter, extensions)
        try:
            result = single_nb_execution(
                notebook, cwd=str(chapter.parent), timeout=timeout, allow_errors=allow_errors,
                meta_override=True,
            )
            break
        except RuntimeError as error:
            # Two kernels starting at once can pick the same free TCP port (jupyter_client
            # chooses ports before the kernel binds them); the loser dies at start-up.
            if "Kernel died before replying" not in str(error) or attempt == 2:
                raise
            time.sleep(1 + attempt)
    if result.err is not None:
        return Execution(chapter, result.time, result.exc_string or repr(result.err))
    cache = get_cache(cache_path)
    stage = cache.add_nb_to_project(str(chapter), read_data={"name": "myst_nb_md",
                                                              "type": "plugin"})
    cache.cache_notebook_bundle(
        CacheBundleIn(notebook, stage.uri, data={"execution_seconds": result.time}),
        check_validity=False, overwrite=True,
    )
    return Execution(chapter, result.time, None)


def prepare(pages: list[Path], build_dir: Path, config: dict, workers: int | None = None,
            log=print, *, root: Path = ROOT, package: Path = PACKAGE) -> list[Execution]:
    """Bring the cache of ``build_dir`` up to date for ``pages``; return what was executed.

    Raises ``RuntimeError`` naming the chapters that failed (with their tracebacks).
    """
    from jupyter_cache import get_cache

    extensions = list(config.get("parse", {}).get("myst_enable_extensions", []))
    execute = config.get("execute", {})
    if execute.get("execute_notebooks", "cache") != "cache":
        return []
    timeout = int(execute.get("timeout", 30))
    allow_errors = bool(execute.get("allow_errors", False))
    cache_path = build_dir / ".jupyter_cache"
    cache = get_cache(str(cache_path))
    record_file = build_dir / DEPENDENCY_FILE
    recorded = json.loads(record_file.read_text()) if record_file.exists() else {}

    pending = []
    for page in pages:
        notebook = read_chapter(page, extensions)
        key = page.relative_to(root).as_posix()
        dependencies = dependency_hash(notebook, root, package)
        try:
            record = cache.match_cache_notebook(notebook)
        except KeyError:
            record = None
        if record is not None and recorded.get(key) != dependencies:
            log(f"{key}: the package or a library changed since it ran; running it again")
            cache.remove_cache(record.pk)
            record = None
        if record is None:
            pending.append(page)
        recorded[key] = dependencies

    executions: list[Execution] = []
    if pending:
        workers = workers or min(len(pending), os.cpu_count() or 1)
        log(f"executing {len(pending)} chapter(s) with {workers} worker(s): "
            + ", ".join(p.stem for p in pending))
        start = time.perf_counter()
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_execute, str(p), extensions, str(cache_path), timeout,
                                   allow_errors) for p in pending]
            for future in as_completed(futures):
                execution = future.result()
                executions.append(execution)
                status = "failed" if execution.error else "done"
                log(f"  {execution.path.stem}: {status} in {execution.seconds:.1f} s")
        log(f"executed in {time.perf_counter() - start:.1f} s")
    failed = [e for e in executions if e.error]
    for execution in failed:
        recorded.pop(execution.path.relative_to(root).as_posix(), None)
    build_dir.mkdir(parents=True, exist_ok=True)
    record_file.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    if failed:
        report = "\n\n".join(f"{e.path.name}:\n{e.error}" for e in failed)
        raise RuntimeError(f"executing {len(failed)} chapter(s) failed:\n{report}")
    return executions


# --------------------------------------------------------------------------------------
# Sphinx: re-read a page whose cached execution is newer than the page
# --------------------------------------------------------------------------------------


def _outdated_by_cache(app, env, added, changed, removed) -> list[str]:
    from jupyter_cache import get_cache
    from myst_nb.sphinx_ import NbMetadataCollector

    config = env.mystnb_config
    if config.execution_mode != "cache" or not hasattr(env, "nb_metadata"):
        return []
    cache = get_cache(config.execution_cache_path or ".jupyter_cache")
    extensions = list(env.myst_config.enable_extensions)
    outdated = []
    for docname in env.found_docs - added - changed - removed:
        data = NbMetadataCollector.get_exec_data(env, docname)
        path = Path(env.doc2path(docname))
        if not data or data.get("method") != "cache" or path.suffix != ".md":
            continue
        try:
            record = cache.match_cache_notebook(read_chapter(path, extensions))
        except KeyError:
            outdated.append(docname)  # no execution to show: read (and execute) it again
            continue
        if record.created.timestamp() > (data.get("mtime") or 0) + 1:
            outdated.append(docname)
    return outdated


def setup(app):
    app.connect("env-get-outdated", _outdated_by_cache)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
