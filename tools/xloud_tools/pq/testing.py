# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""tests and summary: stestr selections and their recorded counts."""

import os
import re
import subprocess
import sys
import time

from xloud_tools.pq.overlay import overlay_files
from xloud_tools.pq.patches import Patch
from xloud_tools.pq.shell import BuildError, log, run


# stestr workers of a functional run unless --concurrency says otherwise
# (XLOUD_FUNCTIONAL_CONCURRENCY overrides it): see stestr_concurrency.
FUNCTIONAL_WORKERS = '1.5x'


def overlay_test_modules(kind):
    prefix = 'nova/tests/%s/' % kind
    return sorted(
        p[:-3].replace('/', '.') for p in overlay_files()
        if p.startswith(prefix) and os.path.basename(p).startswith('test_')
        and p.endswith('.py'))


def touched_files(series):
    """The upstream files the series' patches change, in queue order."""
    seen = []
    for name in series.patch_names():
        for fname, _, _ in Patch(os.path.join(series.dir, name)).hunks():
            if fname not in seen:
                seen.append(fname)
    return seen


# Upstream's unit test module of a patched module, where its name is not
# test_<module> (upstream's own naming, per file). Tried first; a release
# that renamed it to test_<module> (nova 34: test_flavors_extraspecs) falls
# back to that.
UNIT_TEST_OF = {
    'nova/compute/manager.py': 'nova.tests.unit.compute.test_compute_mgr',
    'nova/virt/driver.py': 'nova.tests.unit.virt.test_virt_drivers',
    'nova/api/openstack/compute/flavors_extraspecs.py':
        'nova.tests.unit.api.openstack.compute.test_flavors_extra_specs',
}


def touched_tests(series, kind, tree):
    """Upstream's tests of what the patches touch, as stestr selections.

    Unit: a patched module ``nova/a/b/m.py`` is tested by its own unit
    test module, ``nova.tests.unit.a.b.test_m`` or the one named in
    ``UNIT_TEST_OF``; a patched test module stands for itself. A module
    with no test module of its own selects nothing (never its whole test
    package: that would be most of the suite, see README "CI budget").
    Functional tests are grouped by feature, not by module: a patched
    package ``nova/x/.../y`` selects ``nova.tests.functional.y`` where it
    exists. Files outside ``nova/`` (packaging metadata) select nothing.
    """
    found = []
    for fname in touched_files(series):
        parts = fname[:-3].split('/') if fname.endswith('.py') else []
        if len(parts) < 2 or parts[0] != 'nova':
            continue
        if parts[1] == 'tests':
            if parts[2] == kind:
                found.append('.'.join(parts))
            continue
        pkg, mod = parts[1:-1], parts[-1]
        if kind == 'unit':
            named = UNIT_TEST_OF.get(fname)
            candidates = ([named.split('.')] if named else []) + [
                ['nova', 'tests', 'unit'] + pkg + ['test_' + mod]]
        else:
            candidates = [['nova', 'tests', 'functional', pkg[-1]]] if pkg \
                else []
        for cand in candidates:
            path = os.path.join(tree, *cand)
            if os.path.isfile(path + '.py') or os.path.isdir(path):
                found.append('.'.join(cand))
                break
    # a package selected also selects its modules: keep the package only
    return sorted(set(f for f in found if not any(
        f.startswith(g + '.') for g in found)))


def stestr_filters(kind, selection, ours, excluded):
    """stestr run's filter arguments: the tests under the named modules or
    packages (a '*' matches one name; 'all' is the whole kind) and our
    ``ours`` modules, less those under ``excluded``. [] selects nothing.
    """
    regexes = []
    for item in selection:
        if item == 'all':
            regexes = ['^nova\\.tests\\.%s\\.' % kind]
            break
        regexes.append('^%s(\\.|$)' % re.escape(item).replace(
            '\\*', '[^.]+'))
    regexes += ['^%s\\.' % re.escape(m) for m in ours]
    if not regexes:
        return []
    exclude = []
    if excluded:
        exclude = ['--exclude-regex', '|'.join(
            '^%s(\\.|$)' % re.escape(m) for m in excluded)]
    return exclude + ['|'.join(regexes)]


def stestr_concurrency(value, cpus):
    """stestr's worker count for ``--concurrency``: a number, or a factor
    of the machine's cores ('1.5x'). Nova's functional tests wait on their
    in-process services for about a third of their time (CPU 65-75 % busy
    with a worker per core, vmstat), so one and a half workers a core
    keep the cores busy; the unit tests do not wait (98 %).
    """
    text = str(value).strip()
    if text.endswith('x'):
        try:
            factor = float(text[:-1])
        except ValueError:
            factor = 0
        if factor <= 0:
            raise BuildError('--concurrency %s: a factor of the cores must '
                             'be a positive number, e.g. 1.5x' % value)
        return max(1, int(factor * (cpus or 1) + 0.5))
    if not text.isdigit() or int(text) < 1:
        raise BuildError('--concurrency %s: give a worker count (3) or a '
                         'factor of the cores (1.5x)' % value)
    return int(text)


def run_tests(series, label, kind, pristine=False, upstream=(),
              include_ours=True, extra=(), skip=()):
    """Run stestr on one selection and append its counts to the summary.

    The selection is our overlay's test modules of that kind (absent on the
    pristine tree) plus the named upstream ones (a module or package prefix,
    or 'all' for the whole kind), less the modules or packages in ``skip``.
    """
    tree = series.pristine_tree if pristine else series.tree
    ours = [] if pristine or not include_ours else overlay_test_modules(kind)
    selection = []
    for item in upstream:
        if item == 'touched':
            touched = touched_tests(series, kind, tree)
            log('%s: upstream tests of what the patches touch: %s' % (
                label, ', '.join(touched)))
            selection += touched
        else:
            selection.append(item)
    # upstream's tests only: ours are counted in their own selection,
    # except one of ours named here (tox -e chaos: the campaign alone)
    excluded = list(skip)
    if not include_ours and not pristine:
        excluded += [m for m in overlay_test_modules(kind)
                     if m not in selection]
    filters = stestr_filters(kind, selection, ours, excluded)
    if not filters:
        log('%s: nothing to run' % label)
        return 0
    cmd = ['stestr', '--test-path', './nova/tests/%s' % kind, '--top-dir',
           './', 'run', '--color'] + list(extra) + filters
    started = time.time()
    # The envs set PYTHONDONTWRITEBYTECODE (as upstream's), so without this
    # the discovery and every stestr worker compile the whole tree again
    # (about 6 s each for the unit tests); the .pyc files stay out of git.
    run([sys.executable, '-m', 'compileall', '-q', '-j', '0', 'nova'],
        cwd=tree, capture=True, check=False)
    # As upstream's own unit and functional tox envs: nova 33+ otherwise
    # picks threading for some services (nova.cmd.scheduler), and a test
    # module importing one breaks discovery once eventlet is selected.
    # Older releases only read it as "do patch" (their default).
    env = {'OS_NOVA_DISABLE_EVENTLET_PATCHING': os.environ.get(
        'OS_NOVA_DISABLE_EVENTLET_PATCHING', 'False')}
    proc = run(cmd, cwd=tree, env=env, check=False)
    elapsed = time.time() - started
    counts = _stestr_counts(tree)
    line = '%-28s %s  passed %6d  failed %4d  skipped %5d  %6.1f min%s' % (
        label, 'pristine' if pristine else 'patched ', counts['passed'],
        counts['failed'], counts['skipped'], elapsed / 60,
        '' if proc.returncode == 0 else '  FAILED')
    os.makedirs(series.build_dir, exist_ok=True)
    with open(os.path.join(series.build_dir, 'test-summary.txt'), 'a') as f:
        f.write(time.strftime('%Y-%m-%d %H:%M ') + line + '\n')
    log(line)
    return proc.returncode


def _stestr_counts(tree):
    out = subprocess.run(['stestr', 'last', '--subunit'], cwd=tree,
                         stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL).stdout
    counts = {'passed': 0, 'failed': 0, 'skipped': 0}
    try:
        import io

        import subunit
        import testtools
    except ImportError as e:  # counts are a report, never the verdict
        log('no counts (%s)' % e)
        return counts
    final = {}

    class _Tally(testtools.StreamResult):
        def status(self, test_id=None, test_status=None, **kwargs):
            if test_id and test_status in ('success', 'fail', 'skip',
                                           'xfail', 'uxsuccess'):
                final[test_id] = test_status

    result = testtools.CopyStreamResult([_Tally()])
    result.startTestRun()
    subunit.ByteStreamToStreamResult(io.BytesIO(out)).run(result)
    result.stopTestRun()
    for status in final.values():
        key = {'success': 'passed', 'xfail': 'passed',
               'skip': 'skipped'}.get(status, 'failed')
        counts[key] += 1
    return counts


def summary(series, reset=False):
    path = os.path.join(series.build_dir, 'test-summary.txt')
    if reset:
        if os.path.exists(path):
            os.unlink(path)
        return
    if not os.path.exists(path):
        log('%s: no test runs recorded yet' % series.name)
        return
    print('series %s (%s %s):' % (series.name, series.project,
                                  series.version))
    with open(path) as f:
        print(f.read(), end='')
