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

"""The demo end to end, as CI runs it (``tox -e sandbox``).

Starts the real sandbox (hypervisor: Nova's fake libvirt, a stand-in),
runs the demo's steps, and checks what a user would see: the domain XML's
current values before and after, the allocation and the provider usage
before and after the adjust, GET os-xloud-adjust, the action's events; and
that a failing start stops with exit 1, names its step and leaves no
process behind.
"""

import contextlib
import io
import os
import time
import unittest
from unittest import mock

from sandbox import demo
from sandbox import mariadb_rabbitmq
from sandbox import processes
from sandbox import xloud_sandbox

RUN_DIR = os.path.join(xloud_sandbox.REPO, 'build', 'sandbox-test')
MIB = 1024


# The guest's facts the compute adds to an adjust's action after its own
# event (nova.compute.xloud_guest_view.events): whether the guest
# confirmed, whether the host caps its CPU time.
GUEST_EVENTS = ('compute_xloud_guest_confirmed',
                'compute_xloud_guest_unconfirmed',
                'compute_xloud_cpu_capped')


def own_events(events):
    """[(event, result)] of an adjust's action without the guest's facts
    that ended in Success: the adjust's own event, and anything else
    (an unknown event, a guest fact that failed) for the assertion to show.
    """
    return [(e['event'], e['result']) for e in events
            if not (e['event'] in GUEST_EVENTS and e['result'] == 'Success')]


def pids_where(name, matches):
    """Pids whose /proc/<pid>/<name> (bytes) ``matches``."""
    found = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit():
            continue
        try:
            with open('/proc/%s/%s' % (pid, name), 'rb') as f:
                if matches(f.read()):
                    found.append(int(pid))
        except OSError:
            pass
    return found


def leftovers(run_dir):
    marker = ('%s=%s' % (processes.MARKER_ENV, run_dir)).encode()
    return pids_where('environ', lambda env: marker in env.split(b'\0'))


class DemoTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.res = {}
        cls.error = None
        sb = xloud_sandbox.Sandbox(RUN_DIR)
        t0 = time.monotonic()
        try:
            with sb:
                cls.timings = sb.timings
                demo.run(sb, cls.res)
        except Exception as e:
            cls.error = e
        cls.elapsed = time.monotonic() - t0
        cls.left = leftovers(sb.run_dir)
        print('\nsandbox test: start-up %s; whole run %.1f s' % (
            ', '.join('%s %.1f s' % kv for kv in sb.timings.items()),
            cls.elapsed))

    def setUp(self):
        if self.error is not None:
            self.fail('the demo failed at step %r: %s' % (
                demo.Step.current, self.error))

    def test_boot_xml_has_the_minimum_as_current(self):
        # (current vCPUs, max vCPUs, currentMemory KiB, memory KiB)
        self.assertEqual((1, 4, 1024 * MIB, 4096 * MIB),
                         self.res['xml_defined'])
        self.assertEqual((1, 4, 1024 * MIB, 4096 * MIB),
                         self.res['xml_live_before'])

    def test_adjusted_xml_live_and_persistent(self):
        self.assertEqual((3, 4, 3072 * MIB, 4096 * MIB),
                         self.res['xml_live_after'])
        self.assertEqual((3, 4, 3072 * MIB, 4096 * MIB),
                         self.res['xml_config_after'])

    def test_placement_claims_current_values(self):
        self.assertEqual({'VCPU': 1, 'MEMORY_MB': 1024, 'DISK_GB': 1},
                         self.res['alloc_before'])
        self.assertEqual({'VCPU': 1, 'MEMORY_MB': 1024, 'DISK_GB': 1},
                         self.res['usage_before'])
        self.assertEqual({'VCPU': 3, 'MEMORY_MB': 3072, 'DISK_GB': 1},
                         self.res['alloc_after'])
        self.assertEqual({'VCPU': 3, 'MEMORY_MB': 3072, 'DISK_GB': 1},
                         self.res['usage_after'])

    def test_inventory_is_the_fake_host(self):
        inv = self.res['inventory']
        self.assertEqual(8, inv['VCPU']['total'])
        self.assertEqual(16384, inv['MEMORY_MB']['total'])
        self.assertEqual(1.0, inv['VCPU']['allocation_ratio'])

    def test_get_adjust(self):
        self.assertEqual({'minimum': 1, 'current': 1, 'maximum': 4},
                         self.res['get_before']['vcpus'])
        self.assertEqual({'minimum': 1024, 'current': 1024,
                          'maximum': 4096},
                         self.res['get_before']['memory_mb'])
        self.assertEqual({'minimum': 1, 'current': 3, 'maximum': 4},
                         self.res['get_after']['vcpus'])
        self.assertEqual({'minimum': 1024, 'current': 3072,
                          'maximum': 4096},
                         self.res['get_after']['memory_mb'])

    def test_action_events(self):
        self.assertEqual('xloud_adjust', self.res['action']['action'])
        self.assertEqual([('compute_xloud_adjust', 'Success')],
                         own_events(self.res['events']))

    def test_no_process_left(self):
        self.assertEqual([], self.left)


class DemoFailureTest(unittest.TestCase):
    """A step that fails: exit 1, the step named, every process gone."""

    def test_failed_start_is_loud_and_clean(self):
        def broken(sb):
            raise processes.SandboxError('rabbitmq: injected failure')
        err = io.StringIO()
        with mock.patch.object(mariadb_rabbitmq, 'start_rabbitmq',
                               broken), \
                contextlib.redirect_stderr(err), \
                contextlib.redirect_stdout(io.StringIO()):
            code = demo.main(['--run-dir', RUN_DIR + '-fail',
                              '--hypervisor', 'fake'])
        self.assertEqual(1, code)
        self.assertIn('DEMO FAILED at step: sandbox start-up (rabbitmq)',
                      err.getvalue())
        self.assertIn('injected failure', err.getvalue())
        # MariaDB was running when the failure came: it is gone.
        self.assertTrue(os.path.exists(os.path.join(
            RUN_DIR + '-fail', 'logs', 'mariadb.log')))
        self.assertEqual([], leftovers(RUN_DIR + '-fail'))


if __name__ == '__main__':
    unittest.main()
