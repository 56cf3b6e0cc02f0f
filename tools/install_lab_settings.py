"""Make JupyterLab open the book's MyST Markdown chapters as notebooks.

JupyterLab reads default settings from ``<prefix>/share/jupyter/lab/settings/overrides.json``;
writing it into the environment's prefix (not the user's home) keeps the change local to
this project's ``.venv``. With it, double-clicking ``chapters/*.md`` in ``make lab`` opens a
runnable notebook through Jupytext instead of a text editor.
"""

import json
import sys
from pathlib import Path

OVERRIDES = {
    "@jupyterlab/docmanager-extension:plugin": {
        "defaultViewers": {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}
    }
}


def main() -> None:
    path = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    settings = json.loads(path.read_text()) if path.exists() else {}
    settings.update(OVERRIDES)
    path.write_text(json.dumps(settings, indent=2) + "\n")
    print(f"JupyterLab settings written to {path}")


if __name__ == "__main__":
    main()
