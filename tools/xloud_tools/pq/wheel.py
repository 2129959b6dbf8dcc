# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""The artifact: the wheel of the built tree, its version, its check."""

import os
import shutil
import sys
import tempfile
import zipfile

from xloud_tools import setup_log
from xloud_tools.pq.entry_points import (
    entry_points_txt, setup_cfg_entry_points)
from xloud_tools.pq.overlay import overlay_files
from xloud_tools.pq.shell import BuildError, git, log, REPO, run


def repo_version(series):
    """Version of the patched artifact: <upstream>+xloud.<count>.g<sha>."""
    count = run(['git', 'rev-list', '--count', 'HEAD'], cwd=REPO,
                capture=True, check=False)
    sha = run(['git', 'rev-parse', '--short=8', 'HEAD'], cwd=REPO,
              capture=True, check=False)
    if count.returncode or sha.returncode:
        return '%s+xloud.0' % series.version
    return '%s+xloud.%s.g%s' % (series.version, count.stdout.strip(),
                                sha.stdout.strip())


def pbr_env(version):
    return {'PBR_VERSION': version, 'SKIP_GENERATE_AUTHORS': '1',
            'SKIP_WRITE_GIT_CHANGELOG': '1', 'SKIP_GENERATE_RENO': '1'}


def build_wheel(series, tree):
    version = repo_version(series)
    wheel = os.path.join(series.dist, 'nova-%s-py3-none-any.whl' %
                         version.replace('-', '_'))
    head = git(tree, 'rev-parse', 'HEAD').strip()
    marker = wheel + '.tree'
    if os.path.exists(wheel) and os.path.exists(marker):
        with open(marker) as f:
            if f.read().strip() == head:
                log('artifact up to date: %s' % os.path.relpath(wheel, REPO))
                return wheel
    if os.path.isdir(series.dist):
        shutil.rmtree(series.dist)
    os.makedirs(series.dist)
    missing = [m for m in ('pbr', 'setuptools', 'wheel')
               if run([sys.executable, '-c', 'import %s' % m], capture=True,
                      check=False).returncode]
    if missing:
        raise BuildError(
            'building the wheel needs %s in %s: run "tox -e build", or pip '
            'install -r requirements.txt first (or build --no-artifact)' % (
                ', '.join(missing), sys.executable))
    log_file = setup_log.start('wheel-%s' % series.name)
    log('building the wheel %s ... (log: %s)' % (
        os.path.basename(wheel), setup_log.shown(log_file)))
    work = tempfile.mkdtemp(prefix='.wheel-', dir=series.build_dir)
    try:
        # Build from a clean checkout of HEAD so nothing untracked in the
        # developer's tree can slip into the artifact.
        git(tree, 'worktree', 'prune')
        run(['git', 'clone', '-q', '--no-hardlinks', tree, work + '/src'],
            capture=True)
        run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
             '--no-build-isolation', '-w', series.dist, work + '/src'],
            env=pbr_env(version), log_file=log_file)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not os.path.exists(wheel):
        raise BuildError('pip did not produce %s' % wheel)
    check_wheel(series, tree, wheel, version)
    with open(marker, 'w') as f:
        f.write(head + '\n')
    log('artifact: %s' % os.path.relpath(wheel, REPO))
    return wheel


def check_wheel(series, tree, wheel, version):
    """Prove the artifact carries the overlay and the patched entry points.

    pbr decides what lands in a wheel from git, so a file added but not
    committed, or an entry point dropped by a bad rebase, would otherwise
    only show up in an operator's container.
    """
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        distinfo = 'nova-%s.dist-info/' % version.replace('-', '_')
        missing = [p for p in overlay_files() if p not in names]
        if missing:
            raise BuildError('the wheel lacks overlay files: %s' %
                             ', '.join(missing))
        meta = zf.read(distinfo + 'METADATA').decode()
        if 'Version: %s\n' % version not in meta:
            raise BuildError('the wheel METADATA does not say version %s' %
                             version)
        have = entry_points_txt(
            zf.read(distinfo + 'entry_points.txt').decode())
    want = setup_cfg_entry_points(tree)
    lost = want - have
    if lost:
        raise BuildError('the wheel lacks entry points of setup.cfg or '
                         'pyproject.toml: %s' % sorted(lost))
