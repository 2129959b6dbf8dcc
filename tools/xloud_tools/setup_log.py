# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""The set-up steps' own output in a log file, one short line on screen.

A tox env's set-up (the tree's install, Debian packages, libvirt-python)
printed thousands of lines of pip, setuptools and apt warnings before the
env's own output. Each step now says in one line what it does and where
its log is, build/logs/<step>.log, and sends its commands' output there;
a failure shows the log's last lines and its path.
"""

import os
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
LOG_DIR = os.path.join(REPO, 'build', 'logs')
# lines of a failed step's log shown with its error
TAIL_LINES = 40


def start(step):
    """An empty log for ``step``; its path."""
    os.makedirs(LOG_DIR, exist_ok=True)
    path = os.path.join(LOG_DIR, '%s.log' % step)
    open(path, 'w').close()
    return path


def shown(path):
    """The log's path as the user reads it: from the repository root."""
    return os.path.relpath(path, REPO)


def tail(path, lines=TAIL_LINES):
    """The log's last lines, indented, to follow an error message."""
    with open(path, errors='replace') as f:
        last = f.read().splitlines()[-lines:]
    return '\n'.join('  | ' + line for line in last)


def failure(cmd, returncode, path):
    """The message of a failed logged command: it, its log's tail, the log."""
    return 'command failed (%d): %s\nthe last lines of %s:\n%s\n(log: %s)' % (
        returncode, ' '.join(cmd), shown(path), tail(path), shown(path))


def run(cmd, path, cwd=None, env=None):
    """Run ``cmd`` with its stdout and stderr appended to the log ``path``.

    Returns the completed process, whatever its exit status.
    """
    with open(path, 'a') as out:
        out.write('$ %s\n' % ' '.join(cmd))
        out.flush()
        return subprocess.run(cmd, cwd=cwd, env=env, text=True,
                              stdout=out, stderr=subprocess.STDOUT)


def check_run(cmd, path, cwd=None, env=None, error=RuntimeError):
    """run(), raising ``error`` (failure()'s message) if the command fails."""
    proc = run(cmd, path, cwd=cwd, env=env)
    if proc.returncode:
        raise error(failure(cmd, proc.returncode, path))
    return proc
