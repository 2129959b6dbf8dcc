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

"""A hostile guest contained VISIBLY, through the product (``tox -e
sandbox-qemu``).

Two servers of the qemu demo's minimum flavor (1024 MiB, placement holds
512), booted from the guest image with ``xloud_mode=`` / ``xloud_fill=`` on
its kernel command line (``tools/xloud_guest_image.py``):

- the HOSTILE guest never loads its balloon driver and fills its memory:
  the host's OOM killer ends its QEMU at its memory cgroup limit, and Nova
  must show the server SHUTOFF with an ``xloud_memory_limit`` instance
  action whose event says it exceeded its memory limit of N MiB; the time
  from the kill (its QEMU gone, seen from /proc) to Nova's SHUTOFF is
  printed, never asserted;
- the HONEST guest loads its balloon and fills its memory: it stays ACTIVE
  and no such action appears.

The waits are condition waits with a generous bound (TCG on a loaded
2-core machine is slow), not time assertions.
"""

import os
import time
import unittest

from sandbox import client as sandbox_client
from sandbox import demo
from sandbox import qemu_hypervisor
from sandbox.tests import qemu_base
from sandbox import xloud_sandbox

KILL_TIMEOUT = 600
FILL_TIMEOUT = 600
ACTION = 'xloud_memory_limit'


def _memory_actions(cloud, server_id):
    found = []
    for act in cloud.actions(server_id):
        if act['action'] == ACTION:
            found.append(cloud.wait_action(server_id, act['request_id']))
    return found


def run(sb, res):
    prof = demo.PROFILES['qemu']
    cloud = sandbox_client.Cloud(sb)
    flavor = cloud.create_flavor('xloud.hostile', extra_specs=prof.minimum,
                                 **prof.flavor)
    root = sb.hyper.upload_images(cloud)

    def image(mode):
        return cloud.upload_image(
            'xloud-guest-root-%s' % mode, b'\0' * qemu_hypervisor.
            ROOT_DISK_BYTES,
            kernel_id=root['kernel_id'], ramdisk_id=root['ramdisk_id'],
            os_command_line='%s xloud_mode=%s xloud_fill=1' % (
                qemu_hypervisor.GUEST_CMDLINE, mode))

    res['limit_mb'] = prof.min[1] + qemu_base.MEMORY_OVERHEAD_MB

    # -- the hostile guest
    server = qemu_base.boot(cloud, image('noballoon'), flavor,
                            'xloud-hostile')
    sid = server['id']
    pid = qemu_base.qemu_pid(sid)
    t_boot = time.monotonic()
    t_kill = t_state = None
    deadline = t_boot + KILL_TIMEOUT
    while time.monotonic() < deadline:
        gone = pid is None or not os.path.exists('/proc/%d' % pid)
        if t_kill is None and gone:
            t_kill = time.monotonic()
        srv = cloud.server(sid)
        if srv['status'] == 'SHUTOFF':
            t_state = time.monotonic()
            break
        time.sleep(0.1)
    res['hostile_server'] = cloud.server(sid)
    res['hostile_actions'] = _memory_actions(cloud, sid)
    # a SHUTOFF server has no console in the API: the driver's log file
    with open(sb.hyper.console_log(sb, sid), errors='replace') as f:
        res['hostile_console'] = f.read()[-3000:]
    res['fill_to_kill_s'] = None if t_kill is None else t_kill - t_boot
    res['kill_to_shutoff_s'] = (None if None in (t_kill, t_state)
                                else t_state - t_kill)

    # -- the honest guest
    server = qemu_base.boot(cloud, image('cooperative'), flavor,
                            'xloud-honest')
    hid = server['id']
    deadline = time.monotonic() + FILL_TIMEOUT
    out = ''
    while time.monotonic() < deadline:
        out = cloud.console_output(hid, length=60)
        if 'fill done' in out or cloud.server(hid)['status'] != 'ACTIVE':
            break
        time.sleep(1)
    res['honest_console'] = out
    res['honest_server'] = cloud.server(hid)
    res['honest_actions'] = _memory_actions(cloud, hid)
    return res


class HostileGuestTest(qemu_base.QemuSandboxTest):

    RUN_DIR = os.path.join(xloud_sandbox.REPO, 'build',
                           'sandbox-test-hostile')
    WHAT = 'the hostile guest run'

    @classmethod
    def scenario(cls, sb, res):
        run(sb, res)
        print('\nhostile guest (no balloon driver, fills its memory): '
              'killed %s s after ACTIVE; Nova showed SHUTOFF %s s after the '
              'kill (its QEMU gone from /proc)' % (
                  '%.1f' % res['fill_to_kill_s']
                  if res.get('fill_to_kill_s') is not None else '-',
                  '%.2f' % res['kill_to_shutoff_s']
                  if res.get('kill_to_shutoff_s') is not None else '-'))

    def test_hostile_guest_is_shut_off(self):
        srv = self.res['hostile_server']
        self.assertEqual('SHUTOFF', srv['status'],
                         self.res['hostile_console'])
        self.assertEqual(4, srv['OS-EXT-STS:power_state'])   # SHUTDOWN
        self.assertIsNotNone(self.res['kill_to_shutoff_s'])

    def test_hostile_guest_says_why(self):
        acts = self.res['hostile_actions']
        self.assertEqual(1, len(acts), acts)
        event = acts[0]['events'][0]
        self.assertEqual(('compute_xloud_memory_limit', 'Error'),
                         (event['event'], event['result']))
        self.assertIn('exceeded its memory limit of %d MiB' %
                      self.res['limit_mb'], event['details'])
        # one ERROR line for the operator, naming the instance and limit
        said = 'exceeded its memory limit of %d MiB' % self.res['limit_mb']
        sid = self.res['hostile_server']['id']
        lines = [line for line in self.res['compute_log'].splitlines()
                 if 'ERROR' in line and said in line and sid in line]
        self.assertEqual(1, len(lines))

    def test_lifecycle_events_reach_the_compute(self):
        log = self.res['compute_log']
        self.assertNotIn('could not initialize domain event timer', log)
        self.assertIn('VM Stopped (Lifecycle Event)', log)

    def test_honest_guest_filling_its_memory_lives(self):
        self.assertIn('fill done', self.res['honest_console'])
        self.assertEqual('ACTIVE', self.res['honest_server']['status'])
        self.assertEqual([], self.res['honest_actions'])


if __name__ == '__main__':
    unittest.main()
