# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""Building build/<series>/nova: upstream, overlay, one commit a patch.

A digest of every input (the pin, the patches, the overlay, this
tool) is stamped into the tree, so an unchanged build is a no-op.
"""

import hashlib
import os
import shutil
import tarfile
import tempfile
import time

from xloud_tools.pq.overlay import overlay_files
from xloud_tools.pq.patches import apply_patch, Patch
from xloud_tools.pq.series import fetch_sdist
from xloud_tools.pq.shell import BuildError, git, log, REPO


# Files pbr or the test runners write into a source tree; kept out of git so
# an install or a test run never makes the built tree look edited.
TREE_EXCLUDES = """\
*.egg-info/
*.pyc
__pycache__/
/build/
/dist/
/.eggs/
/.stestr/
/.tox/
/instances/
/AUTHORS
/ChangeLog
.xloud-stamp
"""


def tool_files():
    """This tool's own modules: a change to the tool rebuilds the tree."""
    here = os.path.dirname(os.path.abspath(__file__))
    return [os.path.join(here, f) for f in sorted(os.listdir(here))
            if f.endswith('.py')]


def inputs_digest(series, pristine):
    """A digest of everything a build depends on, to make rebuilds no-ops."""
    h = hashlib.sha256()
    h.update(('%s %s %s\n' % (series.name, series.sha256,
                              pristine)).encode())
    paths = tool_files()
    if not pristine:
        paths += [os.path.join(series.dir, n) for n in series.patch_names()]
        paths += [os.path.join(REPO, p) for p in overlay_files()]
    for path in paths:
        h.update(os.path.relpath(path, REPO).encode() + b'\0')
        h.update(oct(os.stat(path).st_mode & 0o111).encode())
        with open(path, 'rb') as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def _extract(sdist, dest, version):
    with tarfile.open(sdist) as tar:
        prefix = 'nova-%s/' % version
        members = []
        for m in tar.getmembers():
            if not (m.name + '/').startswith(prefix):
                raise BuildError('unexpected member %s in sdist' % m.name)
            if m.issym() or m.islnk() or '..' in m.name.split('/'):
                raise BuildError('refusing link or path %s in sdist' % m.name)
            members.append(m)
        kwargs = {'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}
        tar.extractall(dest, members=members, **kwargs)
    return os.path.join(dest, 'nova-%s' % version)


def stamp_path(tree):
    return os.path.join(tree, '.git', 'xloud-stamp')


def tree_state(tree):
    """Return (stamp, head, dirty) of an existing built tree, or None."""
    if not os.path.isdir(os.path.join(tree, '.git')):
        return None
    stamp = ''
    if os.path.exists(stamp_path(tree)):
        with open(stamp_path(tree)) as f:
            stamp = f.read().strip()
    head = git(tree, 'rev-parse', 'HEAD', check=False).strip()
    built = git(tree, 'rev-parse', '-q', '--verify', 'refs/tags/xloud-built',
                check=False).strip()
    dirty = bool(git(tree, 'status', '--porcelain').strip())
    return stamp, head, built, dirty


def build_tree(series, pristine=False, force=False, patches=None):
    """Build the tree; ``patches`` (Patch objects) replaces the series'."""
    tree = series.pristine_tree if pristine else series.tree
    digest = inputs_digest(series, pristine)
    state = tree_state(tree)
    if state:
        stamp, head, built, dirty = state
        local_work = dirty or (built and head != built)
        if local_work and not force:
            raise BuildError(
                '%s has work that is not in patches/ yet (%s). Run '
                '"tools/xloud_pq.py export" first, or build --force to '
                'throw it away.' % (os.path.relpath(tree, REPO),
                                    'uncommitted changes' if dirty
                                    else 'new commits'))
        if stamp == digest and not local_work:
            log('%s is up to date' % os.path.relpath(tree, REPO))
            return tree, False
    if patches is None and not pristine:
        patches = [Patch(os.path.join(series.dir, n))
                   for n in series.patch_names()]
    if not pristine:
        problems = [p for patch in patches for p in patch.problems()]
        if problems:
            raise BuildError('the patch queue breaks its rules:\n  ' +
                             '\n  '.join(problems))
    log('building the %s tree of %s (%s %s) ...' % (
        'pristine' if pristine else 'patched', series.name, series.project,
        series.version))
    sdist = fetch_sdist(series)
    os.makedirs(series.build_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix='.tree-', dir=series.build_dir)
    try:
        src = _extract(sdist, work, series.version)
        # pbr regenerates these from git; upstream's copy would go stale.
        shutil.rmtree(os.path.join(src, 'nova.egg-info'), ignore_errors=True)
        git(src, 'init', '-q', '-b', 'xloud')
        with open(os.path.join(src, '.git', 'info', 'exclude'), 'w') as f:
            f.write(TREE_EXCLUDES)
        date = time.strftime('%Y-%m-%dT%H:%M:%S+0000',
                             time.gmtime(_sdist_epoch(sdist)))
        fixed = {'GIT_AUTHOR_DATE': date, 'GIT_COMMITTER_DATE': date}
        git(src, 'add', '-A', '-f', '.')
        git(src, 'reset', '-q', '--', '.git')
        git(src, 'commit', '-q', '--no-verify', '-m',
            '%s %s: pristine upstream sdist\n\nsha256 %s\n' % (
                series.project, series.version, series.sha256), env=fixed)
        git(src, 'tag', 'upstream')
        if not pristine:
            _lay_overlay(src, fixed)
            for patch in patches:
                apply_patch(src, patch)
        git(src, 'tag', 'xloud-built')
        with open(stamp_path(src), 'w') as f:
            f.write(digest + '\n')
        if os.path.exists(tree):
            shutil.rmtree(tree)
        os.replace(src, tree)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log('built %s (%s)' % (os.path.relpath(tree, REPO),
                           git(tree, 'rev-parse', '--short', 'HEAD').strip()))
    return tree, True


def _sdist_epoch(sdist):
    """The sdist's own top-level mtime: a date that never changes."""
    with tarfile.open(sdist) as tar:
        return int(tar.getmembers()[0].mtime)


def _lay_overlay(tree, fixed_env):
    files = overlay_files()
    for rel in files:
        dest = os.path.join(tree, rel)
        if os.path.lexists(dest):
            raise BuildError(
                'overlay file %s would replace an upstream file; change '
                'upstream files with a patch in patches/ instead.' % rel)
    for rel in files:
        dest = os.path.join(tree, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy2(os.path.join(REPO, rel), dest)
        os.utime(dest, (0, 0))
    if files:
        git(tree, 'add', '-f', '--', *files)
    git(tree, 'commit', '-q', '--allow-empty', '--no-verify', '-m',
        'XLoud overlay: our new modules at their in-tree paths\n\n'
        '%d files from the overlay of the xloud-nova repository.\n'
        % len(files), env=fixed_env)
    git(tree, 'tag', 'xloud-overlay')
