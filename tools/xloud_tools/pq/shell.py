# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""Running commands and git, and the error a user can act on.

Every part of the tool fails with BuildError, which main() prints
without a traceback; git runs with a fixed identity so the built
tree's commits never depend on the developer's configuration.
"""

import os
import subprocess

from xloud_tools import setup_log

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))


IDENTITY = {
    'GIT_AUTHOR_NAME': 'XLoud Nova build',
    'GIT_AUTHOR_EMAIL': 'build@xloud.invalid',
    'GIT_COMMITTER_NAME': 'XLoud Nova build',
    'GIT_COMMITTER_EMAIL': 'build@xloud.invalid',
}


class BuildError(Exception):
    """A failure the user can act on; printed without a traceback."""


def log(msg):
    print('xloud-pq: %s' % msg, flush=True)


def run(cmd, cwd=None, env=None, capture=False, check=True, input=None,
        log_file=None):
    """Run a command; ``log_file``: its output goes there (setup_log)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    if log_file and not check:
        return setup_log.run(cmd, log_file, cwd=cwd, env=full_env)
    if log_file:
        return setup_log.check_run(cmd, log_file, cwd=cwd, env=full_env,
                                   error=BuildError)
    proc = subprocess.run(
        cmd, cwd=cwd, env=full_env, input=input, text=True,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None)
    if check and proc.returncode != 0:
        detail = (proc.stderr or '').strip() if capture else ''
        raise BuildError('command failed (%d): %s%s' % (
            proc.returncode, ' '.join(cmd),
            ('\n' + detail) if detail else ''))
    return proc


def git(tree, *args, env=None, check=True):
    full_env = dict(IDENTITY)
    full_env.update(env or {})
    return run(['git', '-c', 'core.autocrlf=false', '-c', 'color.ui=never']
               + list(args), cwd=tree, env=full_env, capture=True,
               check=check).stdout
