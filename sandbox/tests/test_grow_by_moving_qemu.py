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

"""Grow by moving, with a REAL guest: ``"allow_migration": true``.

``tox -e sandbox-qemu -- sandbox.tests.test_grow_by_moving_qemu``: a
sandbox with two nova-computes, each on its own private libvirtd running
QEMU with TCG. One server of the qemu profile's minimum flavor (1 of its
4 vCPUs) boots; its host is then made full in placement (a STAND-IN for
the other servers of a busy host: an allocation of the host's free VCPU
to a consumer that is not a server, which placement, the scheduler and
the adjust's own room check all count as any claim), so a growth to 2
vCPUs does not fit there. Then, through Nova's API with keystone tokens:

- without ``allow_migration``: 409, nothing moves;
- the dry run with it: ``fits`` and ``moves``, with the host's shortfall;
- the adjust with it: one ``xloud_adjust`` action whose events are the
  live migration's and then the growth's; the server on the other host,
  GET os-xloud-adjust and its allocation (on the destination only) at 2
  vCPUs; libvirt runs the domain there with 2 vCPUs under its memory
  limit; and the guest's own console (os-getConsoleOutput, from the
  destination's QEMU): the same boot (its uptime went on), 2 CPUs online.

Skipped, saying why, where this machine cannot run QEMU.
"""

import os
import time
import unittest
import uuid

from sandbox import client as sandbox_client
from sandbox import demo
from sandbox.tests import qemu_base
from sandbox.tests import test_multihost_qemu
from sandbox import xloud_sandbox

GROWTH_EVENT = 'compute_xloud_adjust'


def free(cloud, rp_uuid, rc):
    """What placement still lets a consumer claim of ``rc`` on the
    provider (its own rule: (total - reserved) * ratio - used).
    """
    inv = cloud.inventories(rp_uuid)[rc]
    used = cloud.usages(rp_uuid).get(rc, 0)
    capacity = (inv['total'] - inv['reserved']) * inv['allocation_ratio']
    return int(capacity) - used


def wait_growth(cloud, server_id, request_id, timeout):
    """Until the action's growth event and every other one finished (the
    live migration's events all finish before the growth begins).
    """
    deadline = time.monotonic() + timeout
    while True:
        act = cloud.action(server_id, request_id)
        events = act.get('events') or []
        done = all(e.get('finish_time') for e in events)
        failed = [e for e in events if e.get('result') == 'Error']
        if events and done and (failed or any(
                e['event'] == GROWTH_EVENT for e in events)):
            return act
        if time.monotonic() > deadline:
            raise sandbox_client.StepFailed(
                'action %s not finished after %d s: %s' % (
                    request_id, timeout, events))
        time.sleep(0.2)


class GrowByMovingQemuTest(qemu_base.QemuSandboxTest):

    RUN_DIR = os.path.join(xloud_sandbox.REPO, 'build',
                           'sandbox-test-grow-by-moving')
    WHAT = 'grow by moving a real guest'
    COMPUTES = 2
    SKIP_WITHOUT_QEMU = True

    @classmethod
    def scenario(cls, sb, res):
        cloud = sandbox_client.Cloud(sb)
        prof = demo.PROFILES['qemu']
        demo.Step.current = 'boot'
        flavor = cloud.create_flavor('xloud.gbm', extra_specs=dict(
            prof.minimum), **prof.flavor)
        image = sb.hyper.upload_images(cloud)
        server = qemu_base.boot(cloud, image, flavor, 'gbm')
        sid = res['server_id'] = server['id']
        source = res['source'] = server['OS-EXT-SRV-ATTR:host']
        dest = res['dest'] = [c.host for c in sb.computes
                              if c.host != source][0]
        rps = res['rps'] = {h: cloud.host_provider(h)['uuid']
                            for h in (source, dest)}
        vcpus = res['vcpus'] = prof.min[0] + 1
        # its boot values: its balloon inflated to the minimum too
        res['guest_before'] = demo.guest_says(
            cloud, sid, lambda g: (g[0] == prof.min[0] and
                                   g[1] < prof.min[1] * 1024),
            demo.GUEST_BOOT_TIMEOUT, 'its boot values')
        res['qemu_before'] = qemu_base.qemu_pid(sid)

        demo.Step.current = 'the source made full (STAND-IN claim)'
        # consumers of at most max_unit each, as servers would be
        fillers = res['fillers'] = []
        max_unit = cloud.inventories(rps[source])['VCPU']['max_unit']
        while free(cloud, rps[source], 'VCPU') > 0:
            taken = min(free(cloud, rps[source], 'VCPU'), max_unit)
            fillers.append(str(uuid.uuid4()))
            cloud.placement(
                'PUT', '/allocations/%s' % fillers[-1], 204,
                headers={'OpenStack-API-Version': 'placement 1.28'},
                json={'allocations': {rps[source]: {
                    'resources': {'VCPU': taken}}},
                    'project_id': uuid.uuid4().hex,
                    'user_id': uuid.uuid4().hex,
                    'consumer_generation': None})
        res['free_source'] = free(cloud, rps[source], 'VCPU')
        res['free_dest'] = free(cloud, rps[dest], 'VCPU')

        demo.Step.current = 'adjust without allow_migration'
        path = '/servers/%s/os-xloud-adjust' % sid
        refused = cloud.nova('POST', path, json={'current_vcpus': vcpus})
        res['refused'] = (refused.status_code, refused.text)

        demo.Step.current = 'dry run with allow_migration'
        res['dry_run'] = cloud.nova('POST', path, 200, json={
            'current_vcpus': vcpus, 'dry_run': True,
            'allow_migration': True}).json()

        demo.Step.current = 'adjust with allow_migration'
        t0 = time.monotonic()
        resp = cloud.nova('POST', path, 202, json={
            'current_vcpus': vcpus, 'allow_migration': True})
        res['post_ms'] = (time.monotonic() - t0) * 1000
        request_id = resp.headers.get('x-openstack-request-id')
        res['action'] = wait_growth(cloud, sid, request_id,
                                    demo.GUEST_BOOT_TIMEOUT)
        res['done_s'] = time.monotonic() - t0
        res['server'] = cloud.wait_server(sid, 'ACTIVE', timeout=60)
        # the source completes the migration once the destination's part,
        # which casts the growth, has returned: it may end after it
        cloud.wait_migration(sid, 'live-migration', 'completed',
                             timeout=60, released=True)
        res['migrations'] = cloud.migrations_all(sid)
        res['get'] = cloud.get_adjust(sid)
        res['alloc'] = cloud.allocations(sid)
        res['libvirt_source'] = test_multihost_qemu.domain_on(sb, source,
                                                              sid)
        res['libvirt_dest'] = test_multihost_qemu.domain_on(sb, dest, sid)
        res['qemu_after'] = qemu_base.qemu_pid(sid)
        before = res['guest_before']
        res['guest_after'] = demo.guest_says(
            cloud, sid, lambda g: g[0] == vcpus and g[2] > before[2],
            demo.GUEST_TIMEOUT, '%d CPUs online, the same boot' % vcpus)
        print('\n   grow by moving %s -> %s: POST %.0f ms, grown on %s '
              '%.1f s after the POST; the guest: %s before, %s after' % (
                  source, dest, res['post_ms'], dest, res['done_s'],
                  before, res['guest_after']), flush=True)
        for filler in fillers:
            cloud.placement('DELETE', '/allocations/%s' % filler,
                            (204, 404))

    def test_without_allow_migration_409(self):
        status, text = self.res['refused']
        self.assertEqual(409, status)
        self.assertIn('no room', text)
        self.assertEqual(0, self.res['free_source'])
        self.assertGreaterEqual(self.res['free_dest'], self.res['vcpus'])

    def test_dry_run_says_it_moves(self):
        got = self.res['dry_run']
        self.assertEqual((True, True), (got['fits'], got['moves']))
        self.assertIn('VCPU: 1 more needed, 0 free on the host',
                      got['reason'])

    def test_one_action_the_move_then_the_growth(self):
        events = {e['event']: e['result']
                  for e in self.res['action']['events']}
        self.assertEqual('Success', events['conductor_live_migrate_instance'])
        self.assertEqual('Success', events['compute_live_migration'])
        self.assertEqual('Success', events[GROWTH_EVENT])
        self.assertEqual(
            [('live-migration', 'completed', self.res['source'],
              self.res['dest'])],
            [(m['migration_type'], m['status'], m['source_compute'],
              m['dest_compute']) for m in self.res['migrations']])

    def test_grown_on_the_destination(self):
        vcpus, dest = self.res['vcpus'], self.res['dest']
        self.assertEqual(dest, self.res['server']['OS-EXT-SRV-ATTR:host'])
        self.assertEqual(vcpus, self.res['get']['vcpus']['current'])
        dst = self.res['rps'][dest]
        self.assertEqual([dst], list(self.res['alloc']))
        self.assertEqual(vcpus, self.res['alloc'][dst]['resources']['VCPU'])
        memory = self.res['get']['memory_mb']['current']
        self.assertEqual(memory,
                         self.res['alloc'][dst]['resources']['MEMORY_MB'])
        self.assertIsNone(self.res['libvirt_source'])
        self.assertEqual(
            (vcpus, memory, memory + qemu_base.MEMORY_OVERHEAD_MB),
            self.res['libvirt_dest'])

    def test_the_guest_ran_on_and_shows_the_new_vcpus(self):
        before, after = self.res['guest_before'], self.res['guest_after']
        # (cpus_online, MemTotal kB, uptime s) from its own console
        self.assertEqual(self.res['vcpus'], after[0])
        self.assertEqual(before[1], after[1])
        self.assertGreater(after[2], before[2])
        self.assertIsNotNone(self.res['qemu_after'])
        self.assertNotEqual(self.res['qemu_before'], self.res['qemu_after'])


if __name__ == '__main__':
    unittest.main()
