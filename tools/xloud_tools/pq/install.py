# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""install: the built (or pristine) tree into the running Python."""

import importlib.util
import os
import re
import sys

from xloud_tools import setup_log
from xloud_tools.pq.shell import BuildError, log, REPO, run
from xloud_tools.pq.wheel import pbr_env, repo_version


def service_requirement(series, name):
    try:
        return series.services[name]
    except KeyError:
        raise BuildError('%s has no %r pin in its [services] section' % (
            os.path.relpath(os.path.join(series.dir, 'UPSTREAM'), REPO),
            name))


def lint_requirements(tree):
    """The lines of the tree's test-requirements that flake8 needs.

    Nova's hacking checks (nova/hacking/checks.py) import only hacking, and
    flake8 reads them from the tree: the pep8 env needs neither Nova nor
    its requirements, only the hacking pin of the release (which brings
    its flake8).
    """
    with open(os.path.join(tree, 'test-requirements.txt')) as f:
        found = [line.split('#')[0].strip() for line in f
                 if re.match(r'hacking\s*([=<>!~;\[]|$)', line.strip(),
                             re.IGNORECASE)]
    if not found:
        raise BuildError('no hacking line in %s' % os.path.relpath(
            os.path.join(tree, 'test-requirements.txt'), REPO))
    return found


def install(series, pristine=False, placement=False, extras=None,
            services=(), lint=False):
    tree = series.pristine_tree if pristine else series.tree
    if not os.path.isdir(tree):
        raise BuildError('no tree at %s: build it first' % tree)
    # pip's and setuptools' output (thousands of lines of warnings) goes
    # to a log of this venv; the screen gets one line
    log_file = setup_log.start('install-%s' % os.path.basename(sys.prefix))
    if lint:
        log('installing %s into %s (log: %s)' % (
            ' '.join(lint_requirements(tree)), sys.prefix,
            setup_log.shown(log_file)))
        run([sys.executable, '-m', 'pip', 'install', '-q', '-c',
             series.constraints] + lint_requirements(tree),
            log_file=log_file)
        return
    target = tree + ('[%s]' % extras if extras else '')
    wanted = ['-r', os.path.join(tree, 'test-requirements.txt')]
    if placement:
        wanted.append(service_requirement(series, 'placement'))
    wanted += [service_requirement(series, name) for name in services]
    version = series.version if pristine else repo_version(series)
    log('installing %s %s into %s ... (log: %s)' % (
        os.path.relpath(tree, REPO), version, sys.prefix,
        setup_log.shown(log_file)))
    if importlib.util.find_spec('uv'):
        # The tox envs have uv: it installs the bulk (the tree's own and
        # test requirements, the services) in seconds; pip below then only
        # links the tree and adds its extras. The same versions either way
        # (the series' constraints pin them all); pip alone took about 80 s
        # an env, uv and pip about 20 s.
        run([sys.executable, '-m', 'uv', 'pip', 'install', '-q',
             '--python', sys.executable, '-c', series.constraints,
             '-r', os.path.join(tree, 'requirements.txt')] + wanted,
            log_file=log_file)
    run([sys.executable, '-m', 'pip', 'install', '-q', '-c',
         series.constraints, '-e', target] + wanted, env=pbr_env(version),
        log_file=log_file)
    log('installed %s %s' % (os.path.relpath(tree, REPO), version))
