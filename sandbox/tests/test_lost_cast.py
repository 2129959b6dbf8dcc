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

"""A hung compute and a lost cast, on the sandbox's real RabbitMQ.

The API never waits on a compute (issue 23): with the server's
nova-compute frozen (SIGSTOP, as a hung host), adjusts, dry runs and a GET
of every server answer at once, and the accepted adjust waits in the
compute's queue. RabbitMQ is then restarted (SIGKILL and start, as a node
failure): the cast is lost with its queue. The compute is thawed; at
``[xloud] adjust_timeout`` (20 s here) its periodic task (every 60 s)
ends the adjust in Error, releases the task state, and GET, placement
and the guest agree again; the next adjust works.

The fake hypervisor (Nova's fake libvirt, a stand-in) under the real
nova-compute, RabbitMQ, MariaDB, placement and keystone.
"""

import os
import signal
import threading
import time
import unittest

from sandbox import client as sandbox_client
from sandbox import demo
from sandbox import xloud_sandbox

RUN_DIR = os.path.join(xloud_sandbox.REPO, 'build', 'sandbox-lost-cast')
TIMEOUT = 20
# the compute's periodic tasks run every 60 s: the timeout, one period,
# and the time a loaded machine adds
ENDED_WITHIN = TIMEOUT + 60 + 60


class LostCastSandboxTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.sb = xloud_sandbox.Sandbox(
            RUN_DIR, nova_overrides={'xloud': {'adjust_timeout': TIMEOUT}})
        cls.sb.start()
        try:
            cls.cloud = sandbox_client.Cloud(cls.sb)
            prof = demo.PROFILES['fake']
            flavor = cls.cloud.create_flavor('xloud.lost', extra_specs=dict(
                prof.minimum), **prof.flavor)
            image = cls.cloud.upload_image('lost', b'\0' * 1024)
            server = cls.cloud.boot('lost', image['id'], flavor['id'])
            cls.server_id = cls.cloud.wait_server(server['id'],
                                                  'ACTIVE')['id']
            cls.rp = cls.cloud.provider()['uuid']
            cls.minimum = prof.min
        except BaseException:
            cls.sb.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        left = cls.sb.stop()
        assert not left, 'processes left after stop: %s' % left

    def _compute(self):
        return [p for p in self.sb.procs if p.name == 'nova-compute'][0]

    def _state(self):
        """(GET's current, the allocation, the server's task state)."""
        got = self.cloud.get_adjust(self.server_id)
        alloc = self.cloud.allocations(self.server_id)[self.rp]['resources']
        server = self.cloud.server(self.server_id)
        return ((got['vcpus']['current'], got['memory_mb']['current']),
                (alloc['VCPU'], alloc['MEMORY_MB']),
                server['OS-EXT-STS:task_state'])

    def test_hung_compute_then_lost_cast(self):
        before = self._state()
        self.assertEqual((self.minimum, self.minimum, None), before)
        compute = self._compute()
        clients = [sandbox_client.Cloud(self.sb) for _ in range(4)]
        answers = [None] * 4
        path = '/servers/%s/os-xloud-adjust' % self.server_id
        wanted = self.minimum[0] + 1

        def send(i):
            t0 = time.monotonic()
            if i == 3:
                resp = clients[i].nova('GET', '/servers/detail')
            else:
                body = {'current_vcpus': wanted}
                if i == 1:
                    body['dry_run'] = True
                resp = clients[i].nova('POST', path, json=body)
            answers[i] = (resp.status_code, time.monotonic() - t0, resp)

        os.kill(compute.popen.pid, signal.SIGSTOP)
        try:
            # the first adjust alone, so that it is the one accepted
            send(0)
            threads = [threading.Thread(target=send, args=(i,))
                       for i in (1, 2, 3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            statuses = [a[0] for a in answers]
            # accepted and cast; the dry run fits; the second adjust finds
            # the first one's task; the listing is served
            self.assertEqual([202, 200, 409, 200], statuses, [
                a[2].text[:300] for a in answers])
            self.assertIn('task in progress', answers[2][2].text)
            for status, elapsed, resp in answers:
                self.assertLess(elapsed, 5.0, (status, resp.text[:200]))
            request_id = answers[0][2].headers['x-openstack-request-id']
            # taken and claimed; the compute has not begun
            got, held, task = self._state()
            self.assertEqual(before[0], got)
            self.assertEqual(wanted, held[0])
            self.assertIsNotNone(task)
            # RabbitMQ fails over: the cast is lost with the queue
            rabbit = self.sb.kill_and_restart('rabbitmq')
            self.sb.wait_for(rabbit, self.sb.port_open(
                self.sb.ports['amqp']), 'AMQP port', timeout=120)
        finally:
            os.kill(compute.popen.pid, signal.SIGCONT)
        thawed = time.monotonic()
        act = self.cloud.wait_action(self.server_id, request_id,
                                     timeout=ENDED_WITHIN, poll=1.0)
        ended = time.monotonic() - thawed
        [event] = act['events']
        self.assertEqual('Error', event['result'], event)
        self.assertIn('did not begin within %d s' % TIMEOUT,
                      event.get('traceback') or '')
        got, held, task = self._state()
        self.assertEqual(before, (got, held, task))
        print('\nlost cast: answers %s; ended %.0f s after the thaw' % (
            ', '.join('%d %.0f ms' % (a[0], a[1] * 1000) for a in answers),
            ended))
        # the compute took RabbitMQ back: the next adjust works
        req = self.cloud.adjust(self.server_id, vcpus=wanted)
        act = self.cloud.wait_action(self.server_id, req, timeout=120)
        self.assertEqual(['Success'], [e['result'] for e in act['events']])
        self.assertEqual(((wanted, before[0][1]), (wanted, before[1][1]),
                          None), self._state())
