#!/usr/bin/env python3
# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""A private libvirtd (QEMU driver, TCG guests) that leaves the host alone.

The command line of xloud_tools.libvirtd (its docstring says more). This
script's own folder is first on sys.path, so the package beside it is
imported with no sys.path edit and no venv.
"""

import sys

from xloud_tools import libvirtd

if __name__ == '__main__':
    sys.exit(libvirtd.main())
