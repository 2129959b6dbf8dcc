# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""export: the commits made in the built tree back to the repository.

New files become the overlay, every commit after the overlay one
patch file; build, export, build again gives byte-identical patches.
"""

import os
import re
import shutil
import subprocess

from xloud_tools.pq.build import inputs_digest, stamp_path, tree_state
from xloud_tools.pq.overlay import overlay_files, OVERLAY_ROOTS
from xloud_tools.pq.patches import Patch
from xloud_tools.pq.shell import BuildError, git, log, REPO


def _blob(tree, rev, rel):
    """A file's bytes at a revision of the tree, or None if absent."""
    proc = subprocess.run(['git', 'show', '%s:%s' % (rev, rel)], cwd=tree,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return proc.stdout if proc.returncode == 0 else None


def _slug(subject):
    slug = re.sub(r'[^A-Za-z0-9]+', '-', subject).strip('-').lower()
    if len(slug) > 64:
        slug = slug[:65].rsplit('-', 1)[0]
    return slug + '.patch'


def export(series):
    tree = series.tree
    state = tree_state(tree)
    if not state:
        raise BuildError('no built tree at %s: run build first' %
                         os.path.relpath(tree, REPO))
    if state[3]:
        raise BuildError('%s has uncommitted changes: commit them in the '
                         'tree first' % os.path.relpath(tree, REPO))
    upstream_files = set(git(tree, 'ls-tree', '-r', '--name-only',
                             'upstream').splitlines())
    head_files = git(tree, 'ls-tree', '-r', '--name-only',
                     'HEAD').splitlines()
    new_files = sorted(f for f in head_files if f not in upstream_files)
    outside = [f for f in new_files
               if f.split('/', 1)[0] not in OVERLAY_ROOTS]
    if outside:
        raise BuildError('new files outside the overlay roots %s: %s' % (
            '/'.join(OVERLAY_ROOTS), ', '.join(outside)))

    # 1. the overlay: what the tree holds that upstream does not. A file
    #    edited in the repository since the build wins over the tree's copy
    #    when the tree did not touch it; edited on both sides is an error.
    laid = set(git(tree, 'ls-tree', '-r', '--name-only',
                   'xloud-overlay').splitlines()) - upstream_files
    repo_newer = []
    for rel in sorted(set(overlay_files()) | laid):
        built = _blob(tree, 'xloud-overlay', rel) if rel in laid else None
        path = os.path.join(REPO, rel)
        mine = None
        if os.path.exists(path):
            with open(path, 'rb') as f:
                mine = f.read()
        if mine == built:
            continue
        theirs = _blob(tree, 'HEAD', rel)
        if theirs != built and theirs != mine:
            raise BuildError('%s was changed both in the repository and in '
                             'the built tree since the build: keep one '
                             'change, then export again' % rel)
        repo_newer.append(rel)
    wanted = set(new_files)
    for rel in overlay_files():
        if rel not in wanted and rel not in repo_newer:
            os.unlink(os.path.join(REPO, rel))
            log('overlay: removed %s' % rel)
    for rel in new_files:
        if rel in repo_newer:
            log('overlay: kept %s as edited in the repository (rebuild to '
                'use it)' % rel)
            continue
        dest = os.path.join(REPO, rel)
        src = os.path.join(tree, rel)
        with open(src, 'rb') as f:
            data = f.read()
        old = None
        if os.path.exists(dest):
            with open(dest, 'rb') as f:
                old = f.read()
        if old != data:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, 'wb') as f:
                f.write(data)
            log('overlay: wrote %s' % rel)
        shutil.copymode(src, dest)

    # 2. the patches: every commit after the overlay, upstream files only
    commits = git(tree, 'rev-list', '--reverse', '--topo-order',
                  'xloud-overlay..HEAD').split()
    written = []
    for sha in commits:
        parents = git(tree, 'rev-list', '--parents', '-n1', sha).split()[1:]
        if len(parents) != 1:
            raise BuildError('commit %s is a merge: rebase it away' % sha)
        changed = git(tree, 'diff', '--name-only', '--no-renames',
                      '%s^' % sha, sha).splitlines()
        files = [f for f in changed if f in upstream_files]
        if not files:
            continue
        raw = git(tree, 'log', '-1', '--format=%an%x00%ae%x00%aD%x00%B', sha)
        an, ae, ad, msg = raw.split('\0', 3)
        subject, _, body = msg.strip('\n').partition('\n\n')
        subject = ' '.join(subject.split())
        diff = git(tree, 'diff', '--no-color', '--no-ext-diff',
                   '--no-renames', '--full-index', '--stat=72', '-p',
                   '%s^' % sha, sha, '--', *files)
        text = 'From: %s <%s>\nDate: %s\nSubject: %s\n\n%s\n---\n%s' % (
            an, ae, ad, subject, body.strip('\n'), diff)
        name = _slug(subject)
        if name in [w for w, _ in written]:
            raise BuildError('two commits would both be %s: give them '
                             'different subjects' % name)
        written.append((name, text))
    keep = set(n for n, _ in written)
    for old in os.listdir(series.dir):
        if old.endswith('.patch') and old not in keep:
            os.unlink(os.path.join(series.dir, old))
            log('patches: removed %s' % old)
    for name, text in written:
        path = os.path.join(series.dir, name)
        old = None
        if os.path.exists(path):
            with open(path, encoding='utf-8') as f:
                old = f.read()
        if old != text:
            with open(path, 'w', encoding='utf-8') as f:
                f.write(text)
            log('patches: wrote %s' % name)
    series_text = ''.join('%s\n' % n for n, _ in written)
    with open(series.series_file, 'w') as f:
        f.write(series_text)
    problems = [p for n, _ in written
                for p in Patch(os.path.join(series.dir, n)).problems()]
    # The exported tree is now what patches/ and nova/ describe: mark it
    # built, unless the repository holds overlay edits the tree lacks.
    git(tree, 'tag', '-f', 'xloud-built')
    with open(stamp_path(tree), 'w') as f:
        f.write(('' if repo_newer else inputs_digest(series, False)) + '\n')
    log('exported %d patches and %d overlay files' % (len(written),
                                                      len(new_files)))
    if problems:
        raise BuildError('exported, but the queue breaks its rules (fix '
                         'and export again):\n  ' + '\n  '.join(problems))
