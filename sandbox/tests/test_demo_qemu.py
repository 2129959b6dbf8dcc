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

"""The demo on the REAL hypervisor (``tox -e sandbox-qemu``).

The same chain as test_demo.py, but nova-compute drives a private libvirtd
running QEMU with TCG and a real guest kernel; besides libvirt's XML and
placement it checks what the guest itself printed on its serial console
(read through os-getConsoleOutput) before and after the adjust. It does
not skip (``qemu_base``).
"""

import os
import unittest

from sandbox import demo
from sandbox.tests import qemu_base
from sandbox.tests import test_demo
from sandbox import xloud_sandbox

MIB = 1024


class QemuDemoTest(qemu_base.QemuSandboxTest):

    RUN_DIR = os.path.join(xloud_sandbox.REPO, 'build', 'sandbox-test-qemu')
    WHAT = 'the qemu demo'

    @classmethod
    def scenario(cls, sb, res):
        demo.run(sb, res)

    def test_boot_xml_has_the_minimum_as_current(self):
        # libvirt's own XML: (current vCPUs, max, currentMemory, memory)
        self.assertEqual((1, 4, 512 * MIB, 1024 * MIB),
                         self.res['xml_defined'])
        self.assertEqual((1, 4, 512 * MIB, 1024 * MIB),
                         self.res['xml_live_before'])

    def test_adjusted_xml_live_and_persistent(self):
        vcpus, ram = self.res['target']
        self.assertEqual((vcpus, 4, ram * MIB, 1024 * MIB),
                         self.res['xml_live_after'])
        self.assertEqual((vcpus, 4, ram * MIB, 1024 * MIB),
                         self.res['xml_config_after'])

    def test_the_guest_saw_it(self):
        # (cpus_online, MemTotal kB, uptime) from the guest's own console
        before, after = self.res['guest_before'], self.res['guest_after']
        self.assertEqual(1, before[0])
        self.assertEqual(self.res['target'][0], after[0])
        grown = after[1] - before[1]
        self.assertLessEqual(abs(grown - (self.res['target'][1] - 512) *
                                 MIB), demo.BALLOON_SLACK_KIB)

    def test_placement_claims_current_values(self):
        vcpus, ram = self.res['target']
        self.assertEqual({'VCPU': 1, 'MEMORY_MB': 512, 'DISK_GB': 1},
                         self.res['alloc_before'])
        self.assertEqual({'VCPU': vcpus, 'MEMORY_MB': ram, 'DISK_GB': 1},
                         self.res['alloc_after'])
        self.assertEqual(self.res['alloc_after'], self.res['usage_after'])

    def test_action_events(self):
        self.assertEqual([('compute_xloud_adjust', 'Success')],
                         test_demo.own_events(self.res['events']))


if __name__ == '__main__':
    unittest.main()
