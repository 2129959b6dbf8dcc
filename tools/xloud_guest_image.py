#!/usr/bin/env python3
# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""A tiny guest that tells, on its serial console, what it really runs.

The command line of xloud_tools.guest_image (its docstring says more). This
script's own folder is first on sys.path, so the package beside it is
imported with no sys.path edit and no venv.
"""

import sys

from xloud_tools import guest_image

if __name__ == '__main__':
    sys.exit(guest_image.main())
