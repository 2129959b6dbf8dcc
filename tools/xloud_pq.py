#!/usr/bin/env python3
# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""xloud-pq: build the patched Nova tree and keep our patch queue.

The command line of tools/xloud_tools/pq/ (whose docstring says what each
subcommand does). This script's own folder is first on sys.path, so the
package beside it is imported with no sys.path edit and no venv. Scripts
that import ``xloud_pq`` (upgrade/tests/make-image.sh) get the package's
public names.
"""

import sys

from xloud_tools.pq import *  # noqa: F401,F403
from xloud_tools.pq import cli

if __name__ == '__main__':
    sys.exit(cli.main())
