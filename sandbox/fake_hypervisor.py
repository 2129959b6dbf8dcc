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

"""The sandbox's FAKE hypervisor mode (``--hypervisor fake``): a stand-in.

The mode, as the Sandbox sees it: nova-compute's own config, its command
and what to say about it. The process that command runs is
fake_compute.py (the real nova-compute's main on Nova's fake libvirt);
this module only names it. Beside qemu_hypervisor.py, the real mode with
the same interface; xloud_sandbox.py lists both in ``HYPERVISORS``.

With several computes each runs its own fake_compute.py (its own fake
libvirt, host name and ``domains/<host>/`` folder); the fake libvirt of
one process cannot hand a guest to another's, so they get the STAND-IN
moves of fake_compute.py (``--moves-dir``): a live migration's running
guest passes through ``<run dir>/moves/``, a cold move copies no disk.
"""

import os
import sys

from sandbox import processes

HERE = os.path.dirname(os.path.abspath(__file__))


class FakeHypervisor(object):
    """Nova's libvirt driver on Nova's FAKE libvirt: a stand-in.

    The compute process is real nova-compute (fake_compute.py runs its
    main); no guest runs. A mode gives nova-compute's own config, its
    command and what to say about it, so another one (real libvirtd + QEMU
    TCG) plugs in next to it.
    """

    name = 'fake'
    stand_in = True
    cpu_allocation_ratio = 1.0
    description = ("STAND-IN hypervisor: Nova's libvirt driver on Nova's "
                   "fake libvirt (nova.tests.fixtures.libvirt, with the "
                   "vCPU/balloon calls of nova.tests.fixtures.xloud_libvirt)"
                   "; no guest runs, the domain XML is what Nova generated")

    def __init__(self, pcpus=8, memory_mib=16384, disk_gb=100):
        self.pcpus = pcpus
        self.memory_mib = memory_mib
        self.disk_gb = disk_gb
        # the sandbox's Compute this hypervisor is under (it sets it)
        self.compute = None

    def for_compute(self, index):
        """The same fake host for another compute of the sandbox."""
        return FakeHypervisor(self.pcpus, self.memory_mib, self.disk_gb)

    @property
    def short_description(self):
        return ("Nova's fake libvirt in that process (STAND-IN), a host of "
                "%d pCPUs / %d MiB, its domain files in %s" % (
                    self.pcpus, self.memory_mib, os.path.relpath(
                        self.domains_dir(self.compute.sb))))

    def domains_dir(self, sandbox):
        """Where the compute writes its domains' XML: ``domains/``, or
        ``domains/<host>/`` with several computes.
        """
        if sandbox.multi:
            return sandbox.path('domains', self.compute.host)
        return sandbox.path('domains')

    def prepare(self):
        """What the mode needs before a sandbox starts (none here)."""

    def start(self, sandbox):
        """Start what the hypervisor needs before nova-compute."""

    def stop(self):
        """Stop what start() started."""

    def nova_conf(self, sandbox):
        # kvm: the domain type the fake connection's capabilities offer
        # (and one our live adjust supports); nothing here runs KVM.
        return {'DEFAULT': {'compute_driver': 'libvirt.LibvirtDriver'},
                'libvirt': {'virt_type': 'kvm'}}

    def command(self, sandbox, config_files):
        cmd = [sys.executable, os.path.join(HERE, 'fake_compute.py'),
               '--run-dir', sandbox.run_dir,
               '--hostname', self.compute.host,
               '--domains-dir', self.domains_dir(sandbox),
               '--pcpus', str(self.pcpus),
               '--memory-mib', str(self.memory_mib),
               '--disk-gb', str(self.disk_gb)]
        if sandbox.multi:
            # the stand-in for moving a guest between hosts
            cmd += ['--moves-dir', sandbox.path('moves')]
        cmd.append('--')
        for path in config_files:
            cmd += ['--config-file', path]
        return cmd

    def domain_xml(self, sandbox, server_id, kind):
        """(where, XML) of a domain: the files fake_compute.py writes
        (``defined`` is what Nova generated; ``live`` and ``config`` carry
        the fake domain's current values).
        """
        path = os.path.join(self.domains_dir(sandbox),
                            '%s.%s.xml' % (server_id, kind))
        if not os.path.exists(path):
            raise processes.SandboxError('no domain XML at %s' % path)
        with open(path) as f:
            return os.path.relpath(path), f.read()
