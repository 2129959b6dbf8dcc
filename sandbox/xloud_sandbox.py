# Copyright 2026 XLoud. All rights reserved.
#
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""The all-in-one sandbox: a small cloud as real processes on 127.0.0.1.

Real: MariaDB and RabbitMQ (Debian's, private datadirs and ports),
openstack-placement, glance-api, and the patched Nova's nova-api (HTTP),
nova-conductor, nova-scheduler and nova-compute: one by default, or
``computes=N`` of them (``Compute``: hosts compute1..computeN of the same
cloud, each its own process, config, state path and log, and its own
hypervisor). The hypervisor under nova-compute is chosen by
``--hypervisor``: ``qemu`` is real (a private
libvirtd running QEMU with TCG, qemu_hypervisor.py), ``fake`` is a
STAND-IN (Nova's fake libvirt: fake_hypervisor.py, whose nova-compute
is fake_compute.py). Stand-ins, and named as
such wherever they are used: the fake hypervisor, and
neutron (neutron_standin.py: empty lists; servers boot with
``networks: none``). Keystone is real (keystone.py): nova-api, placement
and glance check its tokens with keystonemiddleware's authtoken. The old
header-trusting mode stays only as the explicitly named ``auth='headers'``
(nova-api's keystonecontext without authtoken, placement noauth2, glance
unauthenticated).

Everything lives under one run dir (``build/sandbox`` by default): configs,
datadirs, logs, the domain XML. Every process is started in its own
session and killed (its whole group) by ``stop()``, which ``with
Sandbox(...)`` calls on any exit, Ctrl-C included. A run also kills what a
crashed earlier run over the same dir left behind (recognised by the
``XLOUD_SANDBOX`` variable in the process environment, never by name).

This module puts the parts in order; each imports, at its top, only
parts named before it here: processes.py (starting, waiting for and
killing the processes; SandboxError), configs.py (the config files),
then mariadb_rabbitmq.py, keystone.py, the two hypervisor modes and
client.py (the HTTP client, with which the start waits for the compute).
"""

from importlib import metadata
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse

from sandbox import client as sandbox_client
from sandbox import configs
from sandbox import fake_hypervisor
from sandbox import horizon as sandbox_horizon
from sandbox import keystone as sandbox_keystone
from sandbox import mariadb_rabbitmq
from sandbox import processes
from sandbox import qemu_hypervisor
from sandbox import upstream

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_RUN_DIR = os.path.join(REPO, 'build', 'sandbox')
# keystone: real keystone and authtoken (the default); headers: no keystone,
# nova-api trusts the X-* headers (an explicitly chosen stand-in).
AUTH_MODES = ('keystone', 'headers')


# ------------------------------------------------------------ hypervisors

HYPERVISORS = {'fake': fake_hypervisor.FakeHypervisor,
               'qemu': qemu_hypervisor.QemuHypervisor}
MODES = ('auto',) + tuple(sorted(HYPERVISORS))


def hypervisor(mode, **kwargs):
    try:
        return HYPERVISORS[mode](**kwargs)
    except KeyError:
        raise processes.SandboxError('hypervisor %r: this sandbox has %s'
                                     % (mode, ', '.join(MODES)))


def choose(mode):
    """(hypervisor, why): ``auto`` is qemu where this machine can run it
    (root, ``unshare -m``, the packages, libvirt-python, a guest image),
    else fake; ``why`` says what decided.
    """
    if mode != 'auto':
        hyper = hypervisor(mode)
        hyper.prepare()
        return hyper, '--hypervisor %s' % mode
    ok, why = qemu_hypervisor.probe()
    if ok:
        hyper = hypervisor('qemu')
        try:
            hyper.prepare()
            return hyper, ('auto: a private libvirtd + QEMU can run here')
        except Exception as e:
            why = 'the guest image cannot be built: %s' % e
    return hypervisor('fake'), 'auto: no real QEMU here (%s)' % why


# ---------------------------------------------------------------- computes

def pristine_tree():
    """Upstream Nova of the installed series, without our overlay and
    patches: ``build/<series>/pristine`` beside the patched tree this
    sandbox's Nova is installed from, built (``xloud_pq build
    --pristine``: the same pinned sdist) when it is not there yet.
    """
    # where pip installed Nova from (editable: build/<series>/nova); not
    # nova.__file__, which run from the repository is the overlay's folder
    url = json.loads(metadata.distribution('nova').read_text(
        'direct_url.json') or '{}').get('url', '')
    if not url.startswith('file://'):
        raise processes.SandboxError(
            'Nova is not installed from a build tree (%r): no pristine '
            'tree beside it' % url)
    series_dir = os.path.dirname(urllib.parse.unquote(url[len('file://'):]))
    tree = os.path.join(series_dir, 'pristine')
    if not os.path.isdir(os.path.join(tree, 'nova')):
        env = dict(os.environ, XLOUD_SERIES=os.path.basename(series_dir))
        processes.log('building pristine upstream Nova at %s' % tree)
        subprocess.run([sys.executable, os.path.join(
            REPO, 'tools', 'xloud_pq.py'), 'build', '--pristine'],
            env=env, check=True, stdout=subprocess.DEVNULL)
    return tree


class Compute(object):
    """One nova-compute of the sandbox, and the hypervisor under it.

    With one compute (the default), exactly what the sandbox always ran:
    host ``xloud-sandbox`` (``configs.HOSTNAME``, also every other
    service's), process and log ``nova-compute``, ``etc/nova-compute.conf``,
    state path ``state/nova``. With ``computes=N`` > 1, compute ``i`` is
    host ``compute<i>``, process and log ``nova-compute-compute<i>``,
    ``etc/nova-compute-compute<i>.conf``, state path ``state/compute<i>``
    (its ``instances`` folder in it): hosts of one cloud (same keystone,
    database, RabbitMQ, placement and cell), each with a hypervisor of its
    own (``hyper``: the mode's ``for_compute()``).
    """

    def __init__(self, sb, index, count, hyper, pristine=False):
        self.sb = sb
        self.index = index
        # runs upstream Nova, not ours (Sandbox.start_compute)
        self.pristine = pristine
        if count == 1:
            self.host = configs.HOSTNAME
            self.name = 'nova-compute'
            state = sb.path('state', 'nova')
        else:
            self.host = 'compute%d' % index
            self.name = 'nova-compute-%s' % self.host
            state = sb.path('state', self.host)
        self.conf = sb.path('etc', '%s.conf' % self.name)
        self.state_path = state
        # where this compute's instance folders are, as this machine sees
        # them (the qemu mode may mount it elsewhere for its processes)
        self.instances_path = os.path.join(state, 'instances')
        self.log_path = sb.path('logs', '%s.log' % self.name)
        self.hyper = hyper
        hyper.compute = self

    @property
    def proc(self):
        """Its running Process (None when it does not run)."""
        for p in self.sb.procs:
            if p.name == self.name:
                return p
        return None


# ---------------------------------------------------------------- sandbox

class Sandbox(processes.Supervisor):
    """Start with start() (or ``with``), stop with stop()."""

    def __init__(self, run_dir=DEFAULT_RUN_DIR, hyper=None,
                 cpu_allocation_ratio=None, ram_allocation_ratio=1.0,
                 nova_overrides=None, auth='keystone', computes=1,
                 pristine=(), dashboard=False):
        if auth not in AUTH_MODES:
            raise processes.SandboxError('auth %r: one of %s' % (
                auth, AUTH_MODES))
        if computes < 1:
            raise processes.SandboxError('computes=%r: at least 1' % (
                computes,))
        super().__init__(run_dir)
        self.auth = auth
        self.keystone = (sandbox_keystone.Keystone(self)
                         if auth == 'keystone' else None)
        # Horizon with our plugin (horizon.py): optional, it needs keystone
        if dashboard and self.keystone is None:
            raise processes.SandboxError('the dashboard needs keystone '
                                         '(auth=keystone)')
        self.horizon = (sandbox_horizon.Horizon(self) if dashboard
                        else None)
        self.nova_overrides = nova_overrides or {}
        self.hyper = hyper or fake_hypervisor.FakeHypervisor()
        # the first compute runs on ``hyper``; each other on a hypervisor
        # of the same mode of its own
        self.computes = [
            Compute(self, i, computes,
                    self.hyper if i == 1 else self.hyper.for_compute(i))
            for i in range(1, computes + 1)]
        # hosts whose nova-compute runs upstream Nova (a rolling upgrade)
        for c in self.computes:
            c.pristine = c.host in pristine
        # None: the mode's own (a TCG host over-commits; see the modes)
        if cpu_allocation_ratio is None:
            cpu_allocation_ratio = self.hyper.cpu_allocation_ratio
        self.ratios = (cpu_allocation_ratio, ram_allocation_ratio)
        self.ports = {}
        self.timings = {}
        self.current_step = None
        self._old_handlers = {}

    @property
    def multi(self):
        """More than one compute: the multi-host layout (``Compute``)."""
        return len(self.computes) > 1

    def compute(self, host):
        """The Compute of host name ``host``."""
        for c in self.computes:
            if c.host == host:
                return c
        raise processes.SandboxError('no compute %r in this sandbox (%s)' % (
            host, ', '.join(c.host for c in self.computes)))

    # ---- urls
    @property
    def nova_url(self):
        return 'http://127.0.0.1:%d/v2.1' % self.ports['nova']

    @property
    def placement_url(self):
        return 'http://127.0.0.1:%d' % self.ports['placement']

    @property
    def transport_url(self):
        return 'rabbit://guest:guest@127.0.0.1:%d/' % self.ports['amqp']

    @property
    def glance_url(self):
        return 'http://127.0.0.1:%d' % self.ports['glance']

    def db_url(self, name):
        return ('mysql+pymysql://xloud:xloud@127.0.0.1:%d/%s?charset=utf8' %
                (self.ports['mysql'], name))

    # ---- lifecycle
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def _on_signal(self, signum, frame):
        raise KeyboardInterrupt('signal %d' % signum)

    def start(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self):
        t0 = time.monotonic()
        self.kill_leftovers()
        if os.path.exists(self.run_dir):
            shutil.rmtree(self.run_dir)
        for d in ('etc', 'logs', 'state', 'domains', 'images'):
            os.makedirs(self.path(d))
        for name in ('mysql', 'amqp', 'epmd', 'erl_dist', 'placement',
                     'glance', 'nova', 'neutron', 'keystone', 'horizon'):
            self.ports[name] = processes.free_port(
                set(self.ports.values()))
        self._step('mariadb', lambda: mariadb_rabbitmq.start_mariadb(self))
        self._step('rabbitmq', lambda: mariadb_rabbitmq.start_rabbitmq(self))
        configs.write(self)
        self._step('db sync', self._sync_dbs)
        if self.keystone:
            self._step('keystone', self.keystone.start)
            self.keystone.clouds_yaml(self.path('clouds.yaml'))
        self._step('placement', self._start_placement)
        self._step('glance', self._start_glance)
        self._step('neutron stand-in', self._start_neutron)
        if self.multi:
            for c in self.computes:
                self._step('hypervisor %s (%s)' % (c.host, c.hyper.name),
                           lambda c=c: c.hyper.start(self))
        else:
            self._step('hypervisor (%s)' % self.hyper.name,
                       lambda: self.hyper.start(self))
        self._step('nova services', self._start_nova)
        self._step('compute%s registered' % ('s' if self.multi else ''),
                   self._wait_compute)
        if self.horizon:
            self._step('horizon', self.horizon.start)
        self.timings['total'] = time.monotonic() - t0
        processes.log('up in %.1f s (run dir %s)' % (
            self.timings['total'], self.run_dir))

    def _step(self, name, fn):
        self.current_step = name
        t = time.monotonic()
        fn()
        self.timings[name] = time.monotonic() - t
        processes.log('%-22s ready in %.1f s' % (
            name, self.timings[name]))

    def stop(self, grace=10.0):
        """Stop the hypervisor's part, then kill every process we started
        (``stop_processes``: the computes, then the other services, then
        MariaDB and RabbitMQ: each wave needs the next to shut down in
        order), then what a crashed member left behind.
        """
        t0 = time.monotonic()
        # A second Ctrl-C must not cut the clean-up short.
        for sig in self._old_handlers:
            signal.signal(sig, signal.SIG_IGN)
        try:
            # every compute's hypervisor, even when one fails to stop
            errors = []
            for c in self.computes:
                try:
                    c.hyper.stop()
                except Exception as e:
                    errors.append(e)
            if errors:
                raise errors[0]
        finally:
            self.stop_processes(
                grace, since=t0, first=[c.name for c in self.computes],
                last=mariadb_rabbitmq.PROCESS_NAMES)
            for sig, handler in self._old_handlers.items():
                signal.signal(sig, handler)
            self._old_handlers = {}
        time.sleep(0.2)
        return self.kill_leftovers()

    # ---- databases
    def _sync_dbs(self):
        conf = ['--config-file', self.path('etc', 'nova.conf')]
        manage = processes.venv_bin('nova-manage')
        self.run('nova-manage', [manage] + conf + ['api_db', 'sync'])
        self.run('nova-manage', [manage] + conf + ['cell_v2', 'map_cell0'])
        self.run('nova-manage', [manage] + conf + [
            'cell_v2', 'create_cell', '--name', 'cell1'])
        self.run('nova-manage', [manage] + conf + ['db', 'sync'])
        env = dict(os.environ,
                   OS_PLACEMENT_CONFIG_DIR=self.path('etc', 'placement'))
        self.run('placement-manage', [
            processes.venv_bin('placement-manage'), '--config-file',
            self.path('etc', 'placement', 'placement.conf'), 'db', 'sync'],
            env=env)
        self.run('glance-manage', [
            processes.venv_bin('glance-manage'), '--config-file',
            self.path('etc', 'glance-api.conf'), 'db_sync'])
        if self.keystone:
            self.keystone.sync()

    # ---- services
    def _start_placement(self):
        env = dict(os.environ,
                   OS_PLACEMENT_CONFIG_DIR=self.path('etc', 'placement'))
        proc = self.spawn_wsgi('placement-api', upstream.PLACEMENT_APP,
                               self.ports['placement'], env=env, threads=4)
        self.wait_for(proc, self.http_ok(self.placement_url + '/'),
                      'HTTP answer')

    def _start_glance(self):
        if upstream.glance_has_wsgi_module():
            # reads glance-api.conf from the folder it is told
            env = dict(os.environ, OS_GLANCE_CONFIG_DIR=self.path('etc'))
            proc = self.spawn_wsgi('glance-api-stdout', upstream.GLANCE_APP,
                                   self.ports['glance'], env=env, threads=4)
        else:
            proc = self.spawn('glance-api-stdout', [
                processes.venv_bin('glance-api'), '--config-file',
                self.path('etc', 'glance-api.conf')])
        self.wait_for(proc, self.http_ok(self.glance_url + '/'),
                      'HTTP answer')

    def _start_neutron(self):
        proc = self.spawn('neutron-standin', [
            sys.executable, os.path.join(HERE, 'neutron_standin.py'),
            '--port', str(self.ports['neutron'])])
        self.wait_for(proc, self.http_ok(
            'http://127.0.0.1:%d/' % self.ports['neutron']), 'HTTP answer')

    def _start_nova(self):
        conf = ['--config-file', self.path('etc', 'nova.conf')]
        for binary in ('nova-conductor', 'nova-scheduler'):
            self.spawn(binary, [processes.venv_bin(binary)] + conf)
        # nova-api reads its files (paste first) from the environment
        env = dict(os.environ, OS_NOVA_CONFIG_DIR=self.path('etc'),
                   OS_NOVA_CONFIG_FILES='api-paste.ini;nova.conf')
        api = self.spawn_wsgi('nova-api', 'sandbox.nova_api_wsgi:application',
                              self.ports['nova'], env=env)
        for c in self.computes:
            self.start_compute(c)
        self.wait_for(api, self.http_ok(self.nova_url + '/'), 'HTTP answer')

    def start_compute(self, compute):
        """Start ``compute``'s nova-compute process (again, after a stop).

        A ``pristine`` compute runs upstream Nova of the same release
        (``pristine_tree()``, first on its PYTHONPATH): a compute not yet
        upgraded, during a rolling upgrade. Clear ``compute.pristine`` and
        start it again to upgrade it in place, as
        ``upgrade/deploy_to_containers.sh`` replaces a container's files.
        """
        env = None
        if compute.pristine:
            env = dict(os.environ)
            env['PYTHONPATH'] = os.pathsep.join(
                [pristine_tree()] + [p for p in env.get(
                    'PYTHONPATH', '').split(os.pathsep) if p])
        return self.spawn(compute.name, compute.hyper.command(self, [
            self.path('etc', 'nova.conf'), compute.conf]), env=env)

    def stop_compute(self, compute):
        """SIGKILL ``compute``'s nova-compute with its process group, as a
        failed node: nothing of it runs any more, no clean-up of its own.
        Its hypervisor stays (what runs under it is the test's to say).
        """
        proc = compute.proc
        if proc is None:
            return
        self._signal(proc, signal.SIGKILL)
        proc.popen.wait()
        self.procs.remove(proc)
        with open(proc.log_path, 'ab') as out:
            out.write(b'\n---- killed (SIGKILL) by the sandbox ----\n')

    def _wait_compute(self):
        """Until the scheduler can place on every compute: its service is
        up, mapped to the cell (discover_hosts, as an operator does after
        adding a compute), its hypervisor up and its provider in placement
        with inventory.
        """
        self.wait_computes(self.computes, discover=True)

    def wait_computes(self, computes, discover=False, timeout=120):
        """Until each of ``computes`` is up in os-services and
        os-hypervisors and its resource provider has VCPU inventory
        (``discover``: run ``nova-manage cell_v2 discover_hosts`` between,
        which a new host needs).
        """
        api = sandbox_client.Cloud(self)
        hosts = set(c.host for c in computes)
        first = computes[0].proc

        def check_alive():
            for p in self.procs:
                if p.popen.poll() is not None:
                    raise processes.SandboxError(
                        '%s exited (%s)\n--- %s:\n%s' % (
                            p.name, p.popen.returncode, p.log_path,
                            processes.tail(p.log_path)))

        def services_up():
            check_alive()
            services = api.nova('GET', '/os-services?binary=nova-compute',
                                200).json()['services']
            up = set(s['host'] for s in services if s['state'] == 'up')
            return hosts <= up

        def schedulable():
            check_alive()
            hyps = api.nova('GET', '/os-hypervisors/detail', 200).json()[
                'hypervisors']
            up = set(h['service']['host'] for h in hyps
                     if h['state'] == 'up')
            if not hosts <= up:
                return False
            names = set(h['hypervisor_hostname'] for h in hyps
                        if h['service']['host'] in hosts)
            rps = [rp for rp in api.placement(
                'GET', '/resource_providers', 200).json()[
                    'resource_providers'] if rp['name'] in names]
            if len(rps) < len(hosts):
                return False
            return all('VCPU' in api.placement(
                'GET', '/resource_providers/%s/inventories' % rp['uuid'],
                200).json()['inventories'] for rp in rps)
        what = ('%d nova-compute services' % len(hosts) if len(hosts) > 1
                else 'nova-compute service')
        self.wait_for(first, services_up, what + ' up', timeout=timeout)
        if discover:
            self.run('nova-manage', [
                processes.venv_bin('nova-manage'), '--config-file',
                self.path('etc', 'nova.conf'), 'cell_v2', 'discover_hosts'])
        self.wait_for(first, schedulable, 'compute host%s in the cell with '
                      'inventory in placement' % (
                          's' if len(hosts) > 1 else ''), timeout=timeout)

    # ---- what runs
    def describe(self):
        """(name, real?, what) of each part, for the output."""
        return [
            ('MariaDB', True, "Debian's mariadbd, datadir %s, 127.0.0.1:%d"
             % (self.path('state', 'mysql'), self.ports['mysql'])),
            ('RabbitMQ', True, "Debian's rabbitmq-server, 127.0.0.1:%d"
             % self.ports['amqp']),
            ('placement', True, 'openstack-placement under gunicorn, %s' %
             self.placement_url),
            ('glance', True, 'glance-api, %s (file store)' % self.glance_url),
            ('nova-api', True, 'patched Nova under gunicorn (%s), %s' % (
                upstream.nova_api_entry(), self.nova_url)),
            ('nova-conductor, nova-scheduler', True, 'patched Nova'),
        ] + self._describe_computes() + [
            ('neutron', False, 'STAND-IN: neutron_standin.py answers empty '
             'lists on 127.0.0.1:%d (servers boot with networks: none)'
             % self.ports['neutron']),
        ] + ([self.horizon.describe()] if self.horizon else []) + [
            self.keystone.describe() if self.keystone else (
                'keystone', False, 'none (auth=headers): nova-api trusts '
                'X-Auth-Token/X-Roles headers (keystonecontext without '
                'authtoken), placement noauth2, glance unauthenticated')]

    def _describe_computes(self):
        if not self.multi:
            return [('nova-compute', True, 'patched Nova, libvirt driver, '
                     'host %s' % configs.HOSTNAME),
                    ('hypervisor', not self.hyper.stand_in,
                     self.hyper.description)]
        rows = [('nova-compute x%d' % len(self.computes), True,
                 'patched Nova, libvirt driver, hosts %s: one process, '
                 'config, state path and log each' % ', '.join(
                     c.host for c in self.computes))]
        rows.append(('hypervisor', not self.hyper.stand_in,
                     self.hyper.description))
        for c in self.computes:
            rows.append(('  of %s' % c.host, not c.hyper.stand_in,
                         c.hyper.short_description))
        return rows

    def env_file(self, headers, server_id=None):
        """Write a bash file with the endpoints and the auth headers (as
        arrays of curl arguments), for curl and scripts.
        """
        def curl_args(hdrs):
            return ' '.join("-H '%s: %s'" % kv for kv in hdrs.items())
        path = self.path('sandbox.env')
        with open(path, 'w') as f:
            f.write('# source me (bash): endpoints of the XLoud sandbox\n'
                    'export NOVA_URL=%s\nexport PLACEMENT_URL=%s\n'
                    'export GLANCE_URL=%s\n' % (
                        self.nova_url, self.placement_url, self.glance_url))
            for name, hdrs in sorted(headers.items()):
                f.write('%s=(%s)\n' % (name, curl_args(hdrs)))
            if server_id:
                f.write('export SERVER_ID=%s\n' % server_id)
        with open(self.path('ports.json'), 'w') as f:
            json.dump(self.ports, f, indent=1)
        return path
