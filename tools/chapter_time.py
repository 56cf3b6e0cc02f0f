"""Execute one chapter as the build does and report what it costs: wall time, the CPU
time of its kernel, and its slowest cells.

The CPU time is the number to compare with the per-chapter budget: on a machine shared
with other work, wall time grows while CPU time does not. ``time jupytext --execute``
cannot measure it, because the kernel is not a child that the shell waits for::

    .venv/bin/python tools/chapter_time.py chapters/05_gradient_descent.md
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jupytext
import psutil
from nbclient import NotebookClient


def execute(chapter: Path, timeout: int = 600) -> tuple[float, float, list[tuple[float, int, str]]]:
    """Run ``chapter``; return wall seconds, kernel CPU seconds and per-cell wall times."""
    notebook = jupytext.read(chapter)
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3",
        resources={"metadata": {"path": str(chapter.parent)}},
    )
    cells: list[tuple[float, int, str]] = []
    start = time.perf_counter()
    with client.setup_kernel(env={**os.environ, "BPBOOK_STATIC_WIDGETS": "1"}):
        kernel = psutil.Process(client.km.provisioner.process.pid)
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            before = time.perf_counter()
            client.execute_cell(cell, index)
            first_line = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
            cells.append((time.perf_counter() - before, index, first_line[:60]))
        cpu = kernel.cpu_times()
        kernel_cpu = cpu.user + cpu.system + cpu.children_user + cpu.children_system
    return time.perf_counter() - start, kernel_cpu, cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapter", type=Path)
    parser.add_argument("--top", type=int, default=8, help="how many of the slowest cells")
    args = parser.parse_args(argv)
    wall, cpu, cells = execute(args.chapter.resolve())
    print(f"{args.chapter}: wall {wall:.1f} s, kernel CPU {cpu:.1f} s, {len(cells)} code cells")
    for seconds, index, first_line in sorted(cells, reverse=True)[: args.top]:
        print(f"  {seconds:6.1f} s  cell {index:3d}  {first_line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
