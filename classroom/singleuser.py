"""A learner's single-user server: ``jupyterhub-singleuser``, less one import it never uses.

Every Jupyter server logs events through jupyter_events, which loads jsonschema's format
checkers. With rfc3987-syntax installed (jsonschema's ``format-nongpl`` extra brings it),
jsonschema builds about 35 grammars for the ``iri`` formats at import: 2.3 s of CPU and
some 15 MiB in every learner's server before it answers a request, for a format that no
Jupyter schema uses. Twenty servers starting at once on two cores wait for 46 s of it.
Without the module, jsonschema leaves the ``iri`` formats unchecked and checks the rest.

The hub runs it as ``python classroom/singleuser.py`` (classroom/jupyterhub_config.py),
with the same arguments as ``jupyterhub-singleuser``.
"""

import sys

# Importing it now raises ImportError, which jsonschema takes as "not installed".
sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]

from jupyterhub.singleuser import main  # noqa: E402 - after the module is blocked

if __name__ == "__main__":
    sys.exit(main())
