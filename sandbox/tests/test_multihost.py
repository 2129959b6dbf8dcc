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

"""Moves of adjusted servers between two computes, on the real sandbox.

One sandbox with two nova-computes (compute1, compute2; hypervisor: Nova's
fake libvirt, a stand-in, with fake_compute.py's STAND-IN moves between
the two processes), driven through nova-api with keystone tokens of
xloud-admin, as an operator would. What is documented
(nova/tests/functional/libvirt/test_xloud_adjust_moves.py holds the same
rules in one process):

- a live migration moves the running guest: GET os-xloud-adjust keeps its
  current values, live-only (``persist=false``) or persisted, and its
  allocation on the destination's provider equals them;
- a cold migration (migrate + confirmResize), a resize and an evacuation
  define the guest again from its PERSISTED values: GET and placement
  show those, and the live-only values are gone; a resize's new flavor
  starts at its minimums, its revert finds the old flavor's persisted
  values again;
- the evacuation after its compute is killed (SIGKILL of the process,
  then ``forced_down`` through os-services, as operators do); the killed
  compute, started again, gives its part of the allocation back.

Every expected value comes from what the test asked for and from the
API (the flavors' minimums are read back from GET os-xloud-adjust), and
each check reads nova-api, placement and the domain XML the compute
defined (``domains/<host>/``).
"""

import os
import time
import unittest

from sandbox import client as sandbox_client
from sandbox import demo
from sandbox import processes
from sandbox import xloud_sandbox

RUN_DIR = os.path.join(xloud_sandbox.REPO, 'build', 'sandbox-multihost')
MOVE_TIMEOUT = 180
# the fake hosts: 8 pCPUs / 16 GiB each, allocation ratio 1.0
FLAVOR = {'vcpus': 4, 'ram': 4096, 'disk': 1}
MINIMUM = {'minimum_cpu': '1', 'minimum_memory': '1024'}
BIGGER = {'vcpus': 6, 'ram': 6144, 'disk': 1}
BIGGER_MINIMUM = {'minimum_cpu': '2', 'minimum_memory': '2048'}


class MultiHostTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.timings = {}
        t0 = time.monotonic()
        cls.sb = xloud_sandbox.Sandbox(RUN_DIR, computes=2)
        cls.sb.start()
        try:
            cls.timings['start'] = time.monotonic() - t0
            cls.api = sandbox_client.Cloud(cls.sb, user='admin',
                                           timeout=60)
            cls.flavor = cls.api.create_flavor('xloud.mh', extra_specs=dict(
                MINIMUM), **FLAVOR)
            cls.bigger = cls.api.create_flavor(
                'xloud.mh.bigger', extra_specs=dict(BIGGER_MINIMUM),
                **BIGGER)
            cls.image = cls.api.upload_image('mh', os.urandom(64 * 1024))
        except BaseException:
            cls.sb.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        left = cls.sb.stop()
        print('\nmultihost sandbox timings: %s' % ', '.join(
            '%s %.1f s' % kv for kv in sorted(cls.timings.items())),
            flush=True)
        assert not left, 'processes left after stop: %s' % left

    # ---- helpers
    def boot(self, name, flavor=None):
        server = self.api.boot(name, self.image['id'],
                               (flavor or self.flavor)['id'])
        self.addCleanup(self.delete, server['id'])
        return self.api.wait_server(server['id'], 'ACTIVE', timeout=120)

    def delete(self, server_id):
        if self.api.nova('GET', '/servers/%s' % server_id).status_code == 200:
            self.api.delete_server(server_id, timeout=120)

    def adjust(self, server_id, vcpus, memory_mb, persist):
        request_id = self.api.adjust(server_id, vcpus, memory_mb,
                                     persist=persist)
        action = self.api.wait_action(server_id, request_id, timeout=120)
        self.assertEqual(['Success'],
                         [e['result'] for e in action['events']], action)

    def current(self, server_id):
        got = self.api.get_adjust(server_id)
        return got['vcpus']['current'], got['memory_mb']['current']

    def other(self, host):
        (other,) = [c.host for c in self.sb.computes if c.host != host]
        return other

    def held(self, server_id):
        """{host: (VCPU, MEMORY_MB)} of the server's allocations."""
        rps = {self.api.host_provider(c.host)['uuid']: c.host
               for c in self.sb.computes}
        found = {}
        for rp, alloc in self.api.allocations(server_id).items():
            res = alloc['resources']
            found[rps[rp]] = (res.get('VCPU'), res.get('MEMORY_MB'))
        return found

    def xml(self, server_id, host, kind):
        """(current vCPUs, max, currentMemory MiB, memory MiB) of the
        domain's XML on ``host`` (the compute writes it).
        """
        hyper = self.sb.compute(host).hyper
        _, text = hyper.domain_xml(self.sb, server_id, kind)
        vcpus, maxv, kib, max_kib = demo.xml_current(text)
        return vcpus, maxv, kib // 1024, max_kib // 1024

    def assert_runs(self, server_id, host, values, flavor=FLAVOR):
        """GET, the allocation (on ``host`` only) and the domain XML on
        ``host`` all say ``values``.
        """
        self.assertEqual(values, self.current(server_id))
        self.assertEqual({host: values}, self.held(server_id))
        self.assertEqual(values[:1] + (flavor['vcpus'],) + values[1:] +
                         (flavor['ram'],),
                         self.xml(server_id, host, 'live'))

    def timed(self, name, t0):
        self.timings[name] = time.monotonic() - t0

    # ---- live migration
    def _live_migration(self, persist):
        name = 'live-%s' % ('persisted' if persist else 'live-only')
        server = self.boot(name)
        sid, source = server['id'], server['OS-EXT-SRV-ATTR:host']
        dest = self.other(source)
        self.adjust(sid, 3, 3072, persist=persist)
        before = self.api.get_adjust(sid)
        self.assertEqual((3, 3072), self.current(sid))
        self.assert_runs(sid, source, (3, 3072))
        t0 = time.monotonic()
        self.api.live_migrate(sid, dest)
        self.api.wait_host(sid, dest, timeout=MOVE_TIMEOUT)
        self.api.wait_migration(sid, 'live-migration', 'completed',
                                timeout=MOVE_TIMEOUT, released=True)
        self.timed('live migration (%s)' % name, t0)
        # the running guest moved: every number of GET as it was
        self.assertEqual(before, self.api.get_adjust(sid))
        self.assert_runs(sid, dest, (3, 3072))
        return sid, dest

    def test_live_migration_keeps_live_only_values(self):
        self._live_migration(persist=False)

    def test_live_migration_keeps_persisted_values(self):
        sid, dest = self._live_migration(persist=True)
        # persisted: the destination's definition holds them as well
        self.assertEqual((3, 4, 3072, 4096),
                         self.xml(sid, dest, 'config'))

    # ---- moves that define the guest again
    def _persisted_then_live_only(self, server_id):
        """Persisted (2, 2048), then live-only (3, 3072)."""
        self.adjust(server_id, 2, 2048, persist=True)
        self.adjust(server_id, 3, 3072, persist=False)
        self.assertEqual((3, 3072), self.current(server_id))

    def test_cold_migration_defines_the_persisted_values(self):
        server = self.boot('cold')
        sid, source = server['id'], server['OS-EXT-SRV-ATTR:host']
        dest = self.other(source)
        self._persisted_then_live_only(sid)
        t0 = time.monotonic()
        self.api.server_action(sid, {'migrate': {'host': dest}})
        self.api.wait_host(sid, dest, status='VERIFY_RESIZE',
                           timeout=MOVE_TIMEOUT)
        self.api.server_action(sid, {'confirmResize': None}, expect=204)
        self.api.wait_host(sid, dest, timeout=MOVE_TIMEOUT)
        self.api.wait_migration(sid, 'migration', 'confirmed',
                                timeout=MOVE_TIMEOUT, released=True)
        self.timed('cold migration and confirm', t0)
        self.assert_runs(sid, dest, (2, 2048))
        self.assertEqual((2, 4, 2048, 4096),
                         self.xml(sid, dest, 'defined'))

    def _resize(self, name):
        server = self.boot(name)
        sid, source = server['id'], server['OS-EXT-SRV-ATTR:host']
        self._persisted_then_live_only(sid)
        t0 = time.monotonic()
        self.api.server_action(sid, {'resize': {
            'flavorRef': self.bigger['id']}})
        # allow_resize_to_same_host is False: the other compute
        srv = self.api.wait_server(sid, 'VERIFY_RESIZE',
                                   timeout=MOVE_TIMEOUT)
        dest = srv['OS-EXT-SRV-ATTR:host']
        self.timed('resize (%s)' % name, t0)
        self.assertEqual(self.other(source), dest)
        return sid, source, dest

    def test_resize_to_the_other_host_starts_at_the_new_minimums(self):
        sid, source, dest = self._resize('resize')
        self.api.server_action(sid, {'confirmResize': None}, expect=204)
        self.api.wait_host(sid, dest, timeout=MOVE_TIMEOUT)
        self.api.wait_migration(sid, 'resize', 'confirmed',
                                timeout=MOVE_TIMEOUT, released=True)
        got = self.api.get_adjust(sid)
        minimum = (got['vcpus']['minimum'], got['memory_mb']['minimum'])
        # the new flavor's, as the API reads them from its extra specs
        self.assertEqual((int(BIGGER_MINIMUM['minimum_cpu']),
                          int(BIGGER_MINIMUM['minimum_memory'])), minimum)
        self.assertEqual((BIGGER['vcpus'], BIGGER['ram']),
                         (got['vcpus']['maximum'],
                          got['memory_mb']['maximum']))
        self.assert_runs(sid, dest, minimum, flavor=BIGGER)
        self.assertEqual(minimum[:1] + (BIGGER['vcpus'],) + minimum[1:] +
                         (BIGGER['ram'],), self.xml(sid, dest, 'defined'))

    def test_resize_revert_finds_the_persisted_values(self):
        sid, source, dest = self._resize('revert')
        t0 = time.monotonic()
        self.api.server_action(sid, {'revertResize': None})
        self.api.wait_host(sid, source, timeout=MOVE_TIMEOUT)
        self.api.wait_migration(sid, 'resize', 'reverted',
                                timeout=MOVE_TIMEOUT, released=True)
        self.timed('resize revert', t0)
        self.assert_runs(sid, source, (2, 2048))
        self.assertEqual((2, 4, 2048, 4096),
                         self.xml(sid, source, 'defined'))

    # ---- evacuation
    def test_evacuation_defines_the_persisted_values(self):
        server = self.boot('evacuate')
        sid, source = server['id'], server['OS-EXT-SRV-ATTR:host']
        dest = self.other(source)
        self._persisted_then_live_only(sid)
        compute = self.sb.compute(source)
        (service,) = [s for s in self.api.compute_services()
                      if s['host'] == source]
        t0 = time.monotonic()
        # the host fails: its compute killed, then forced down
        self.sb.stop_compute(compute)
        self.addCleanup(self.bring_back, compute, service['id'])
        self.api.nova('PUT', '/os-services/%s' % service['id'], 200,
                      json={'forced_down': True})
        self.api.server_action(sid, {'evacuate': {}}, expect=(200, 202))
        # The destination saves the rebuilt server ACTIVE without a task
        # before it moves its host there and marks the migration done
        # (upstream's order): the migration first. Since microversion
        # 2.95 an evacuated server is then stopped.
        self.api.wait_migration(sid, 'evacuation', ('done', 'completed'),
                                timeout=MOVE_TIMEOUT)
        srv = self.api.wait_host(sid, dest, status=('ACTIVE', 'SHUTOFF'),
                                 timeout=MOVE_TIMEOUT)
        self.timed('evacuation', t0)
        self.assertEqual((2, 2048), self.current(sid))
        self.assertEqual((2, 4, 2048, 4096),
                         self.xml(sid, dest, 'defined'))
        # upstream keeps the dead host's part of the allocation until its
        # compute runs again and cleans up
        held = self.held(sid)
        self.assertEqual((2, 2048), held[dest])
        if srv['status'] == 'SHUTOFF':
            self.api.server_action(sid, {'os-start': None})
            self.api.wait_server(sid, 'ACTIVE', timeout=MOVE_TIMEOUT)
        self.assertEqual((2, 4, 2048, 4096), self.xml(sid, dest, 'live'))
        # the killed compute back: it gives its part back
        t0 = time.monotonic()
        self.bring_back(compute, service['id'])
        self.assertEqual('completed', self.api.wait_migration(
            sid, 'evacuation', 'completed')['status'])
        self.assertNotIn(source, self.held(sid))
        self.timed('killed compute back, allocation released', t0)
        self.assert_runs(sid, dest, (2, 2048))

    def bring_back(self, compute, service_id):
        """Start the compute again, as an operator does after a host
        failure: its start-up cleans up what was evacuated from it (its
        part of the allocations, the migrations to ``completed``), then
        the operator lifts ``forced_down``, which Nova refuses before.
        Idempotent (also the test's clean-up).
        """
        if compute.proc is None:
            self.sb.start_compute(compute)

        def cleaned_up():
            if compute.proc.popen.poll() is not None:
                raise processes.SandboxError('%s exited' % compute.name)
            return not self.api.nova(
                'GET', '/os-migrations?source_compute=%s&migration_type='
                'evacuation&status=done' % compute.host, 200).json()[
                    'migrations']
        self._until(cleaned_up, MOVE_TIMEOUT, 'the evacuations from %s '
                    'completed by its restarted compute' % compute.host)
        self.api.nova('PUT', '/os-services/%s' % service_id, 200,
                      json={'forced_down': False})
        self.sb.wait_computes([compute], timeout=MOVE_TIMEOUT)

    def _until(self, ready, timeout, what):
        deadline = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > deadline:
                raise processes.SandboxError('%s: not after %d s' % (
                    what, timeout))
            time.sleep(0.5)


if __name__ == '__main__':
    unittest.main()
