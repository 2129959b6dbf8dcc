# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""The command line of xloud_pq.py: one subcommand a job."""

import argparse
import os
import sys

from xloud_tools import pq
from xloud_tools.pq.build import build_tree
from xloud_tools.pq.export import export
from xloud_tools.pq.install import install
from xloud_tools.pq.lint import check, count_markers, flake8
from xloud_tools.pq.rebase import rebase, rebase_resume
from xloud_tools.pq.series import all_series, default_series, Series
from xloud_tools.pq.shell import BuildError, log
from xloud_tools.pq.testing import (
    FUNCTIONAL_WORKERS, run_tests, stestr_concurrency, summary)
from xloud_tools.pq.wheel import build_wheel, repo_version


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='xloud_pq.py', description=pq.__doc__.split('\n\n')[0])
    parser.add_argument('--series', default=None,
                        help='upstream series under patches/ (default: '
                             '[xloud] default-series of setup.cfg)')
    sub = parser.add_subparsers(dest='cmd', required=True)
    b = sub.add_parser('build', help='build the patched tree and artifact')
    b.add_argument('--pristine', action='store_true',
                   help='upstream only, at build/<series>/pristine')
    b.add_argument('--force', action='store_true',
                   help='discard local commits in the built tree')
    b.add_argument('--no-artifact', action='store_true')
    sub.add_parser('export', help='commits in the tree back to patches/')
    r = sub.add_parser('rebase', help="carry a series' patches onto "
                                      "another release")
    r.add_argument('--onto', help='the new series (its UPSTREAM written)')
    r.add_argument('--from', dest='source', default=None,
                   help='the series whose patches to carry (default: the '
                        'default series)')
    r.add_argument('--continue', dest='resume', action='store_true',
                   help='commit the redone patch and go on')
    r.add_argument('--skip', action='store_true',
                   help='drop the patch it stopped at and go on')
    i = sub.add_parser('install', help='pip install the tree here')
    i.add_argument('--pristine', action='store_true')
    i.add_argument('--placement', action='store_true')
    i.add_argument('--extras', default=None)
    i.add_argument('--service', action='append', default=[],
                   help="also install a service of the series' release "
                        "(a name of UPSTREAM's [services], e.g. glance)")
    i.add_argument('--lint', action='store_true',
                   help='only what the flake8 command needs (hacking)')
    t = sub.add_parser('tests', help='run a test selection with stestr')
    t.add_argument('label')
    t.add_argument('kind', choices=('unit', 'functional'))
    t.add_argument('upstream', nargs='*',
                   help="upstream modules/packages, 'all', or 'touched' "
                        "(the tests of the files our patches change)")
    t.add_argument('--pristine', action='store_true')
    t.add_argument('--no-ours', action='store_true')
    t.add_argument('--concurrency', default=None,
                   help="stestr workers: a number, or a factor of the "
                        "cores ('1.5x'); default: one a core for unit "
                        "tests, FUNCTIONAL_WORKERS for functional ones")
    t.add_argument('--skip', action='append', default=[],
                   metavar='MODULE',
                   help='leave out this module or package (repeatable)')
    c = sub.add_parser('check', help='lint the queue and our Python')
    c.add_argument('--all', action='store_true', help='every series')
    s = sub.add_parser('summary', help='print the recorded test counts')
    s.add_argument('--all', action='store_true', help='every series')
    s.add_argument('--reset', action='store_true',
                   help='forget earlier runs')
    sub.add_parser('flake8', help='flake8 + hacking on our Python')
    sub.add_parser('markers', help="count the '# xloud' lines we add")
    p = sub.add_parser('path', help='print the built tree path')
    p.add_argument('--pristine', action='store_true')
    sub.add_parser('version', help='print the artifact version')
    args = parser.parse_args(argv)
    try:
        series = Series(args.series or default_series())
        if args.cmd == 'build':
            tree, _ = build_tree(series, pristine=args.pristine,
                                 force=args.force)
            if not (args.pristine or args.no_artifact):
                build_wheel(series, tree)
            log('tree: %s' % tree)
        elif args.cmd == 'export':
            export(series)
        elif args.cmd == 'rebase':
            if args.resume or args.skip:
                rebase_resume(Series(args.onto or series.name), args.skip)
            elif not args.onto:
                raise BuildError('rebase needs --onto <series>')
            else:
                rebase(Series(args.onto),
                       Series(args.source or default_series()))
        elif args.cmd == 'check':
            for one in all_series() if args.all else [series]:
                check(one)
        elif args.cmd == 'install':
            install(series, args.pristine, args.placement, args.extras,
                    args.service, args.lint)
        elif args.cmd == 'tests':
            workers = args.concurrency or (
                os.environ.get('XLOUD_FUNCTIONAL_CONCURRENCY',
                               FUNCTIONAL_WORKERS)
                if args.kind == 'functional' else None)
            extra = (['--concurrency', str(stestr_concurrency(
                workers, os.cpu_count()))] if workers else [])
            return run_tests(series, args.label, args.kind, args.pristine,
                             args.upstream, not args.no_ours, extra,
                             args.skip)
        elif args.cmd == 'summary':
            for one in all_series() if args.all else [series]:
                summary(one, args.reset)
        elif args.cmd == 'flake8':
            return flake8(series)
        elif args.cmd == 'markers':
            print(count_markers(series))
        elif args.cmd == 'path':
            print(series.pristine_tree if args.pristine else series.tree)
        elif args.cmd == 'version':
            print(repo_version(series))
    except BuildError as e:
        print('xloud-pq: error: %s' % e, file=sys.stderr)
        return 1
    return 0
