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

"""What every test of the sandbox on the REAL hypervisor shares.

A class runs one scenario in its own sandbox (``run_dir``) in setUpClass,
keeps what it measured in ``cls.res``, and its tests check that. The
scenario's error fails every test with the step it stopped at; the
processes a sandbox must not leave behind are collected for
``test_nothing_left_running``. None of them skips: the environment
exists to run a real guest, and a machine that cannot is a failure worth
seeing.
"""

import time
import unittest

from sandbox import demo
from sandbox import qemu_hypervisor
from sandbox.tests import test_demo
from sandbox import xloud_sandbox

# [xloud] memory_overhead_mb: the sandbox keeps the default
MEMORY_OVERHEAD_MB = 128


def processes_mentioning(text):
    """Pids whose command line has ``text`` (QEMU's has the instance
    folder, under the run dir): what a stop must not leave.
    """
    return test_demo.pids_where('cmdline', lambda cmd: text.encode() in cmd)


def qemu_pid(server_id):
    """The pid of the QEMU process running the server, or None."""
    for pid in processes_mentioning('instances/%s/' % server_id):
        try:
            with open('/proc/%d/comm' % pid) as f:
                if f.read().startswith('qemu'):
                    return pid
        except OSError:
            pass
    return None


def boot(cloud, image, flavor, name):
    """A server booted and ACTIVE (a guest kernel under TCG is slow)."""
    server = cloud.boot(name, image['id'], flavor['id'])
    return cloud.wait_server(server['id'], 'ACTIVE',
                             timeout=demo.GUEST_BOOT_TIMEOUT)


class QemuSandboxTest(unittest.TestCase):
    """Runs ``scenario(sb, res)`` once in a qemu sandbox at ``RUN_DIR``."""

    RUN_DIR = None
    # what a failure says it was running
    WHAT = 'the qemu scenario'
    # nova-computes of the sandbox, each with its private libvirtd
    COMPUTES = 1
    # a machine that cannot run QEMU: skip (with the reason) rather than
    # fail; the classes above say why they never skip
    SKIP_WITHOUT_QEMU = False

    @classmethod
    def scenario(cls, sb, res):
        raise NotImplementedError()

    @classmethod
    def setUpClass(cls):
        cls.res = {}
        cls.error = None
        cls.left = cls.qemu_left = []
        cls.libvirtd_left = None
        demo.Step.current = None
        t0 = time.monotonic()
        ok, why = qemu_hypervisor.probe()
        if not ok and cls.SKIP_WITHOUT_QEMU:
            raise unittest.SkipTest('this machine cannot run a real QEMU '
                                    'guest: %s' % why)
        if not ok:
            cls.error = RuntimeError('no real QEMU here: %s' % why)
            return
        hyper = xloud_sandbox.hypervisor('qemu')
        sb = xloud_sandbox.Sandbox(cls.RUN_DIR, hyper,
                                   computes=cls.COMPUTES)
        try:
            hyper.prepare()
            with sb:
                try:
                    cls.scenario(sb, cls.res)
                finally:
                    # every compute's log, the first compute's first
                    logs = []
                    for c in sb.computes:
                        with open(c.log_path, errors='replace') as f:
                            logs.append(f.read())
                    cls.res['compute_log'] = ''.join(logs)
        except Exception as e:
            cls.error = e
        cls.elapsed = time.monotonic() - t0
        cls.left = test_demo.leftovers(sb.run_dir)
        cls.qemu_left = processes_mentioning(cls.RUN_DIR + '/')
        # the pid of any compute's libvirtd still running (None: none)
        cls.libvirtd_left = None
        for c in sb.computes:
            if c.hyper.daemon and c.hyper.daemon.running_pid():
                cls.libvirtd_left = c.hyper.daemon.running_pid()
        print('\n%s: start-up %s; whole run %.1f s' % (
            cls.WHAT, ', '.join('%s %.1f s' % kv
                                for kv in sb.timings.items()), cls.elapsed))

    def setUp(self):
        if self.error is not None:
            step = demo.Step.current
            self.fail('%s failed%s: %s' % (
                self.WHAT, ' at step %r' % step if step else '',
                self.error))

    def test_nothing_left_running(self):
        self.assertEqual([], self.left)
        self.assertEqual([], self.qemu_left)
        self.assertIsNone(self.libvirtd_left)
