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

"""tools/xloud_libvirtd.py as the all-in-one demo will use it: its CLI.

``start --dir D`` must print the URI of a libvirtd that answers and keep
it running after the CLI exits; ``stop --dir D`` (another process) must
leave no process of its namespace, no pid file, and no mount on the host.
"""

import os
import subprocess
import sys
import time
import unittest

import xloud_support as support

TOOL = os.path.join(support.REPO, 'tools', 'xloud_libvirtd.py')


class LibvirtdCLITest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.libvirtd = support.tool('xloud_libvirtd')
        ok, why = cls.libvirtd.available()
        if not ok and (os.geteuid() != 0 or 'unshare' in why):
            sys.__stdout__.write('SKIP libvirtd CLI: %s\n' % why)
            raise unittest.SkipTest(why)
        cls.libvirtd.ensure_packages()

    def setUp(self):
        self.dir = os.path.join(support.WORK, 'libvirtd-cli')
        self.daemon = self.libvirtd.PrivateLibvirtd(self.dir)
        # whatever happens below, nothing of ours keeps running
        self.addCleanup(self.daemon.stop)

    def _cli(self, *args):
        return subprocess.run([sys.executable, TOOL] + list(args),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, check=True)

    def test_start_then_stop_from_other_processes(self):
        started = time.monotonic()
        uri = self._cli('start', '--dir', self.dir).stdout.strip()
        support.figure('CLI start -> URI printed (libvirtd answers)',
                       time.monotonic() - started)
        self.assertEqual(self.daemon.uri, uri)
        pid = self.daemon.running_pid()
        self.assertIsNotNone(pid, 'no libvirtd running after the CLI exit')
        ns = os.readlink('/proc/%d/ns/mnt' % pid)
        self.assertNotEqual(os.readlink('/proc/self/ns/mnt'), ns)
        version = subprocess.run(['virsh', '-c', uri, 'version'],
                                 stdout=subprocess.PIPE, text=True,
                                 check=True).stdout
        self.assertIn('QEMU', version)
        with open('/proc/self/mountinfo') as f:
            self.assertNotIn(self.daemon.base_dir, f.read())

        self._cli('stop', '--dir', self.dir)
        self.assertIsNone(self.daemon.running_pid())
        self.assertFalse(os.path.exists(self.daemon.pid_file))
        left = [p for p in os.listdir('/proc') if p.isdigit() and
                _ns(int(p)) == ns and _running(int(p))]
        self.assertEqual([], left)

    def test_start_refuses_a_second_daemon_on_the_same_dir(self):
        self.daemon.start()
        other = self.libvirtd.PrivateLibvirtd(self.dir)
        self.assertRaises(RuntimeError, other.start)
        self.assertIsNotNone(self.daemon.running_pid())


def _ns(pid):
    try:
        return os.readlink('/proc/%d/ns/mnt' % pid)
    except OSError:
        return None


def _running(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False
