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

The API never waits on a compute (issue 23). With the server's
nova-compute frozen (SIGSTOP, as a hung host), an adjust, then a dry run,
another adjust and a GET of every server answer at once; the accepted
adjust waits for the compute (RabbitMQ has handed it over), and the
thawed compute does it.

A cast the broker loses (here: the frozen compute's connection closed by
the broker and a RabbitMQ policy that drops every message of its queue,
``max-length`` 0, as a broker that fails over with it unreplicated)
leaves the server in the adjust's task state until
``[xloud] adjust_timeout`` (20 s here): then the compute's periodic task
(every 60 s) ends it in Error, releases the task state, and GET,
placement and the guest agree again. RabbitMQ is then restarted (SIGKILL
and start): the compute reconnects and the next adjust works.

The fake hypervisor (Nova's fake libvirt, a stand-in) under the real
nova-compute, RabbitMQ, MariaDB, placement and keystone.
"""

import os
import signal
import subprocess
import threading
import time
import unittest

from sandbox import client as sandbox_client
from sandbox import configs
from sandbox import demo
from sandbox import mariadb_rabbitmq
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

    # ---- helpers
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

    def _rabbitmqctl(self, *args):
        return subprocess.run(
            [os.path.join(mariadb_rabbitmq.RABBIT_BIN, 'rabbitmqctl')] +
            list(args), env=self.sb.rabbit_env, check=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            universal_newlines=True, timeout=120).stdout

    def _events(self, request_id, timeout):
        return self.cloud.wait_action(self.server_id, request_id,
                                      timeout=timeout, poll=0.5)['events']

    # ---- tests
    def test_1_hung_compute(self):
        before = self._state()
        self.assertIsNone(before[2])
        compute = self._compute()
        clients = [sandbox_client.Cloud(self.sb) for _ in range(4)]
        answers = [None] * 4
        path = '/servers/%s/os-xloud-adjust' % self.server_id
        wanted = before[0][0] + 1

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
            # accepted and cast; the dry run and the second adjust find the
            # first one's task (the same checks as an adjust); the listing
            # is served
            self.assertEqual([202, 409, 409, 200], [a[0] for a in answers],
                             [a[2].text[:300] for a in answers])
            for i in (1, 2):
                self.assertIn('task in progress', answers[i][2].text)
            for status, elapsed, resp in answers:
                self.assertLess(elapsed, 5.0, (status, resp.text[:200]))
            # taken and claimed; the compute has not begun
            got, held, task = self._state()
            self.assertEqual(before[0], got)
            self.assertEqual(wanted, held[0])
            self.assertIsNotNone(task)
        finally:
            os.kill(compute.popen.pid, signal.SIGCONT)
        request_id = answers[0][2].headers['x-openstack-request-id']
        thawed = time.monotonic()
        [event] = self._events(request_id, 120)
        caught_up = time.monotonic() - thawed
        self.assertEqual('Success', event['result'], event)
        self.assertEqual(((wanted, before[0][1]), (wanted, before[1][1]),
                          None), self._state())
        print('\nhung compute: answers %s; done %.1f s after the thaw' % (
            ', '.join('%d %.0f ms' % (a[0], a[1] * 1000) for a in answers),
            caught_up))

    def test_2_lost_cast_then_rabbitmq_restart(self):
        before = self._state()
        queue = 'compute.%s' % configs.HOSTNAME
        self._rabbitmqctl('set_policy', '--apply-to', 'queues',
                          'xloud-drop', '^%s$' % queue.replace('.', '\\.'),
                          '{"max-length": 0}')
        try:
            # the policy is in force once the queue says so
            deadline = time.monotonic() + 30
            while 'xloud-drop' not in self._rabbitmqctl(
                    'list_queues', 'name', 'policy'):
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.5)
            # The compute, frozen, loses its connection: the broker then
            # has no consumer for its queue (a live consumer would be
            # handed the message before any queue limit applies)
            compute = self._compute()
            os.kill(compute.popen.pid, signal.SIGSTOP)
            try:
                self._rabbitmqctl('close_all_connections', 'xloud test')
                wanted = before[0][0] + 1
                request_id = self.cloud.adjust(self.server_id, vcpus=wanted)
                sent = time.monotonic()
                got, held, task = self._state()
                self.assertEqual((before[0], wanted), (got, held[0]))
                self.assertIsNotNone(task)
            finally:
                os.kill(compute.popen.pid, signal.SIGCONT)
        finally:
            self._rabbitmqctl('clear_policy', 'xloud-drop')
        [event] = self._events(request_id, ENDED_WITHIN)
        ended = time.monotonic() - sent
        self.assertEqual('Error', event['result'], event)
        self.assertIn('did not begin within %d s' % TIMEOUT,
                      event.get('traceback') or '')
        self.assertEqual(before, self._state())
        # RabbitMQ restarts (SIGKILL, start): the compute reconnects
        rabbit = self.sb.kill_and_restart('rabbitmq')
        self.sb.wait_for(rabbit, self.sb.port_open(self.sb.ports['amqp']),
                         'AMQP port', timeout=120)
        t0 = time.monotonic()
        while True:
            req = self.cloud.adjust(self.server_id, vcpus=wanted)
            try:
                events = self._events(req, 30)
                break
            except sandbox_client.StepFailed:
                # sent before the compute reconnected: lost with the old
                # queue, ended by the timeout; try again
                self.assertLess(time.monotonic() - t0, 300)
                self._events(req, ENDED_WITHIN)
        self.assertEqual(['Success'], [e['result'] for e in events])
        self.assertEqual(((wanted, before[0][1]), (wanted, before[1][1]),
                          None), self._state())
        print('\nlost cast: ended %.0f s after the adjust; after the '
              'RabbitMQ restart the next adjust worked %.0f s later' % (
                  ended, time.monotonic() - t0))
