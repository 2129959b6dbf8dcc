# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""Tests of tools/xloud_pq.py, the build tool and patch queue.

Most tests run the tool, as a subprocess, on a scratch copy of a repository
whose upstream is a *stand-in* sdist made here (a three-file "nova"), so
each build takes well under a second. The tests marked "real" use the
pinned nova sdist of the default series and this repository's own
patches.
"""

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import unittest
from unittest import mock

from xloud_tools.pq import entry_points
from xloud_tools.pq import install
from xloud_tools.pq import lint
from xloud_tools.pq import series
from xloud_tools.pq import shell
from xloud_tools.pq import testing

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TOOL = os.path.join(REPO, 'tools', 'xloud_pq.py')
PACKAGE = os.path.join(REPO, 'tools', 'xloud_tools')

UPSTREAM_FILES = {
    'nova/__init__.py': '',
    'nova/routes.py': ''.join('ROUTE_%d = %d\n' % (i, i) for i in range(30)),
    'setup.cfg': textwrap.dedent('''\
        [metadata]
        name = nova

        [entry_points]
        nova.api.extra_spec_validators =
        \thw = nova.api.validation.extra_specs.hw
        '''),
}

PATCH_MSG = textwrap.dedent('''\
    Route the adjust API

    Description: one more route.
    Why: the feature needs it.
    Upstream-status: not-needed
    ''')


def make_sdist(path, version='1.0.0', files=UPSTREAM_FILES):
    """Write a stand-in upstream sdist; return its sha256."""
    with tarfile.open(path, 'w:gz') as tar:
        top = tarfile.TarInfo('nova-%s' % version)
        top.type, top.mode, top.mtime = tarfile.DIRTYPE, 0o755, 1700000000
        tar.addfile(top)
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo('nova-%s/%s' % (version, name))
            info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
            tar.addfile(info, io.BytesIO(data))
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


class ScratchRepo(unittest.TestCase):
    """A throwaway project: the tool, a pin to a stand-in sdist, an overlay."""

    series = 'T'

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='xloud-pq-test-')
        self.addCleanup(shutil.rmtree, self.tmp)
        self.repo = os.path.join(self.tmp, 'repo')
        os.makedirs(os.path.join(self.repo, 'tools'))
        shutil.copy(TOOL, os.path.join(self.repo, 'tools'))
        shutil.copytree(PACKAGE, os.path.join(self.repo, 'tools',
                                              'xloud_tools'),
                        ignore=shutil.ignore_patterns('__pycache__'))
        self.sdist = os.path.join(self.tmp, 'nova-1.0.0.tar.gz')
        self.sha = make_sdist(self.sdist)
        self.cache = os.path.join(self.tmp, 'cache')
        self.write_pin(self.sha)
        self.write('patches/T/series', '')
        self.write('nova/xloud_mod.py', 'VALUE = 1\n')
        self.write('setup.cfg', '[xloud]\ndefault-series = T\n')

    def write(self, rel, text):
        path = os.path.join(self.repo, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(text)

    def read(self, rel):
        with open(os.path.join(self.repo, rel)) as f:
            return f.read()

    def write_pin(self, sha):
        self.write('patches/T/UPSTREAM', textwrap.dedent('''\
            [upstream]
            project = nova
            version = 1.0.0
            url = file://%s
            sha256 = %s
            constraints = constraints/none.txt
            ''' % (self.sdist, sha)))

    def pq(self, *args, ok=True):
        proc = subprocess.run(
            [sys.executable, os.path.join(self.repo, 'tools', 'xloud_pq.py')]
            + list(args), cwd=self.repo, text=True, capture_output=True,
            env=dict(os.environ, XLOUD_CACHE=self.cache))
        if ok:
            self.assertEqual(0, proc.returncode, proc.stderr)
        else:
            self.assertNotEqual(0, proc.returncode, proc.stdout)
        return proc

    @property
    def tree(self):
        return os.path.join(self.repo, 'build', 'T', 'nova')

    def tree_git(self, *args):
        return subprocess.run(
            ['git'] + list(args), cwd=self.tree, check=True, text=True,
            capture_output=True,
            env=dict(os.environ, GIT_AUTHOR_NAME='Dev',
                     GIT_AUTHOR_EMAIL='dev@example.invalid',
                     GIT_COMMITTER_NAME='Dev',
                     GIT_COMMITTER_EMAIL='dev@example.invalid')).stdout

    def edit_tree(self, rel, old, new):
        path = os.path.join(self.tree, rel)
        with open(path) as f:
            text = f.read()
        self.assertIn(old, text)
        with open(path, 'w') as f:
            f.write(text.replace(old, new))

    def add_patch_in_tree(self, msg=PATCH_MSG, marker='  # xloud'):
        self.edit_tree('nova/routes.py', 'ROUTE_15 = 15\n',
                       'ROUTE_15 = 15\nADJUST = 99%s\n' % marker)
        self.tree_git('commit', '-qam', msg)


class TestBuild(ScratchRepo):

    def test_tree_has_one_commit_per_layer(self):
        self.pq('build', '--no-artifact')
        log = self.tree_git('log', '--format=%s').splitlines()
        self.assertEqual(2, len(log))
        self.assertIn('pristine upstream sdist', log[1])
        self.assertIn('overlay', log[0])
        self.assertTrue(os.path.exists(
            os.path.join(self.tree, 'nova', 'xloud_mod.py')))

    def test_rebuild_is_a_noop_and_reproducible(self):
        self.pq('build', '--no-artifact')
        head = self.tree_git('rev-parse', 'HEAD')
        out = self.pq('build', '--no-artifact').stdout
        self.assertIn('up to date', out)
        shutil.rmtree(self.tree)
        self.pq('build', '--no-artifact')
        # fixed dates and identities: the same inputs give the same commits
        self.assertEqual(head, self.tree_git('rev-parse', 'HEAD'))

    def test_tampered_pin_stops_the_build(self):
        self.write_pin('0' * 64)
        err = self.pq('build', '--no-artifact', ok=False).stderr
        self.assertIn('sha256 mismatch for nova-1.0.0.tar.gz', err)
        self.assertIn('expected ' + '0' * 64, err)
        self.assertIn('got ' + self.sha, err)
        self.assertFalse(os.path.exists(self.tree))
        # nothing unverified was left in the cache
        self.assertEqual([], os.listdir(self.cache))

    def test_tampered_cache_stops_the_build(self):
        self.pq('build', '--no-artifact')
        cached = os.path.join(self.cache, 'nova-1.0.0.tar.gz')
        with open(cached, 'ab') as f:
            f.write(b'evil')
        self.write('nova/xloud_other.py', '')  # force a rebuild
        err = self.pq('build', '--no-artifact', ok=False).stderr
        self.assertIn('sha256 mismatch for cached nova-1.0.0.tar.gz', err)

    def test_overlay_may_not_replace_upstream_files(self):
        self.write('nova/routes.py', 'HIJACK = 1\n')
        err = self.pq('build', '--no-artifact', ok=False).stderr
        self.assertIn('overlay file nova/routes.py would replace an '
                      'upstream file', err)

    def test_patch_that_no_longer_applies_is_named(self):
        self.pq('build', '--no-artifact')
        self.add_patch_in_tree()
        self.pq('export')
        # upstream moves on: the line our hunk sits next to changes
        self.sha = make_sdist(self.sdist, files=dict(
            UPSTREAM_FILES, **{'nova/routes.py': UPSTREAM_FILES[
                'nova/routes.py'].replace('ROUTE_16 = 16', 'ROUTE_16 = 61')}))
        self.write_pin(self.sha)
        os.unlink(os.path.join(self.cache, 'nova-1.0.0.tar.gz'))
        err = self.pq('build', '--no-artifact', '--force', ok=False).stderr
        self.assertIn('patch route-the-adjust-api.patch does not apply', err)
        self.assertIn('hunk @@ -14,', err)
        self.assertIn('nova/routes.py', err)
        self.assertIn('no fuzz', err)

    def test_local_work_is_not_thrown_away(self):
        self.pq('build', '--no-artifact')
        self.add_patch_in_tree()
        self.write('nova/xloud_other.py', '')
        err = self.pq('build', '--no-artifact', ok=False).stderr
        self.assertIn('export', err)
        self.assertIn('new commits', err)


class TestPatchQueue(ScratchRepo):

    def test_export_then_build_is_byte_identical(self):
        self.pq('build', '--no-artifact')
        self.add_patch_in_tree()
        # an overlay edit made in the tree goes back to the overlay
        with open(os.path.join(self.tree, 'nova', 'xloud_mod.py'), 'a') as f:
            f.write('MORE = 2\n')
        self.tree_git('commit', '-qam', 'Overlay: more\n\nDescription: x')
        self.pq('export')
        self.assertEqual('route-the-adjust-api.patch\n',
                         self.read('patches/T/series'))
        self.assertEqual('VALUE = 1\nMORE = 2\n',
                         self.read('nova/xloud_mod.py'))
        patch = self.read('patches/T/route-the-adjust-api.patch')
        self.assertIn('Upstream-status: not-needed', patch)
        self.assertIn('+ADJUST = 99  # xloud', patch)
        self.assertNotIn('xloud_mod', patch)

        shutil.rmtree(self.tree)
        self.pq('build', '--no-artifact')
        self.pq('export')
        self.assertEqual(patch,
                         self.read('patches/T/route-the-adjust-api.patch'))
        log = self.tree_git('log', '--format=%s').splitlines()
        self.assertEqual('Route the adjust API', log[0])
        self.assertEqual(3, len(log))

    def test_overlay_edited_in_the_repository_survives_export(self):
        self.pq('build', '--no-artifact')
        self.add_patch_in_tree()
        self.write('nova/xloud_mod.py', 'VALUE = 2\n')
        out = self.pq('export').stdout
        self.assertIn('kept nova/xloud_mod.py as edited in the repository',
                      out)
        self.assertEqual('VALUE = 2\n', self.read('nova/xloud_mod.py'))
        # and the next build is not fooled into thinking it is up to date
        self.assertNotIn('up to date', self.pq('build',
                                               '--no-artifact').stdout)
        with open(os.path.join(self.tree, 'nova', 'xloud_mod.py')) as f:
            self.assertEqual('VALUE = 2\n', f.read())

    def test_overlay_edited_on_both_sides_is_refused(self):
        self.pq('build', '--no-artifact')
        with open(os.path.join(self.tree, 'nova', 'xloud_mod.py'), 'w') as f:
            f.write('VALUE = 3\n')
        self.tree_git('commit', '-qam', 'tree edit')
        self.write('nova/xloud_mod.py', 'VALUE = 2\n')
        err = self.pq('export', ok=False).stderr
        self.assertIn('nova/xloud_mod.py was changed both in the repository '
                      'and in the built tree', err)
        self.assertEqual('VALUE = 2\n', self.read('nova/xloud_mod.py'))

    def test_export_refuses_uncommitted_work(self):
        self.pq('build', '--no-artifact')
        self.edit_tree('nova/routes.py', 'ROUTE_1 = 1', 'ROUTE_1 = 2')
        err = self.pq('export', ok=False).stderr
        self.assertIn('uncommitted changes', err)

    def test_patch_without_header_or_marker_is_refused(self):
        self.pq('build', '--no-artifact')
        self.add_patch_in_tree(msg='Route it\n\nDescription: only this',
                               marker='')
        err = self.pq('export', ok=False).stderr
        self.assertIn('header field Why: is missing', err)
        self.assertIn('header field Upstream-status: is missing', err)
        self.assertIn("adds no line marked '# xloud'", err)
        # and a build from such a queue stops too
        shutil.rmtree(self.tree)
        err = self.pq('build', '--no-artifact', ok=False).stderr
        self.assertIn('the patch queue breaks its rules', err)

    def test_markers_are_counted(self):
        self.pq('build', '--no-artifact')
        self.add_patch_in_tree()
        self.pq('export')
        self.assertEqual('1', self.pq('markers').stdout.strip())


class TestEntryPoints(unittest.TestCase):
    """setup.cfg (nova <= 32) and pyproject.toml (nova 33+) entry points."""

    def setUp(self):
        self.tree = tempfile.mkdtemp(prefix='xloud-ep-test-')
        self.addCleanup(shutil.rmtree, self.tree)

    def write(self, rel, text):
        with open(os.path.join(self.tree, rel), 'w') as f:
            f.write(textwrap.dedent(text))

    def test_setup_cfg(self):
        self.write('setup.cfg', UPSTREAM_FILES['setup.cfg'])
        self.assertEqual(
            {('nova.api.extra_spec_validators', 'hw',
              'nova.api.validation.extra_specs.hw')},
            entry_points.setup_cfg_entry_points(self.tree))

    def test_pyproject_toml(self):
        self.write('setup.cfg', '[metadata]\nname = nova\n')
        self.write('pyproject.toml', """\
            [project]
            name = "nova"
            dynamic = ["version"]

            [project.scripts]
            nova-api = "nova.cmd.api:main"

            [project.entry-points."oslo.config.opts"]
            "nova.conf" = "nova.conf.opts:list_opts"

            [project.entry-points."nova.api.extra_spec_validators"]
            # xloud: a comment
            minimum = "nova.api.validation.extra_specs.minimum"  # trailing

            [tool.coverage.run]
            source = ["nova"]
            branch = "true"
            """)
        self.assertEqual({
            ('console_scripts', 'nova-api', 'nova.cmd.api:main'),
            ('oslo.config.opts', 'nova.conf', 'nova.conf.opts:list_opts'),
            ('nova.api.extra_spec_validators', 'minimum',
             'nova.api.validation.extra_specs.minimum'),
        }, entry_points.setup_cfg_entry_points(self.tree))


class TestTouchedTests(unittest.TestCase):
    """Upstream's unit test module of each patched file."""

    def setUp(self):
        self.tree = tempfile.mkdtemp(prefix='xloud-touched-test-')
        self.addCleanup(shutil.rmtree, self.tree)
        patcher = mock.patch.object(
            testing, 'touched_files', return_value=[
                'nova/compute/manager.py',
                'nova/api/openstack/compute/flavors_extraspecs.py'])
        patcher.start()
        self.addCleanup(patcher.stop)

    def touch(self, module):
        path = os.path.join(self.tree, *module.split('.')) + '.py'
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, 'w').close()

    def test_named_module(self):
        # nova <= 33 names them test_compute_mgr, test_flavors_extra_specs
        self.touch('nova.tests.unit.compute.test_compute_mgr')
        self.touch('nova.tests.unit.api.openstack.compute.'
                   'test_flavors_extra_specs')
        self.assertEqual([
            'nova.tests.unit.api.openstack.compute.test_flavors_extra_specs',
            'nova.tests.unit.compute.test_compute_mgr',
        ], testing.touched_tests(None, 'unit', self.tree))

    def test_renamed_to_test_module(self):
        # nova 34 renamed test_flavors_extra_specs to test_<module>
        self.touch('nova.tests.unit.compute.test_compute_mgr')
        self.touch('nova.tests.unit.api.openstack.compute.'
                   'test_flavors_extraspecs')
        self.assertEqual([
            'nova.tests.unit.api.openstack.compute.test_flavors_extraspecs',
            'nova.tests.unit.compute.test_compute_mgr',
        ], testing.touched_tests(None, 'unit', self.tree))


class TestStestrConcurrency(unittest.TestCase):
    """--concurrency: a worker count or a factor of the cores."""

    def test_factor_of_the_cores(self):
        self.assertEqual(3, testing.stestr_concurrency('1.5x', 2))
        self.assertEqual(12, testing.stestr_concurrency('1.5x', 8))
        self.assertEqual(1, testing.stestr_concurrency('0.2x', 2))
        self.assertEqual(2, testing.stestr_concurrency('1.5x', None))

    def test_count(self):
        self.assertEqual(4, testing.stestr_concurrency('4', 2))

    def test_bad_values_say_what_to_give(self):
        for bad in ('0', 'x', '-1.5x', 'two', '0x'):
            with self.assertRaisesRegex(shell.BuildError,
                                        'concurrency %s' % re.escape(bad)):
                testing.stestr_concurrency(bad, 2)


class TestStestrFilters(unittest.TestCase):
    """What a selection runs, applied to test ids as stestr applies it."""

    IDS = [
        'nova.tests.functional.libvirt.test_vtpm.VTPMServersTest.test_a',
        'nova.tests.functional.libvirt.test_vtpm_x.T.test_b',
        'nova.tests.functional.libvirt.test_numa_servers.T.test_c',
        'nova.tests.functional.libvirt.test_xloud_adjust.T.test_d',
        'nova.tests.functional.test_servers.ServersTest.test_e',
        'nova.tests.functional.test_servers_x.T.test_f',
        'nova.tests.functional.compute.test_live_migration.T.test_g',
    ]

    def selected(self, *args):
        filters = testing.stestr_filters('functional', *args)
        include = re.compile(filters[-1])
        exclude = None
        if filters[0] == '--exclude-regex':
            exclude = re.compile(filters[1])
        return [i for i in self.IDS if include.search(i)
                and not (exclude and exclude.search(i))]

    def test_selection_less_skipped_modules(self):
        self.assertEqual([
            'nova.tests.functional.libvirt.test_vtpm_x.T.test_b',
            'nova.tests.functional.libvirt.test_numa_servers.T.test_c',
            'nova.tests.functional.test_servers.ServersTest.test_e',
        ], self.selected(
            ['nova.tests.functional.libvirt',
             'nova.tests.functional.test_servers'], [],
            ['nova.tests.functional.libvirt.test_vtpm',
             'nova.tests.functional.libvirt.test_xloud_adjust']))

    def test_ours_and_all(self):
        self.assertEqual(
            ['nova.tests.functional.libvirt.test_xloud_adjust.T.test_d'],
            self.selected([], ['nova.tests.functional.libvirt.'
                               'test_xloud_adjust'], []))
        self.assertEqual(self.IDS[:5] + self.IDS[6:], self.selected(
            ['all'], [], ['nova.tests.functional.test_servers_x']))

    def test_nothing_selected(self):
        self.assertEqual([], testing.stestr_filters(
            'unit', [], [], ['nova.tests.unit.test_x']))


class TestLintRequirements(unittest.TestCase):
    """The pep8 env installs the release's hacking pin, nothing else."""

    def write(self, text):
        tree = tempfile.mkdtemp(prefix='xloud-lint-test-')
        self.addCleanup(shutil.rmtree, tree)
        with open(os.path.join(tree, 'test-requirements.txt'), 'w') as f:
            f.write(textwrap.dedent(text))
        return tree

    def test_the_hacking_pin_alone(self):
        tree = self.write("""\
            hacking==6.1.0 # Apache-2.0
            mypy>=0.761 # MIT
            hacking-extra>=1 # not hacking itself
            """)
        self.assertEqual(['hacking==6.1.0'],
                         install.lint_requirements(tree))

    def test_a_release_without_it_is_named(self):
        tree = self.write('mypy>=0.761 # MIT\n')
        with self.assertRaisesRegex(shell.BuildError,
                                    'no hacking line in .*test-requirements'):
            install.lint_requirements(tree)


class TestLoggedCommands(unittest.TestCase):
    """A set-up command's output goes to its log; a failure shows its tail."""

    def setUp(self):
        fd, self.log = tempfile.mkstemp(prefix='xloud-log-test-')
        os.close(fd)
        self.addCleanup(os.unlink, self.log)

    def test_output_in_the_log_only(self):
        proc = shell.run([sys.executable, '-c', 'print("noise")'],
                         log_file=self.log)
        self.assertIsNone(proc.stdout)
        with open(self.log) as f:
            self.assertIn('noise\n', f.read())

    def test_a_failure_shows_the_tail_and_the_path(self):
        script = ('import sys; print("\\n".join(map(str, range(100))), '
                  'flush=True); sys.exit("the cause")')
        with self.assertRaises(shell.BuildError) as e:
            shell.run([sys.executable, '-c', script], log_file=self.log)
        text = str(e.exception)
        self.assertIn('command failed (1)', text)
        self.assertIn('  | 99\n  | the cause', text)
        self.assertNotIn('  | 59\n', text)
        self.assertIn(os.path.basename(self.log), text)


class TestPythonCheck(ScratchRepo):

    def test_python_311_only_code_is_refused(self):
        self.write('nova/xloud_new.py',
                   'import tomllib\nimport datetime\nX = datetime.UTC\n')
        err = self.pq('check', ok=False).stderr
        self.assertIn('nova/xloud_new.py:1: tomllib needs Python 3.11', err)
        self.assertIn('nova/xloud_new.py:3: datetime.UTC needs Python 3.11',
                      err)

    def test_our_own_code_is_python_310(self):
        self.assertEqual([], lint.python_problems('3.10'))


class TestRebase(ScratchRepo):
    """rebase --onto: the queue of series T carried onto release U."""

    def setUp(self):
        super().setUp()
        self.pq('build', '--no-artifact')
        for n, after in ((2, 'A'), (15, 'B'), (25, 'C')):
            self.edit_tree('nova/routes.py', 'ROUTE_%d = %d\n' % (n, n),
                           'ROUTE_%d = %d\n%s = 1  # xloud\n' % (n, n, after))
            self.tree_git('commit', '-qam', PATCH_MSG.replace(
                'Route the adjust API', 'Route %s' % after))
        self.pq('export')
        # release U: three lines more above B and C, C's context edited
        routes = UPSTREAM_FILES['nova/routes.py'].replace(
            'ROUTE_9 = 9\n', 'ROUTE_9 = 9\nX = 1\nY = 2\nZ = 3\n').replace(
            'ROUTE_28 = 28', 'ROUTE_28 = 82')
        sdist = os.path.join(self.tmp, 'nova-1.1.0.tar.gz')
        sha = make_sdist(sdist, version='1.1.0', files=dict(
            UPSTREAM_FILES, **{'nova/routes.py': routes}))
        self.write('patches/U/UPSTREAM', textwrap.dedent('''\
            [upstream]
            project = nova
            version = 1.1.0
            url = file://%s
            sha256 = %s
            constraints = constraints/none.txt
            ''' % (sdist, sha)))
        self.u_tree = os.path.join(self.repo, 'build', 'U', 'nova')

    def test_report_then_stop_at_the_failing_hunk(self):
        proc = self.pq('rebase', '--onto', 'U', ok=False)
        out = proc.stdout + proc.stderr
        self.assertRegex(out, r'as-is +route-a\.patch')
        self.assertRegex(out, r'moved +route-b\.patch')
        self.assertIn('hunk #1 at line 18 (+3 lines)', out)
        self.assertRegex(out, r'fails +route-c\.patch')
        self.assertIn('nova/routes.py @@ -26,6 +26,7 @@: context changed', out)
        self.assertIn('1 apply as they are, 1 with moved context, 1 fail',
                      out)
        self.assertIn('stopped at route-c.patch', proc.stderr)
        self.assertTrue(os.path.exists(
            os.path.join(self.u_tree, 'nova', 'routes.py.rej')))
        log = subprocess.run(['git', 'log', '--format=%s', 'xloud-overlay..'],
                             cwd=self.u_tree, text=True,
                             capture_output=True).stdout.split('\n')
        self.assertEqual(['Route B', 'Route A'], log[:2])
        # a plain build does not throw the rebase away
        err = self.pq('--series', 'U', 'build', '--no-artifact',
                      ok=False).stderr
        self.assertIn('not in patches/ yet', err)

    def test_continue_exports_a_queue_that_builds(self):
        self.pq('rebase', '--onto', 'U', ok=False)
        err = self.pq('--series', 'U', 'rebase', '--continue',
                      ok=False).stderr
        self.assertIn('rejected hunks are still there', err)
        os.unlink(os.path.join(self.u_tree, 'nova', 'routes.py.rej'))
        path = os.path.join(self.u_tree, 'nova', 'routes.py')
        with open(path) as f:
            text = f.read()
        with open(path, 'w') as f:
            f.write(text.replace('ROUTE_25 = 25\n',
                                 'ROUTE_25 = 25\nC = 1  # xloud\n'))
        self.pq('--series', 'U', 'rebase', '--continue')
        self.assertEqual('route-a.patch\nroute-b.patch\nroute-c.patch\n',
                         self.read('patches/U/series'))
        self.assertIn('ROUTE_28 = 82', self.read('patches/U/route-c.patch'))
        # the exported queue is the tree: building it again is a no-op
        out = self.pq('--series', 'U', 'build', '--no-artifact').stdout
        self.assertIn('up to date', out)
        # the same change: header and message carried over as they were
        self.assertEqual(self.read('patches/T/route-c.patch').split('---')[0],
                         self.read('patches/U/route-c.patch').split('---')[0])

    def test_skip_drops_the_patch(self):
        self.pq('rebase', '--onto', 'U', ok=False)
        self.pq('--series', 'U', 'rebase', '--skip')
        self.assertEqual('route-a.patch\nroute-b.patch\n',
                         self.read('patches/U/series'))
        self.assertFalse(os.path.exists(
            os.path.join(self.u_tree, 'nova', 'routes.py.rej')))


class TestRealSeries(unittest.TestCase):
    """The pinned nova sdist and this repository's own series (real)."""

    def setUp(self):
        self.series = series.Series(series.default_series())
        # the verified sdist, from the user's cache or downloaded once
        self.sdist = series.fetch_sdist(self.series)
        self.tmp = tempfile.mkdtemp(prefix='xloud-pq-real-')
        self.addCleanup(shutil.rmtree, self.tmp)

    def _run(self, repo, *args):
        return subprocess.run(
            [sys.executable, os.path.join(repo, 'tools', 'xloud_pq.py')]
            + list(args), cwd=repo, text=True, capture_output=True,
            env=dict(os.environ, XLOUD_CACHE=os.path.join(self.tmp, 'c')))

    def _copy_repo(self):
        repo = os.path.join(self.tmp, 'repo')
        for part in ('tools', 'patches', 'nova', 'constraints'):
            shutil.copytree(os.path.join(REPO, part),
                            os.path.join(repo, part),
                            ignore=shutil.ignore_patterns('__pycache__'))
        shutil.copy(os.path.join(REPO, 'setup.cfg'), repo)
        os.makedirs(os.path.join(self.tmp, 'c'))
        return repo

    def test_real_tampered_sdist_is_refused(self):
        repo = self._copy_repo()
        bad = os.path.join(self.tmp, 'c', os.path.basename(self.sdist))
        with open(self.sdist, 'rb') as src, open(bad, 'wb') as dst:
            data = bytearray(src.read())
            data[-100] ^= 0xff
            dst.write(bytes(data))
        proc = self._run(repo, 'build', '--no-artifact')
        self.assertEqual(1, proc.returncode)
        self.assertIn('sha256 mismatch for cached nova-%s.tar.gz'
                      % self.series.version, proc.stderr)

    def test_real_series_applies_and_a_stale_patch_is_named(self):
        repo = self._copy_repo()
        shutil.copy(self.sdist, os.path.join(self.tmp, 'c'))
        proc = self._run(repo, 'build', '--no-artifact')
        self.assertEqual(0, proc.returncode, proc.stderr)
        # make the first patch's context no longer match upstream
        sdir = os.path.join(repo, 'patches', self.series.name)
        with open(os.path.join(sdir, 'series')) as f:
            first = f.readline().strip()
        path = os.path.join(sdir, first)
        with open(path) as f:
            lines = f.read().split('\n')
        hunk = next(i for i, line in enumerate(lines) if line.startswith('@@'))
        ctx = next(i for i in range(hunk + 1, len(lines))
                   if lines[i].startswith(' '))
        lines[ctx] = ' ' + lines[ctx][1:] + ' changed upstream'
        with open(path, 'w') as f:
            f.write('\n'.join(lines))
        proc = self._run(repo, 'build', '--no-artifact', '--force')
        self.assertEqual(1, proc.returncode)
        self.assertIn('patch %s does not apply' % first, proc.stderr)
        self.assertIn(lines[hunk].split(' @@')[0], proc.stderr)


if __name__ == '__main__':
    unittest.main()
