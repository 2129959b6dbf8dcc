# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""check and flake8: the queue's rules and our Python.

Operators run Python 3.10: our code is parsed as 3.10 and refused
names of the standard library that are 3.11+ only.
"""

import ast
import os
import sys

from xloud_tools.pq.overlay import overlay_files
from xloud_tools.pq.patches import MARKER, Patch
from xloud_tools.pq.shell import BuildError, log, REPO, run


# Python 3.11+ names our code must not use: operators run Python 3.10.
PY311_NAMES = {
    ('tomllib', None), ('datetime', 'UTC'), ('enum', 'StrEnum'),
    ('typing', 'Self'), ('typing', 'LiteralString'), ('typing', 'Never'),
    ('asyncio', 'TaskGroup'), ('asyncio', 'timeout'),
    ('hashlib', 'file_digest'), ('operator', 'call'),
    ('contextlib', 'chdir'), ('builtins', 'ExceptionGroup'),
}


def python_problems(min_version):
    """Syntax and stdlib names of our code newer than operators' Python."""
    major, minor = (int(x) for x in min_version.split('.')[:2])
    found = []
    paths = [os.path.join(REPO, p) for p in overlay_files()
             if p.endswith('.py')]
    for top in ('tools', 'tests', 'upgrade', 'sandbox', 'realvirt', 'osc',
                'sdk', 'dashboard'):
        for dirpath, _, filenames in os.walk(os.path.join(REPO, top)):
            paths += [os.path.join(dirpath, f) for f in filenames
                      if f.endswith('.py')]
    for path in sorted(paths):
        rel = os.path.relpath(path, REPO)
        with open(path, encoding='utf-8') as f:
            src = f.read()
        try:
            tree = ast.parse(src, rel, feature_version=(major, minor))
        except SyntaxError as e:
            found.append('%s:%s: not Python %s syntax: %s' % (
                rel, e.lineno, min_version, e.msg))
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.TryStar if hasattr(ast, 'TryStar')
                          else ()):
                found.append('%s:%d: except* needs Python 3.11' % (
                    rel, node.lineno))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if (alias.name, None) in PY311_NAMES:
                        found.append('%s:%d: %s needs Python 3.11' % (
                            rel, node.lineno, alias.name))
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if (node.module, alias.name) in PY311_NAMES:
                        found.append('%s:%d: %s.%s needs Python 3.11' % (
                            rel, node.lineno, node.module, alias.name))
            elif (isinstance(node, ast.Attribute) and
                    isinstance(node.value, ast.Name) and
                    (node.value.id, node.attr) in PY311_NAMES):
                found.append('%s:%d: %s.%s needs Python 3.11' % (
                    rel, node.lineno, node.value.id, node.attr))
            elif isinstance(node, ast.Name) and (
                    ('builtins', node.id) in PY311_NAMES):
                found.append('%s:%d: %s needs Python 3.11' % (
                    rel, node.lineno, node.id))
    return found


def check(series):
    problems = []
    for name in series.patch_names():
        problems += Patch(os.path.join(series.dir, name)).problems()
    problems += python_problems(series.min_python)
    listed = set(series.patch_names())
    for fn in sorted(os.listdir(series.dir)):
        if fn.endswith('.patch') and fn not in listed:
            problems.append('%s is not in the series file' % fn)
    if problems:
        raise BuildError('check of %s failed:\n  %s' % (
            series.name, '\n  '.join(problems)))
    log('check %s (Python >= %s): %d patches, %d overlay files, %d %r '
        'markers: ok' % (series.name, series.min_python, len(listed),
                         len(overlay_files()), count_markers(series),
                         MARKER))


def count_markers(series):
    """Lines marked '# xloud' that the series adds to upstream files."""
    total = 0
    for name in series.patch_names():
        for _, _, added in Patch(os.path.join(series.dir, name)).hunks():
            total += sum(1 for line in added if MARKER in line)
    return total


def flake8(series):
    """flake8 with the built tree's own config and Nova's hacking checks.

    Run from inside the tree, flake8 reads upstream's tox.ini: its ignore
    list and its local hacking plugins (nova/hacking/checks.py) apply to our
    overlay and to every upstream Python file a patch touches, exactly as
    they would in Nova's gate.
    """
    files = [p for p in overlay_files() if p.endswith('.py')]
    for name in series.patch_names():
        for fname, _, _ in Patch(os.path.join(series.dir, name)).hunks():
            if fname.endswith('.py') and fname not in files:
                files.append(fname)
    log('flake8 on %d files' % len(files))
    return run([sys.executable, '-m', 'flake8'] + sorted(files),
               cwd=series.tree, check=False).returncode
