# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""rebase: carry a series' patch queue onto another release."""

import json
import os
import re
import shutil
import tempfile

from xloud_tools.pq.build import build_tree, stamp_path, tree_state
from xloud_tools.pq.export import export
from xloud_tools.pq.patches import apply_patch, commit_patch, MARKER, Patch
from xloud_tools.pq.series import Series
from xloud_tools.pq.shell import BuildError, git, log, REPO, run


REBASE_STATE = 'xloud-rebase.json'


def _patch_file(text):
    f = tempfile.NamedTemporaryFile('w', suffix='.diff', delete=False)
    with f:
        f.write(text)
    return f.name


def _git_apply(tree, diff, *flags):
    path = _patch_file(diff)
    try:
        return run(['git', 'apply', '--whitespace=nowarn'] + list(flags)
                   + [path], cwd=tree, capture=True, check=False)
    finally:
        os.unlink(path)


def _hunk_diffs(patch):
    """Yield (file, hunk header, a diff of that one hunk) for a patch."""
    head, hunk, fname = [], [], None
    for line in patch.diff.splitlines(True):
        if line.startswith('diff --git '):
            if hunk:
                yield fname, hunk[0].rstrip('\n'), ''.join(head + hunk)
            head, hunk = [line], []
            fname = line.split(' b/', 1)[-1].strip()
        elif line.startswith('@@'):
            if hunk:
                yield fname, hunk[0].rstrip('\n'), ''.join(head + hunk)
            hunk = [line]
        elif hunk:
            hunk.append(line)
        else:
            head.append(line)
    if hunk:
        yield fname, hunk[0].rstrip('\n'), ''.join(head + hunk)


def classify(tree, patch):
    """How a patch meets a tree: (verdict, details), checking only.

    ``as-is``: every hunk applies where it says; ``moved``: every hunk
    applies with its exact context, some at other lines (git apply's own
    offsets, allowed by build); ``fails``: a hunk's context is not there,
    and each failing hunk is named, with whether it would match on less
    context (upstream edited lines near ours) or not at all.
    """
    proc = _git_apply(tree, patch.diff, '--check', '-v', '-C3')
    if proc.returncode == 0:
        moved = re.findall(r'Hunk #(\d+) succeeded at (\d+) \(offset '
                           r'(-?\d+) lines?\)', proc.stderr + proc.stdout)
        if not moved:
            return 'as-is', []
        return 'moved', ['hunk #%s at line %s (%+d lines)' % (
            n, at, int(off)) for n, at, off in moved]
    details = []
    for fname, header, diff in _hunk_diffs(patch):
        if _git_apply(tree, diff, '--check', '-C3').returncode == 0:
            continue
        if _git_apply(tree, diff, '--check', '-C1').returncode == 0:
            why = 'context changed (matches on one line of context)'
        else:
            why = 'its lines are not there'
        details.append('%s %s: %s' % (fname, header.split(' @@')[0] + ' @@',
                                      why))
    return 'fails', details or [proc.stderr.strip()]


def _rebase_report(verdicts):
    width = max([len(name) for name, _, _ in verdicts] + [10])
    lines = []
    for name, verdict, details in verdicts:
        lines.append(('  %-7s %-*s' % (verdict, width, name)).rstrip())
        lines += ['          %s' % d for d in details]
    counts = dict((v, sum(1 for _, x, _ in verdicts if x == v))
                  for v in ('as-is', 'moved', 'fails'))
    lines.append('  %d apply as they are, %d with moved context, %d fail' % (
        counts['as-is'], counts['moved'], counts['fails']))
    return '\n'.join(lines)


def _state_path(series):
    return os.path.join(series.tree, '.git', REBASE_STATE)


def rebase(target, source):
    """Start carrying ``source``'s patch queue onto ``target``'s release.

    Reports, for every patch, whether it applies to the target's upstream
    as it is, with moved context, or fails (and at which hunk), on a
    scratch worktree where each patch meets its predecessors. Then builds
    ``build/<target>/nova`` (upstream, overlay) and applies the queue in
    order like ``git rebase``: it stops at the first patch that fails, with
    the hunks that do apply in the working tree and a ``.rej`` file for
    each one that does not, for ``rebase --continue`` (or ``--skip``).
    """
    if target.name == source.name:
        raise BuildError('--onto names the series the patches come from')
    patches = [Patch(os.path.join(source.dir, n))
               for n in source.patch_names()]
    state = tree_state(target.tree)
    if state and (state[3] or (state[2] and state[1] != state[2])):
        raise BuildError('%s has work that is not in patches/ yet: export '
                         'it or remove the tree first' %
                         os.path.relpath(target.tree, REPO))
    shutil.rmtree(target.tree, ignore_errors=True)
    tree, _ = build_tree(target, patches=[])
    # every commit from here on is work a plain build must not discard
    git(tree, 'tag', '-f', 'xloud-built', 'xloud-overlay')
    os.unlink(stamp_path(tree))

    scratch = tempfile.mkdtemp(prefix='.rebase-', dir=target.build_dir)
    verdicts = []
    try:
        git(tree, 'worktree', 'add', '-q', '--detach', scratch, 'HEAD')
        for patch in patches:
            verdict, details = classify(scratch, patch)
            verdicts.append((patch.name, verdict, details))
            if verdict != 'fails':
                _git_apply(scratch, patch.diff, '-C3')
    finally:
        git(tree, 'worktree', 'remove', '--force', scratch, check=False)
        shutil.rmtree(scratch, ignore_errors=True)
    log('%s %s onto %s %s (checked in order, each patch on the ones '
        'before it that apply):\n%s' % (
            source.name, source.version, target.name, target.version,
            _rebase_report(verdicts)))
    todo = [p.name for p in patches]
    _rebase_steps(target, source, todo)


def _rebase_steps(target, source, todo):
    """Apply ``todo`` in order; stop at a failing patch, or export."""
    tree = target.tree
    while todo:
        patch = Patch(os.path.join(source.dir, todo[0]))
        verdict, details = classify(tree, patch)
        if verdict == 'fails':
            _git_apply(tree, patch.diff, '--reject', '-C3')
            with open(_state_path(target), 'w') as f:
                json.dump({'source': source.name, 'todo': todo}, f)
            rejects = sorted(
                line[3:] for line in git(
                    tree, 'status', '--porcelain', '-uall').splitlines()
                if line.endswith('.rej'))
            raise BuildError(
                'stopped at %s:\n  %s\nIts other hunks are applied in %s;'
                ' the refused ones are in %s. Redo them by hand (hooks '
                'into our modules, each marked %r), delete the .rej files,'
                ' then run "xloud_pq.py --series %s rebase --continue" (or'
                ' --skip to drop the patch).' % (
                    patch.name, '\n  '.join(details),
                    os.path.relpath(tree, REPO), ', '.join(rejects) or
                    'no file', MARKER, target.name))
        if verdict == 'moved':
            log('%s: applied with moved context' % patch.name)
        apply_patch(tree, patch)
        todo.pop(0)
    if os.path.exists(_state_path(target)):
        os.unlink(_state_path(target))
    export(target)
    log('rebased %d patches onto %s %s; next: "XLOUD_SERIES=%s tox"' % (
        len(target.patch_names()), target.project, target.version,
        target.name))


def rebase_resume(target, skip=False):
    """``rebase --continue`` / ``--skip``: finish the patch it stopped at."""
    path = _state_path(target)
    if not os.path.exists(path):
        raise BuildError('no rebase in progress in %s' %
                         os.path.relpath(target.tree, REPO))
    with open(path) as f:
        state = json.load(f)
    source, todo = Series(state['source']), state['todo']
    tree = target.tree
    patch = Patch(os.path.join(source.dir, todo[0]))
    if skip:
        git(tree, 'reset', '-q', '--hard')
        git(tree, 'clean', '-q', '-fd')
        log('%s: dropped' % patch.name)
    else:
        status = git(tree, 'status', '--porcelain', '-uall').splitlines()
        rejects = [line[3:] for line in status if line.endswith('.rej')]
        if rejects:
            raise BuildError('rejected hunks are still there: %s' %
                             ', '.join(rejects))
        if not status:
            raise BuildError('%s changed nothing: --skip drops it' %
                             patch.name)
        git(tree, 'add', '-A')
        commit_patch(tree, patch)
        log('%s: committed as redone' % patch.name)
    _rebase_steps(target, source, todo[1:])
