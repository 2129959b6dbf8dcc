# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""xloud-pq: build the patched Nova tree and keep our patch queue.

The repository holds only what XLoud writes: an overlay of new modules at
their in-tree paths (``nova/``) and, per upstream release series, a
quilt-style ``series`` of patches to upstream files (``patches/<series>/``).
This tool turns those into a full Nova tree and back again:

``build``    download (cached) and verify the pinned upstream sdist, unpack
             it, lay the overlay in, apply the series with zero fuzz, and
             leave a git repository at ``build/<series>/nova`` that has one
             commit for upstream, one for the overlay and one per patch;
             then build the installable wheel into ``build/<series>/dist``.
``rebase``   carry a series' patches onto another release: report which
             apply as they are, with moved context, or fail (at which
             hunk), then apply them in order and stop at a failing one
             with its refused hunks left as ``.rej`` files to redo.
``export``   turn the commits made in the built tree back into the overlay
             and the patch files + ``series`` (build, export, build again
             gives byte-identical patches).
``install``  pip-install the built (or pristine) tree into the running
             Python with the series' upper-constraints (its requirements
             first with uv, where the venv has it).
``check``    lint the patch queue: headers, ``# xloud`` markers, Python
             3.10 compatibility of our own code.
``tests``    run one test selection (less ``--skip`` modules) with stestr
             and record its counts.

Only the standard library is used, so the tool runs before any venv exists,
on the operators' Python 3.10 as well as on 3.11.

The modules, one a job: shell (commands, git, BuildError), series (the
pins, the sdist), overlay, patches (the queue's files and rules), build,
entry_points, wheel, export, rebase, lint (check, flake8), install,
testing (tests, summary) and cli (the command line, tools/xloud_pq.py).
"""

# The names other scripts use through ``xloud_pq`` (upgrade/xloud_artifact.py,
# upgrade/tests/): this package's public face.
from xloud_tools.pq.entry_points import (
    pyproject_entry_point, pyproject_group, setup_cfg_entry_points)
from xloud_tools.pq.lint import count_markers
from xloud_tools.pq.overlay import overlay_files
from xloud_tools.pq.patches import HEADER_FIELDS, MARKER, Patch
from xloud_tools.pq.series import (
    all_series, default_series, fetch_sdist, Series)
from xloud_tools.pq.shell import BuildError, REPO

__all__ = [
    'all_series', 'BuildError', 'count_markers', 'default_series',
    'fetch_sdist', 'HEADER_FIELDS', 'MARKER', 'overlay_files', 'Patch',
    'pyproject_entry_point', 'pyproject_group', 'REPO', 'Series',
    'setup_cfg_entry_points',
]
