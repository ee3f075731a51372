"""`python -m neuroctl` is the `neuroctl` command."""

import sys

from neuroctl.cli import main

sys.exit(main())
