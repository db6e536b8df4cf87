"""``python -m zkbench.actors ROLE ...``: run one actor (same as ``zkbench actor ROLE ...``)."""

import sys

from zkbench.actors.runner import main

sys.exit(main())
