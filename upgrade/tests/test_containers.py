# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""deploy_to_containers.sh end to end, against real containers.

Four containers (nova_api, nova_conductor, nova_scheduler, nova_compute)
run under Podman from an image holding the pristine nova of the series
(XLOUD_SERIES, else the default one: its UPSTREAM pins the version and the
constraints; the image is made by make-image.sh, no registry); ``docker``
is a wrapper that execs podman; the script reaches them over a real sshd
started here on a loopback port with keys generated for the run. Nothing
but 127.0.0.1 is ever contacted.

Run as root (rootful Podman): ``tox -e containers``, or
``python3 upgrade/tests/test_containers.py`` after setup-host.sh and a
build. The tests are steps of one story and run in order.

The last test deploys a wheel of another series (another release of nova)
and checks that it is refused before anything changes: a real wheel,
built here from the other series under patches/ when there is one;
without one, the containers' nova is relabelled as another release (its
dist-info only) and this series' wheel is refused there.
"""

import glob
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
UPGRADE = os.path.dirname(HERE)
REPO = os.path.dirname(UPGRADE)
SCRIPT = os.path.join(UPGRADE, 'deploy_to_containers.sh')
from xloud_tools import pq as xloud_pq  # noqa: E402
SERIES = xloud_pq.Series(xloud_pq.default_series())
CONTAINERS = ['nova_api', 'nova_conductor', 'nova_scheduler', 'nova_compute']
SP = '/usr/local/lib/python3.11/site-packages'
IMAGE = 'localhost/xloud-test-nova:%s' % SERIES.version
TIMES = []          # (what, seconds) printed at the end
ENV = None          # the running environment, set by setUpModule


def timed(what):
    class _T(object):
        def __enter__(self):
            self.t0 = time.monotonic()

        def __exit__(self, *exc):
            TIMES.append((what, time.monotonic() - self.t0))
    return _T()


def run(cmd, check=True, env=None, input=None):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env,
                       input=input)
    if check and p.returncode:
        raise AssertionError('%s failed (%d):\n%s\n%s' % (
            ' '.join(cmd), p.returncode, p.stdout, p.stderr))
    return p


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Host(object):
    """One target host: a docker wrapper over its own Podman runtime.

    Host 1 has the four containers; host 2 is a compute-only host (just
    nova_compute) whose storage reads the image from host 1's store, so the
    image is imported once.

    Each host's Podman shares nothing with any other Podman of the machine:
    its own storage, and its own tmp_dir with file locks in it. Podman's
    defaults are machine-wide (tmp_dir /run/libpod, the shm lock segment
    /libpod_lock): another Podman's ``system reset`` (this test's own
    teardown in another run, any other user) deletes /run/libpod, and the
    next command of ours then "refreshes" after a supposed reboot, frees
    every lock of the segment and resets our running containers' state.
    That failed test_09 and test_12 on a busy machine ("creating runtime
    status file: open /run/libpod/alive", "acquiring lock N ... file
    exists", rm -f: "unlinkat .../userdata/shm: device or resource busy").
    """

    def __init__(self, env, name, containers, image_store=None):
        self.name = name
        self.containers = containers
        d = os.path.join(env.dir, name)
        self.dir = d
        self.bin = os.path.join(d, 'bin')
        os.makedirs(self.bin)
        self.storage_conf = os.path.join(d, 'storage.conf')
        with open(self.storage_conf, 'w') as f:
            f.write('[storage]\ndriver = "overlay"\n'
                    'graphroot = "%s/storage"\nrunroot = "%s/run"\n'
                    % (d, d))
            if image_store:
                f.write('[storage.options]\n'
                        'additionalimagestores = ["%s"]\n' % image_store)
        self.graphroot = d + '/storage'
        self.containers_conf = os.path.join(d, 'containers.conf')
        with open(self.containers_conf, 'w') as f:
            f.write(env.containers_conf_text + (
                'tmp_dir = "%s/tmp"\nlock_type = "file"\n' % d))
        # The docker wrapper: only these tests use it.
        self.docker = os.path.join(self.bin, 'docker')
        with open(self.docker, 'w') as f:
            f.write('#!/bin/sh\n# test wrapper: docker is podman here\n'
                    'CONTAINERS_CONF=%s CONTAINERS_STORAGE_CONF=%s '
                    'exec podman "$@"\n' % (self.containers_conf,
                                            self.storage_conf))
        os.chmod(self.docker, 0o755)
        self.port = free_port()
        self.sshd = None

    def podman(self, *args, check=True, input=None):
        return run([self.docker] + list(args), check=check, input=input)

    def run_container(self, name):
        self.podman('run', '-d', '--init', '--network', 'none', '--name',
                    name, IMAGE)

    @property
    def target(self):
        return 'ssh://root@127.0.0.1:%d' % self.port

    def start_sshd(self, keys):
        d = self.dir
        with open(d + '/sshd_config', 'w') as f:
            f.write('\n'.join([
                'Port %d' % self.port, 'ListenAddress 127.0.0.1',
                'HostKey %s/host_key' % keys, 'PidFile %s/sshd.pid' % d,
                'AuthorizedKeysFile %s/authorized_keys' % keys,
                'StrictModes no', 'UsePAM no', 'PasswordAuthentication no',
                'KbdInteractiveAuthentication no',
                'PermitRootLogin prohibit-password',
                # This host's docker wrapper first on the PATH of sessions.
                'SetEnv PATH=%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:'
                '/usr/bin:/sbin:/bin' % self.bin, '']))
        os.makedirs('/run/sshd', exist_ok=True)
        self.sshd_log = open(d + '/sshd.log', 'w')
        self.sshd = subprocess.Popen(
            ['/usr/sbin/sshd', '-D', '-e', '-f', d + '/sshd_config'],
            stdout=self.sshd_log, stderr=subprocess.STDOUT)
        # Until it listens, however long a loaded machine takes (a fixed
        # few seconds went on, unnoticed, to a first deploy that failed).
        deadline = time.monotonic() + 300
        while True:
            try:
                socket.create_connection(('127.0.0.1', self.port), 5).close()
                break
            except OSError:
                if self.sshd.poll() is not None or (
                        time.monotonic() > deadline):
                    with open(d + '/sshd.log') as f:
                        raise RuntimeError('sshd of %s is not listening on '
                                           'port %d:\n%s' % (
                                               self.name, self.port,
                                               f.read()))
                time.sleep(0.2)

    def close(self):
        if self.sshd:
            self.sshd.terminate()
            self.sshd.wait()
            self.sshd_log.close()
        for attempt in range(2):  # the first rm -f can time out
            self.podman('rm', '-f', '-t', '0', *self.containers, check=False)


class Environment(object):
    """Podman config, image, two hosts, their containers and sshds."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='xloud-ct-')  # short: ssh sockets
        self.hosts = []

    def write_podman_config(self):
        nofile = run(['sh', '-c', 'ulimit -Hn']).stdout.strip()
        # What both hosts' containers.conf share (Host adds its own
        # [engine] tmp_dir and lock_type).
        self.containers_conf_text = (
            '[containers]\nnetns = "none"\n'
            'default_ulimits = ["nofile=%s:%s", "nproc=32768:32768"]\n'
            '[engine]\ncgroup_manager = "cgroupfs"\n'
            'runtime = "runc"\nevents_logger = "file"\n' % (nofile, nofile))
        self.host1 = Host(self, 'host1', CONTAINERS)
        self.hosts.append(self.host1)
        self.host2 = Host(self, 'host2', ['nova_compute'],
                          image_store=self.host1.graphroot)
        self.hosts.append(self.host2)
        self.docker = self.host1.docker

    def podman(self, *args, check=True, input=None):
        return run([self.docker] + list(args), check=check, input=input)

    def image_tar(self):
        h = hashlib.sha256()
        for p in (os.path.join(HERE, 'make-image.sh'), SERIES.constraints):
            with open(p, 'rb') as f:
                h.update(f.read())
        cache = os.environ.get('XLOUD_CACHE') or os.path.expanduser(
            '~/.cache/xloud-nova')
        path = os.path.join(cache, 'containers',
                            'nova-%s-bookworm-%s.tar' % (
                                SERIES.version, h.hexdigest()[:12]))
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with timed('setup: make the image rootfs (not cached)'):
                subprocess.run([os.path.join(HERE, 'make-image.sh'), path,
                                SERIES.name], check=True)
        return path

    def start_containers(self):
        tar = self.image_tar()
        with timed('setup: podman import of the image'):
            self.podman('import', '--change', 'CMD=["sleep","infinity"]',
                        '--change', 'ENV PATH=/usr/local/bin:/usr/sbin:'
                        '/usr/bin:/sbin:/bin', tar, IMAGE)
        with timed('setup: start the containers (4 on host 1, 1 on host 2)'):
            for h in self.hosts:
                for c in h.containers:
                    h.run_container(c)

    def run_container(self, name):
        self.host1.run_container(name)

    def start_sshd(self):
        d = self.dir
        run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f',
             d + '/host_key'])
        run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f',
             d + '/id'])
        shutil.copy(d + '/id.pub', d + '/authorized_keys')
        with open(d + '/host_key.pub') as f:
            hostkey = ' '.join(f.read().split()[:2])
        with open(d + '/known_hosts', 'w') as f:
            for h in self.hosts:
                f.write('[127.0.0.1]:%d %s\n' % (h.port, hostkey))
        for h in self.hosts:
            h.start_sshd(d)
        self.ssh_options = ' '.join([
            '-F', '/dev/null', '-i', d + '/id', '-o', 'IdentitiesOnly=yes',
            '-o', 'UserKnownHostsFile=%s/known_hosts' % d,
            '-o', 'StrictHostKeyChecking=yes',
            '-o', 'ControlMaster=auto', '-o', 'ControlPath=%s/cm-%%C' % d,
            '-o', 'ControlPersist=300'])
        self.targets = ' '.join(h.target for h in self.hosts)

    # -- the script
    def script_env(self, **extra):
        env = dict(os.environ)
        for k in ('TARGET_HOST', 'CONTAINER_NAME', 'NOVA_SITE_PACKAGES',
                  'DRY_RUN', 'FORCE', 'BACKUP', 'XLOUD_INJECT_FAILURE'):
            env.pop(k, None)
        env.update({
            'TARGET_HOST': self.targets,
            'SSH_OPTIONS': self.ssh_options, 'ARTIFACT': self.wheel,
            # Both test hosts share this machine's disk: %h keeps them apart
            'BACKUP_DIR': self.dir + '/backups/%h',
            'REMOTE_WORKDIR': self.dir + '/remote/%h',
        })
        env.update(extra)
        return env

    def deploy(self, *args, check=None, **extra):
        p = run([SCRIPT] + list(args), check=False,
                env=self.script_env(**extra))
        if check is not None and p.returncode != check:
            raise AssertionError('exit %d, expected %d:\n%s\n%s' % (
                p.returncode, check, p.stdout, p.stderr))
        return p

    # -- looking into containers
    def snapshot(self, c, host=None):
        """Every file of site-packages: mode, size, sha256."""
        p = (host or self.host1).podman(
            'exec', c, 'sh', '-c',
            'cd %s && find . -type f -printf "%%m %%s %%p\\n" '
            '| sort && find . -type f -print0 | sort -z | '
            'xargs -0 sha256sum' % SP)
        return p.stdout

    def snapshots(self):
        """{(host, container): snapshot} of every container of both hosts."""
        # All at once: it is most of what the failure tests cost.
        from concurrent.futures import ThreadPoolExecutor
        keys = [(h, c) for h in self.hosts for c in h.containers]
        with ThreadPoolExecutor(len(keys)) as pool:
            shots = pool.map(lambda k: self.snapshot(k[1], k[0]), keys)
            return {(h.name, c): shot for (h, c), shot in zip(keys, shots)}

    def close(self):
        for h in reversed(self.hosts):
            h.close()
        self.podman('rmi', '-f', IMAGE, check=False)
        run(['sh', '-c', 'for s in %s/cm-*; do [ -S "$s" ] && '
             'ssh -o ControlPath="$s" -O exit x; done 2>/dev/null'
             % self.dir], check=False)
        for h in reversed(self.hosts):
            subprocess.run([h.docker, 'system', 'reset', '-f'],
                           capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def other_version_same_release(version):
    """Another version of the same release: 29.4.0 -> 29.3.0."""
    parts = [int(x) for x in version.split('.')]
    for i in range(len(parts) - 1, 0, -1):
        if parts[i]:
            parts[i] -= 1
            break
    else:
        parts[-1] += 1
    return '.'.join(map(str, parts))


def relabel(c, version, host=None):
    """Make container c's nova say it is `version` (its METADATA only)."""
    (host or ENV.host1).podman(
        'exec', c, 'sh', '-c', "sed -i 's/^Version: .*$/Version: %s/' "
        '%s/nova-*.dist-info/METADATA' % (version, SP))


def other_series():
    """A series under patches/ pinning another release of nova."""
    top = os.path.join(REPO, 'patches')
    major = SERIES.version.split('.')[0]
    for name in sorted(os.listdir(top)):
        if os.path.isfile(os.path.join(top, name, 'UPSTREAM')):
            s = xloud_pq.Series(name)
            if s.version.split('.')[0] != major:
                return s
    return None


def setUpModule():
    global ENV
    if os.geteuid() != 0:
        raise unittest.SkipTest('needs root (rootful podman, sshd)')
    t0 = time.monotonic()
    ENV = Environment()
    try:
        ENV.write_podman_config()
        wheels = sorted(glob.glob(os.path.join(
            SERIES.dist, 'nova-*+xloud*.whl')),
            key=os.path.getmtime)
        if not wheels:
            raise RuntimeError('no artifact: run tox -e build first')
        ENV.wheel = wheels[-1]
        with timed('setup: manifest of the artifact'):
            run([sys.executable, os.path.join(UPGRADE, 'xloud_artifact.py'),
                 'manifest', ENV.wheel])
        with open(ENV.wheel + '.manifest.json') as f:
            ENV.manifest = json.load(f)
        ENV.start_containers()
        with timed('setup: sshd on loopback'):
            ENV.start_sshd()
        ENV.pristine = ENV.snapshots()
    except BaseException:
        ENV.close()
        raise
    TIMES.append(('setup: total', time.monotonic() - t0))


def tearDownModule():
    if ENV:
        with timed('teardown: remove containers, image, storage'):
            ENV.close()


class TestDeployToContainers(unittest.TestCase):

    maxDiff = None

    def setUp(self):
        self._t0 = time.monotonic()

    def tearDown(self):
        TIMES.append((self.id().rsplit('.', 1)[-1],
                      time.monotonic() - self._t0))

    def assertUnchanged(self, before, what):
        after = ENV.snapshots()
        self.assertEqual(sorted(before), sorted(after))
        for key in sorted(before):
            self.assertEqual(before[key], after[key],
                             '%s %s: site-packages changed (%s)' % (
                                 key + (what,)))

    def in_container(self, c, code, host=None):
        return (host or ENV.host1).podman(
            'exec', c, 'python3', '-B', '-c', code).stdout

    def backups(self):
        return sorted(glob.glob(ENV.dir + '/backups/*/*/*.tar.gz'))

    def uploads(self):
        return sorted(glob.glob(ENV.dir + '/remote/*/*/*'))

    # ------------------------------------------------------------- checks
    def test_00_missing_target_host_is_a_clear_error(self):
        env = ENV.script_env()
        del env['TARGET_HOST']
        p = run([SCRIPT], check=False, env=env)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn('TARGET_HOST is required', p.stderr)

    def test_01_scripts_are_shellcheck_clean_and_docs_current(self):
        scripts = [SCRIPT] + glob.glob(os.path.join(HERE, '*.sh'))
        run(['shellcheck'] + scripts)
        run([sys.executable, os.path.join(UPGRADE, 'xloud_artifact.py'),
             'docs', '--check'])

    def test_02_wrong_site_packages_is_refused(self):
        p = ENV.deploy(check=1, NOVA_SITE_PACKAGES='/nowhere')
        self.assertIn('NOVA_SITE_PACKAGES=/nowhere has no nova/', p.stderr)
        self.assertUnchanged(ENV.pristine, 'wrong site-packages')

    def test_03_dry_run_changes_nothing(self):
        p = ENV.deploy(check=0, DRY_RUN='1')
        self.assertIn('DRY RUN', p.stdout)
        # the series' default path (its oldest Python's) where the image
        # runs that Python, else found by asking the container's python3
        how = ('default' if SP == '/usr/local/lib/python%s/site-packages' %
               SERIES.min_python else 'detected')
        self.assertIn('site-packages %s (%s)' % (SP, how), p.stdout)
        self.assertUnchanged(ENV.pristine, 'dry run')
        self.assertEqual(self.backups(), [])
        self.assertFalse(os.path.exists(ENV.dir + '/remote'))

    def test_04_a_failure_at_each_step_leaves_containers_identical(self):
        # (step, containers): a failure in a later container restores the
        # ones changed before it too; those cases name two containers, to
        # keep the run short (every container is compared all the same).
        steps = [('upload', ''), ('preflight', ''), ('backup', ''),
                 ('backup-stream', ''), ('install', ''),
                 ('install-swap', ''), ('clear-bytecode', ''),
                 ('verify', ''),
                 ('verify@nova_api', 'nova_scheduler nova_api'),
                 ('restart', 'nova_conductor'),
                 ('restart@nova_compute', 'nova_conductor nova_compute')]
        for step, only in steps:
            with self.subTest(step=step), timed('  failure at %s%s' % (
                    step, ' (%s)' % only if only else '')):
                p = ENV.deploy(check=1, XLOUD_INJECT_FAILURE=step,
                               CONTAINER_NAME=only)
                name = step.split('@')[0]
                self.assertIn("failed at step '%s'" % {
                    'backup-stream': 'backup', 'install-swap': 'install',
                }.get(name, name), p.stderr + p.stdout)
                if name not in ('upload', 'preflight', 'backup',
                                'backup-stream'):
                    self.assertIn('restored from backup', p.stderr)
                self.assertUnchanged(ENV.pristine, 'failure at %s' % step)
                for h in ENV.hosts:
                    for c in h.containers:
                        self.assertEqual(h.podman(
                            'inspect', '-f', '{{.State.Running}}',
                            c).stdout.strip(), 'true')

    def test_05_deploy(self):
        before = set(self.backups())
        p = ENV.deploy(check=0)
        out = p.stdout
        restarts = [line.split('restarting ')[1] for line in out.splitlines()
                    if 'restarting ' in line and 'in order' not in line]
        # host 1 in order, then host 2 (compute only: the other three of
        # the default list are skipped there)
        self.assertEqual(restarts, ['nova_conductor', 'nova_scheduler',
                                    'nova_compute', 'nova_api',
                                    'nova_compute'])
        self.assertEqual(out.count('no container nova_api here, skipped'),
                         1, out)
        self.assertEqual(len(set(self.backups()) - before), 5)
        version = ENV.manifest['version']
        for h, c in [(h, c) for h in ENV.hosts for c in h.containers]:
            got = json.loads(self.in_container(c, (
                'import json, importlib.metadata as m\n'
                'import nova.api.validation.extra_specs.minimum as mi\n'
                'import nova.compute.xloud\n'
                'eps = m.entry_points(group="nova.api.extra_spec_validators")'
                '\n'
                'print(json.dumps({"version": m.version("nova"),'
                ' "minimum": [e.value for e in eps if e.name == "minimum"],'
                ' "specs": [v.name for v in mi.EXTRA_SPEC_VALIDATORS]}))')))
            self.assertEqual(got['version'], version)
            self.assertEqual(got['minimum'],
                             ['nova.api.validation.extra_specs.minimum'])
            self.assertIn('minimum_cpu', got['specs'])
            dist = h.podman('exec', c, 'sh', '-c',
                            'ls -d %s/nova-*.dist-info' % SP).stdout.split()
            self.assertEqual(dist, ['%s/%s' % (SP, ENV.manifest[
                'dist_info'])])
        ENV.deployed = ENV.snapshots()

    def test_06_second_run_is_a_no_op(self):
        before = set(self.backups())
        p = ENV.deploy(check=0)
        self.assertEqual(p.stdout.count('already deployed ('), 5, p.stdout)
        self.assertEqual(p.stdout.count(': already deployed: nothing to do'),
                         2, p.stdout)
        self.assertNotIn('restarting', p.stdout)
        self.assertEqual(set(self.backups()), before)
        self.assertUnchanged(ENV.deployed, 'second run')

    def test_07_verify_in_sync(self):
        p = ENV.deploy('verify', check=0)
        self.assertEqual(p.stdout.count(': in sync with'), 5, p.stdout)

    def test_08_recreated_container_is_reported_as_drift(self):
        ENV.podman('rm', '-f', '-t', '0', 'nova_compute')
        ENV.run_container('nova_compute')
        p = ENV.deploy('verify', check=1)
        self.assertIn('nova_compute: DRIFT from %s: installed %s;'
                      % (ENV.manifest['version'], SERIES.version), p.stdout)
        self.assertEqual(p.stdout.count(': in sync with'), 4, p.stdout)
        # Deploying again repairs it, and only it.
        p = ENV.deploy(check=0)
        self.assertEqual(p.stdout.count('already deployed ('), 4, p.stdout)
        self.assertIn('restarting nova_compute', p.stdout)
        ENV.deploy('verify', check=0)
        self.assertUnchanged(ENV.deployed, 'redeploy after recreate')

    def test_09_rollback_restores_the_pristine_tree(self):
        p = ENV.deploy('list-backups', check=0)
        self.assertIn('.tar.gz', p.stdout)
        p = ENV.deploy('rollback', check=0)
        self.assertEqual(p.stdout.count('rolled back to'), 5, p.stdout)
        self.assertUnchanged(ENV.pristine, 'rollback')
        p = ENV.deploy('verify', check=1)
        self.assertEqual(p.stdout.count('DRIFT from'), 5, p.stdout)

    def test_10_other_nova_version_is_refused_unless_forced(self):
        c = 'nova_api'
        ENV.podman('rm', '-f', '-t', '0', c)
        ENV.run_container(c)
        # another version of the same release: refused unless forced
        other = other_version_same_release(SERIES.version)
        relabel(c, other)
        before = ENV.snapshot(c)
        host1 = ENV.host1.target  # host 2 has no nova_api
        p = ENV.deploy('--container', c, check=1, TARGET_HOST=host1)
        self.assertIn("installed nova is '%s', not %s" % (
            other, SERIES.version), p.stderr)
        self.assertEqual(ENV.snapshot(c), before)
        ENV.deploy('--container', c, '--force', check=0, TARGET_HOST=host1)
        ENV.deploy('verify', '--container', c, check=0, TARGET_HOST=host1)

    def test_11_an_explicit_container_missing_on_a_host_is_an_error(self):
        p = ENV.deploy('verify', '--container', 'nova_api', check=1)
        self.assertIn('nova_api: NOT RUNNING', p.stdout)
        p = ENV.deploy('--container', 'nova_api', check=1)
        self.assertIn('container nova_api does not exist', p.stderr)

    def test_12_image_path_survives_recreation(self):
        # upload/image/Dockerfile, built FROM the running image; a
        # container from it is in sync, and stays so when recreated.
        c, tag = 'nova_scheduler', IMAGE + '-xloud'
        ENV.podman('build', '--network', 'none', '-q', '-f',
                   os.path.join(UPGRADE, 'image', 'Dockerfile'),
                   '--build-arg', 'BASE_IMAGE=' + IMAGE,
                   '--build-arg', 'ARTIFACT=' + os.path.basename(ENV.wheel),
                   '-t', tag, os.path.dirname(ENV.wheel))
        host1 = ENV.host1.target
        for attempt in range(2):
            ENV.podman('rm', '-f', '-t', '0', c)
            ENV.podman('run', '-d', '--init', '--network', 'none', '--name',
                       c, tag)
            p = ENV.deploy('verify', '--container', c, check=0,
                           TARGET_HOST=host1)
            self.assertIn('%s: in sync with %s' % (
                c, ENV.manifest['version']), p.stdout)
        p = ENV.deploy('--container', c, check=0, TARGET_HOST=host1)
        self.assertIn('%s: already deployed' % c, p.stdout)
        ENV.podman('rm', '-f', '-t', '0', c)
        ENV.podman('rmi', '-f', tag, check=False)
        ENV.run_container(c)

    def test_13_a_wheel_of_another_series_is_refused_with_nothing_changed(
            self):
        other = other_series()
        if other:
            # A real wheel of the other series, built here, against the
            # containers of this one.
            with timed('  build the wheel of series %s' % other.name):
                run([sys.executable, os.path.join(REPO, 'tools',
                                                  'xloud_pq.py'), 'build'],
                    env=dict(os.environ, XLOUD_SERIES=other.name))
            wheel = sorted(glob.glob(os.path.join(
                other.dist, 'nova-*+xloud*.whl')), key=os.path.getmtime)[-1]
            run([sys.executable, os.path.join(UPGRADE, 'xloud_artifact.py'),
                 'manifest', wheel])
            wheel_nova, wheel_series = other.version, other.name
            have = SERIES.version
            base = IMAGE
        else:
            # No other series yet: this series' wheel, and containers whose
            # nova says it is of another release (dist-info relabelled).
            wheel, wheel_nova, wheel_series = (ENV.wheel, SERIES.version,
                                               SERIES.name)
            have = '%d.0.0' % (int(SERIES.version.split('.')[0]) + 4)
            for h in ENV.hosts:
                for c in h.containers:
                    relabel(c, have, host=h)
            base = IMAGE + '-other-release'
            ENV.podman('commit', '-q', 'nova_conductor', base)
        print('\n  (%s: wheel of nova %s, %s; containers with nova %s)' % (
            'another series' if other else 'relabelled containers',
            wheel_nova, wheel_series, have), file=sys.stderr)
        before, backups = ENV.snapshots(), self.backups()
        uploads = self.uploads()
        for force in ('0', '1'):
            p = ENV.deploy(check=1, FORCE=force, ARTIFACT=wheel)
            for h in ENV.hosts:
                for c in h.containers:
                    self.assertIn(
                        'host %s: wheel is for nova %s (%s), container %s '
                        'has nova %s' % (h.target, wheel_nova, wheel_series,
                                         c, have), p.stderr)
            self.assertIn(': refusing', p.stderr)
            self.assertIn('no host was changed', p.stderr)
            self.assertNotIn('preflight', p.stdout)
        self.assertUnchanged(before, 'a wheel of another series')
        self.assertEqual(self.backups(), backups)
        self.assertEqual(self.uploads(), uploads)
        # The image path refuses it too, before installing anything.
        tag = IMAGE + '-xloud-other'
        p = ENV.podman('build', '--network', 'none', '-f',
                       os.path.join(UPGRADE, 'image', 'Dockerfile'),
                       '--build-arg', 'BASE_IMAGE=' + base,
                       '--build-arg', 'ARTIFACT=' + os.path.basename(wheel),
                       '-t', tag, os.path.dirname(wheel), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('wheel %s is for nova %s, base image %s has nova %s: '
                      'refusing' % (os.path.basename(wheel), wheel_nova, base,
                                    have), p.stdout + p.stderr)
        self.assertNotEqual(ENV.podman('image', 'exists', tag,
                                       check=False).returncode, 0)


def main():
    t0 = time.monotonic()
    prog = unittest.main(module=__name__, exit=False, verbosity=2)
    total = time.monotonic() - t0
    print('\nTimes (seconds):')
    for what, secs in TIMES:
        print('  %7.1f  %s' % (secs, what))
    print('  %7.1f  whole run (setup, tests, teardown)' % total)
    sys.exit(not prog.result.wasSuccessful())


if __name__ == '__main__':
    main()
