"""A learner's single-user server: ``jupyterhub-singleuser``, less one import it never uses.

Every Jupyter server logs events through jupyter_events, which loads jsonschema's format
checkers, and with them the grammars of :mod:`helpers.skipped_imports`: importing the
server's modules takes 3.5 s of CPU and 123 MiB with them, 1.6 s and 106 MiB without.
For twenty servers starting at once that is 38 s of CPU less (bench/classroom.py: all
ready in 39.6 s instead of 61.5 s and 64.0 s, on two cores).

The hub runs it as ``python classroom/singleuser.py`` (classroom/jupyterhub_config.py),
with the same arguments as ``jupyterhub-singleuser``.
"""

import sys

from helpers import skipped_imports

skipped_imports.skip()
from jupyterhub.singleuser import main  # noqa: E402 - after the skip

if __name__ == "__main__":
    sys.exit(main())
