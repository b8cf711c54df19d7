"""`python -m benchmarks.kill_anywhere`: see the package docstring."""

import sys

from benchmarks.kill_anywhere import main

sys.exit(main())
