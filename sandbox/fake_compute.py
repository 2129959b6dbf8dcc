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

"""nova-compute with Nova's libvirt driver on Nova's FAKE libvirt.

A STAND-IN for a hypervisor: this process is the real nova-compute
(``nova.cmd.compute.main``: RPC, resource tracker, placement reports,
the libvirt driver's code that builds the guest XML, our live adjust), but
the libvirt library under the driver is ``nova.tests.fixtures.libvirt``,
with the vCPU/balloon calls of ``nova.tests.fixtures.xloud_libvirt``. No
guest runs. Before ``main`` it installs what upstream's functional
``ServersTestBase`` installs for the same driver (the image backend, disk
and cgroup probes, os-brick), so the driver never touches the host.

Each domain the driver defines is written to ``<run dir>/domains/``:
``UUID.defined.xml`` is the XML Nova generated, ``UUID.live.xml`` and
``UUID.config.xml`` are that XML with the ``<vcpu current>`` and
``<currentMemory>`` the fake domain has now (live, persistent), rewritten
after every vCPU or balloon call, so the demo can show them. A
``UUID.keep-memory`` file there makes that guest keep its memory when the
balloon asks for it (``KeepMemoryFiles``).

Usage: python fake_compute.py --run-dir DIR --hostname NAME [--pcpus N]
[--memory-mib N]
[--disk-gb N] -- NOVA-COMPUTE-ARGS...
"""

import argparse
import io
import os
import re
import sys

# nova.cmd chooses the compute's concurrency on import (eventlet's monkey
# patching on Nova 29 and 33, native threads on 34, which then forbids
# importing eventlet): first, like nova-compute.
from nova.cmd import compute as compute_cmd
import fixtures  # noqa: H306

# nova.tests.functional (which the fixtures import) patches with eventlet
# unless told not to: the fixtures follow the compute's choice
if 'eventlet' not in sys.modules:
    os.environ['OS_NOVA_DISABLE_EVENTLET_PATCHING'] = 'true'
from nova.tests import fixtures as nova_fixtures  # noqa: E402
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.fixtures import xloud_libvirt

LIVE = xloud_libvirt.LIVE
CONFIG = xloud_libvirt.CONFIG


def render(xml, vcpus, kib):
    """The domain XML with these current values, the way libvirt shows
    them: ``current`` is omitted when it is the maximum. Only those two
    elements change (text substitution, so the rest of the XML, its
    namespace prefixes included, stays byte for byte what Nova wrote).
    """
    vcpu = re.search(r'<vcpu\b([^>]*)>\s*(\d+)\s*</vcpu>', xml)
    attrs = re.sub(r'\s+current=([\'"])\d+\1', '', vcpu.group(1))
    if int(vcpu.group(2)) > vcpus:
        attrs += ' current="%d"' % vcpus
    xml = (xml[:vcpu.start()] +
           '<vcpu%s>%s</vcpu>' % (attrs, vcpu.group(2)) + xml[vcpu.end():])
    cur = re.search(r'<currentMemory\b([^>]*)>\s*\d+\s*</currentMemory>',
                    xml)
    if cur:
        return (xml[:cur.start()] + '<currentMemory%s>%d</currentMemory>' %
                (cur.group(1), kib) + xml[cur.end():])
    mem = re.search(r'<memory\b[^>]*>\s*\d+\s*</memory>', xml)
    return (xml[:mem.end()] + "\n  <currentMemory unit='KiB'>%d"
            "</currentMemory>" % kib + xml[mem.end():])


class KeepMemoryFiles(object):
    """The UUIDs of guests that never give memory back (a guest without a
    balloon driver): those with a ``UUID.keep-memory`` file in the folder.
    A test creates the file to play such a guest, and removes it.
    """

    def __init__(self, folder):
        self.folder = folder

    def __contains__(self, uuid):
        return os.path.exists(os.path.join(self.folder,
                                           '%s.keep-memory' % uuid))


class RecordingLiveGuest(xloud_libvirt.FakeLiveGuest):
    """The shared stand-in (each domain starts from the current values of
    its XML, as with libvirt), writing its XML views to a folder.
    """

    def __init__(self, folder):
        super(RecordingLiveGuest, self).__init__()
        self.folder = folder
        self.keep_memory = KeepMemoryFiles(folder)

    def changed(self, dom):
        uuid = dom._def['uuid']
        for flags, name in ((LIVE, 'live'), (CONFIG, 'config')):
            s = dom._xloud[flags]
            self._write('%s.%s.xml' % (uuid, name),
                        render(dom._xloud_xml, s['vcpus'], s['kib']))

    def _write(self, name, text):
        path = os.path.join(self.folder, name)
        with open(path + '.tmp', 'w') as f:
            f.write(text)
        os.replace(path + '.tmp', path)

    def _setUp(self):
        super(RecordingLiveGuest, self)._setUp()
        os.makedirs(self.folder, exist_ok=True)
        guest = self
        orig_define = fakelibvirt.Connection.defineXML

        def define(conn, xml):
            dom = orig_define(conn, xml)
            guest._write('%s.defined.xml' % dom._def['uuid'], xml)
            dom.vcpusFlags(LIVE)        # creates the state from the XML
            guest.changed(dom)
            return dom

        self.useFixture(fixtures.MockPatchObject(
            fakelibvirt.Connection, 'defineXML', define))


class FakeLibvirtHost(fixtures.Fixture):
    """What the functional ServersTestBase mocks around the libvirt driver,
    with one fake host of the given size.
    """

    def __init__(self, run_dir, hostname, pcpus, memory_mib, disk_gb):
        super(FakeLibvirtHost, self).__init__()
        self.run_dir = run_dir
        self.hostname = hostname
        # The fake's getInfo() returns kB_mem where libvirt's returns the
        # host's memory in MiB, which is what the driver reports to
        # placement: give it MiB.
        self.host_info = fakelibvirt.HostInfo(
            cpu_nodes=1, cpu_sockets=1, cpu_cores=pcpus, cpu_threads=1,
            kB_mem=memory_mib)
        self.pcpus = pcpus
        self.disk_gb = disk_gb

    def _setUp(self):
        self.useFixture(nova_fixtures.LibvirtImageBackendFixture())
        self.useFixture(nova_fixtures.CGroupsFixture())
        self.useFixture(nova_fixtures.LibvirtFixture())
        self.useFixture(nova_fixtures.OSBrickFixture())
        self.useFixture(RecordingLiveGuest(
            os.path.join(self.run_dir, 'domains')))
        self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.LibvirtDriver._create_image',
            return_value=(False, False)))
        self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.LibvirtDriver._get_local_gb_info',
            return_value={'total': self.disk_gb, 'used': 0,
                          'free': self.disk_gb}))
        self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.driver.libvirt_utils.is_valid_hostname',
            return_value=True))
        # The image backend is mocked, so no instance folder is made for
        # the console log; as upstream's functional base, no file opened.
        self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.driver.libvirt_utils.file_open',
            side_effect=lambda *a, **k: io.BytesIO(b'')))
        self.useFixture(fixtures.MockPatch(
            'nova.privsep.utils.supports_direct_io', return_value=True))
        self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.host.Host.get_online_cpus',
            return_value=set(range(self.pcpus))))
        connection = fakelibvirt.Connection(
            'qemu:///system', version=fakelibvirt.FAKE_LIBVIRT_VERSION,
            hv_version=fakelibvirt.FAKE_QEMU_VERSION,
            host_info=self.host_info, hostname=self.hostname)
        self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.host.Host.get_connection',
            return_value=connection))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--run-dir', required=True)
    parser.add_argument('--hostname', required=True)
    parser.add_argument('--pcpus', type=int, default=8)
    parser.add_argument('--memory-mib', type=int, default=16384)
    parser.add_argument('--disk-gb', type=int, default=100)
    args, rest = parser.parse_known_args()
    if rest and rest[0] == '--':
        rest = rest[1:]
    print('fake_compute: STAND-IN hypervisor: Nova\'s fake libvirt, a host '
          'of %d pCPUs / %d MiB' % (args.pcpus, args.memory_mib),
          file=sys.stderr, flush=True)
    host = FakeLibvirtHost(args.run_dir, args.hostname, args.pcpus,
                           args.memory_mib,
                           args.disk_gb)
    host.setUp()
    try:
        sys.argv = ['nova-compute'] + rest
        compute_cmd.main()
    finally:
        host.cleanUp()


if __name__ == '__main__':
    main()
