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

"""The kernel log read by a compute that is not root, through privsep.

A guest the host killed at its memory limit is explained from the host
kernel's own record of the OOM kill (``xloud_oom.kernel_records()``:
``/dev/kmsg``). Real deployments run nova-compute as an unprivileged user,
and with ``kernel.dmesg_restrict=1`` (Debian's and Ubuntu's default) only
a process with CAP_SYSLOG (or CAP_SYS_ADMIN) may read it: the read then
goes through Nova's ``sys_admin`` privsep daemon, as every other
privileged call of the compute does.

Here: a child process starts that privsep daemon as root (oslo.privsep's
fork method; a deployment starts it with ``privsep-helper`` through sudo
and rootwrap), then drops to ``nobody`` as a compute runs; as nobody the
direct read must be refused and ``kernel_records()`` must return the
kernel's records through the daemon, the same records root reads. The
test writes a record of its own to the kernel log (``/dev/kmsg`` as root)
and looks for it on both sides.
"""

import json
import os
import subprocess
import sys
import textwrap
import time
import unittest
import uuid

import xloud_support as support

NOBODY = 65534
CLIENT = textwrap.dedent('''\
    import json, os, sys
    from oslo_privsep import priv_context
    import nova.privsep
    from nova.virt.libvirt import xloud_oom
    marker = sys.argv[1]
    # the daemon keeps root's capabilities of its context (CAP_SYS_ADMIN)
    nova.privsep.sys_admin_pctxt.start(method=priv_context.Method.FORK)
    os.setgroups([])
    os.setgid(%(uid)d)
    os.setuid(%(uid)d)
    try:
        xloud_oom._kmsg_records()
        direct = 'read'
    except PermissionError as e:
        direct = 'refused: %%s' %% e
    records = xloud_oom.kernel_records()
    print(json.dumps({
        'uid': os.getuid(), 'direct': direct, 'records': len(records),
        'marker': any(marker in text for _, text in records)}))
''' % {'uid': NOBODY})


def _restricted():
    with open('/proc/sys/kernel/dmesg_restrict') as f:
        return f.read().strip() == '1'


class KernelLogThroughPrivsepTest(unittest.TestCase):

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest('needs root: it starts a privsep daemon as root')
        if not _restricted():
            self.skipTest('kernel.dmesg_restrict is 0 here: an unprivileged '
                          'compute reads /dev/kmsg itself, privsep unused')

    def test_unprivileged_compute_reads_the_kernel_log(self):
        marker = 'xloud-kmsg-test-%s' % uuid.uuid4().hex[:12]
        with open('/dev/kmsg', 'w') as f:
            f.write('%s\n' % marker)
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, '-c', CLIENT, marker], capture_output=True,
            text=True, timeout=120,
            env=dict(os.environ, OS_NOVA_DISABLE_EVENTLET_PATCHING='True'))
        self.assertEqual(0, proc.returncode, proc.stderr[-3000:])
        seen = json.loads(proc.stdout.strip().splitlines()[-1])
        support.figure('kernel log read as nobody through privsep '
                       '(daemon start included)', time.monotonic() - started)
        support.figure('kernel records read through privsep',
                       seen['records'], '')
        self.assertEqual(NOBODY, seen['uid'])
        self.assertTrue(seen['direct'].startswith('refused'), seen)
        self.assertGreater(seen['records'], 0)
        self.assertTrue(seen['marker'], seen)
