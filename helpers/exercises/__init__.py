"""The "check yourself" exercises at the end of each notebook, and their checkers.

One module per notebook (``n00`` … ``n10``); everything is importable from here, as the
notebooks do: ``from helpers.exercises import check_issuer``. Worked solutions live apart
from the notebooks, in ``solutions/`` (tests/test_solutions.py runs each through its
checker).
"""

from .base import UNANSWERED as UNANSWERED
from .base import Verdict as Verdict
from .n00 import *  # noqa: F403
from .n01 import *  # noqa: F403
from .n02 import *  # noqa: F403
from .n03 import *  # noqa: F403
from .n04 import *  # noqa: F403
from .n05 import *  # noqa: F403
from .n06 import *  # noqa: F403
from .n07 import *  # noqa: F403
from .n08 import *  # noqa: F403
from .n09 import *  # noqa: F403
from .n10 import *  # noqa: F403
