"""``python -m dgeflow check CONFIG`` (see :mod:`dgeflow.check`)."""

import sys

from dgeflow.check import main

sys.exit(main())
