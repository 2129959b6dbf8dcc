# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""The overlay: our new modules at their in-tree paths (nova/)."""

import os

from xloud_tools.pq.shell import REPO


OVERLAY_ROOTS = ('nova',)


def overlay_files():
    """Relative paths of every file of the overlay, sorted."""
    files = []
    for root in OVERLAY_ROOTS:
        top = os.path.join(REPO, root)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d != '__pycache__')
            for fn in filenames:
                if fn.endswith(('.pyc', '.pyo')):
                    continue
                files.append(os.path.relpath(os.path.join(dirpath, fn),
                                             REPO))
    return sorted(files)
