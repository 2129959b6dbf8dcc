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

"""The cloud around the adjust fails: placement, RabbitMQ, MariaDB.

Each of the sandbox's real services is killed (SIGKILL with its process
group, as a node failure: no clean-up runs) and started again with the
same command, at two points of an adjust:

- ``before``: the service is down when the adjust is sent, and for a few
  seconds after; the user's answer is recorded;
- ``guest``: the service goes down while the compute changes the guest
  (a memory shrink the guest does not follow, which the compute waits
  ``[xloud] memory_release_timeout`` for), and comes back after the
  compute had to write its records.

After each, the same checks: the answer was never a 500 and came within
the client's timeout, every instance action of the server ends, no task
state is left, GET = placement, and a new adjust succeeds; the recovery
time (from the service's restart to that adjust's success) is printed in
a table. The guest is Nova's fake libvirt (a stand-in, the sandbox's
``fake`` hypervisor: libvirtd's own restart needs the real one) under the
real nova-compute, conductor, API, placement, keystone, RabbitMQ and
MariaDB.
"""

import os
import signal
import sys
import time
import unittest

import requests

from sandbox import client as sandbox_client
from sandbox import demo
from sandbox import xloud_sandbox

RUN_DIR = os.path.join(xloud_sandbox.REPO, 'build', 'sandbox-faults')
TIMEOUT = 30            # [xloud] adjust_timeout
RELEASE = 6             # [xloud] memory_release_timeout
ANSWER_WITHIN = 60      # the client's patience for one answer
RECOVER_WITHIN = 300
# which process and which port each fault takes down
SERVICES = {'placement': ('placement-api', 'placement'),
            'rabbitmq': ('rabbitmq', 'amqp'),
            'mariadb': ('mariadb', 'mysql')}


class FaultsSandboxTest(unittest.TestCase):

    rows = []

    @classmethod
    def setUpClass(cls):
        cls.sb = xloud_sandbox.Sandbox(RUN_DIR, nova_overrides={
            'xloud': {'adjust_timeout': TIMEOUT,
                      'memory_release_timeout': RELEASE}})
        cls.sb.start()
        try:
            cls.cloud = sandbox_client.Cloud(cls.sb, timeout=ANSWER_WITHIN)
            prof = demo.PROFILES['fake']
            flavor = cls.cloud.create_flavor('xloud.faults', extra_specs=dict(
                prof.minimum), **prof.flavor)
            image = cls.cloud.upload_image('faults', b'\0' * 1024)
            server = cls.cloud.boot('faults', image['id'], flavor['id'])
            cls.server_id = cls.cloud.wait_server(server['id'],
                                                  'ACTIVE')['id']
            cls.rp = cls.cloud.provider()['uuid']
            cls.minimum = prof.min
            cls.flavor = prof.flavor
        except BaseException:
            cls.sb.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        print('\n%-10s %-7s %-58s %s' % ('fault', 'point', 'what the user '
                                         'saw', 'recovered after'),
              file=sys.stderr)
        for row in cls.rows:
            print('%-10s %-7s %-58s %s' % row, file=sys.stderr)
        left = cls.sb.stop()
        assert not left, 'processes left after stop: %s' % left

    # ---- the faults
    def down(self, service):
        """SIGKILL the service's processes; the old Process to restart."""
        name = SERVICES[service][0]
        old = [p for p in self.sb.procs if p.name == name][0]
        self.sb._signal(old, signal.SIGKILL)
        old.popen.wait()
        self.sb.procs.remove(old)
        return old

    def up(self, service, old):
        with open(old.log_path, 'ab') as out:
            out.write(b'\n---- killed (SIGKILL) and restarted by '
                      b'test_faults ----\n')
        proc = self.sb.spawn(old.name, old.cmd, env=old.env, cwd=old.cwd)
        self.sb.wait_for(proc, self.sb.port_open(
            self.sb.ports[SERVICES[service][1]]), 'its port', timeout=120)
        return time.monotonic()

    # ---- what the user sees, and what must hold after
    def send(self, **body):
        """(status or the client's error, Nova's message, request id)."""
        t0 = time.monotonic()
        try:
            resp = self.cloud.nova(
                'POST', '/servers/%s/os-xloud-adjust' % self.server_id,
                json=body)
        except requests.RequestException as e:
            return ('no answer (%s)' % type(e).__name__, str(e)[:200], None,
                    time.monotonic() - t0)
        return (resp.status_code, resp.text[:300],
                resp.headers.get('x-openstack-request-id'),
                time.monotonic() - t0)

    def state(self):
        """(GET's current, the allocation, task state, unfinished
        actions) or None while a service cannot answer.
        """
        try:
            got = self.cloud.get_adjust(self.server_id)
            alloc = self.cloud.allocations(self.server_id)[self.rp][
                'resources']
            server = self.cloud.server(self.server_id)
            open_ = []
            for action in self.cloud.actions(self.server_id):
                events = self.cloud.action(
                    self.server_id, action['request_id'])['events']
                if any(not e.get('finish_time') for e in events):
                    open_.append(action['request_id'])
        except (sandbox_client.StepFailed, requests.RequestException,
                KeyError):
            return None
        return ((got['vcpus']['current'], got['memory_mb']['current']),
                (alloc['VCPU'], alloc['MEMORY_MB']),
                server['OS-EXT-STS:task_state'], open_)

    def settled(self):
        """Wait for: no task state, nothing unfinished, GET = placement."""
        deadline = time.monotonic() + TIMEOUT + 60 + RECOVER_WITHIN
        while True:
            st = self.state()
            if st and st[0] == st[1] and st[2] is None and not st[3]:
                return st
            self.assertLess(time.monotonic(), deadline,
                            'not settled: %s' % (st,))
            time.sleep(1)

    def adjust_works(self, since):
        """Seconds from ``since`` until a new adjust succeeded."""
        deadline = time.monotonic() + RECOVER_WITHIN
        vcpus = self.settled()[0][0]
        want = self.minimum[0] if vcpus != self.minimum[0] else vcpus + 1
        while True:
            status, text, req, _ = self.send(current_vcpus=want)
            if status == 202:
                try:
                    act = self.cloud.wait_action(self.server_id, req,
                                                 timeout=TIMEOUT + 90,
                                                 poll=0.5)
                except sandbox_client.StepFailed:
                    act = None
                if act and [e['result'] for e in act['events']] == [
                        'Success']:
                    got = self.settled()
                    self.assertEqual(want, got[0][0])
                    return time.monotonic() - since
            self.assertNotEqual(500, status, text)
            self.assertLess(time.monotonic(), deadline,
                            'no adjust worked after the restart: %s %s' % (
                                status, text))
            self.settled()
            time.sleep(2)

    def record(self, service, point, seen, recovered):
        status, text, _, took = seen
        said = '%s in %.1f s' % (status, took)
        if status not in (202, 200):
            said += ': ' + ' '.join(text.split())[:40]
        self.rows.append((service, point, said, '%.1f s' % recovered))
        print('\n%s/%s: the user saw %s; an adjust worked %.1f s after '
              'the restart' % (service, point, said, recovered),
              file=sys.stderr)
        self.assertNotEqual(500, status, text)
        self.assertLess(took, ANSWER_WITHIN)

    # ---- the cases
    def fault_before(self, service):
        self.settled()
        vcpus = self.state()[0][0]
        want = self.minimum[0] if vcpus != self.minimum[0] else vcpus + 1
        old = self.down(service)
        try:
            seen = self.send(current_vcpus=want)
            time.sleep(3)
        finally:
            restarted = self.up(service, old)
        self.record(service, 'before', seen, self.adjust_works(restarted))

    def fault_in_guest(self, service):
        keep = self.sb.path('domains', '%s.keep-memory' % self.server_id)
        st = self.settled()
        if st[0][1] == self.minimum[1]:
            status, text, req, _ = self.send(
                current_memory_mb=self.minimum[1] + 256)
            self.assertEqual(202, status, text)
            self.settled()
        with open(keep, 'w'):
            pass
        try:
            seen = self.send(current_memory_mb=self.minimum[1])
            self.assertEqual(202, seen[0], seen[1])
            time.sleep(1)
            old = self.down(service)
            try:
                # the compute gives up on the guest and writes its records
                time.sleep(RELEASE + 4)
            finally:
                restarted = self.up(service, old)
        finally:
            os.remove(keep)
        recovered = self.adjust_works(restarted)
        self.record(service, 'guest', seen, recovered)

    def test_placement_before(self):
        self.fault_before('placement')

    def test_placement_guest(self):
        self.fault_in_guest('placement')

    def test_rabbitmq_before(self):
        self.fault_before('rabbitmq')

    def test_rabbitmq_guest(self):
        self.fault_in_guest('rabbitmq')

    def test_mariadb_before(self):
        self.fault_before('mariadb')

    def test_mariadb_guest(self):
        self.fault_in_guest('mariadb')


if __name__ == '__main__':
    unittest.main()
