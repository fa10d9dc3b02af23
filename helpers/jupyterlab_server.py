"""JupyterLab as the course starts it: ``jupyter lab``, less the one import it never uses.

    python -m helpers.jupyterlab_server [jupyter lab's arguments]

Every Jupyter server loads jsonschema's format checkers (through jupyter_events), and with
them the grammars of :mod:`helpers.skipped_imports`: 2.3 s of CPU at every start, before
JupyterLab answers. ``course.py lab`` and the browser tests start JupyterLab this way.
"""

from __future__ import annotations

import sys

from . import skipped_imports


def main() -> None:
    skipped_imports.skip()
    from jupyterlab.labapp import main as jupyter_lab

    sys.exit(jupyter_lab())


if __name__ == "__main__":
    main()
