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

With ``--moves-dir`` (a sandbox of several computes, each its own
fake_compute.py) it also installs ``StandInMoves``: the STAND-IN for what
moves a guest between two hosts, which one process's fake libvirt cannot
do with another's (below).

Usage: python fake_compute.py --run-dir DIR --hostname NAME
[--domains-dir DIR] [--moves-dir DIR] [--pcpus N] [--memory-mib N]
[--disk-gb N] -- NOVA-COMPUTE-ARGS...
"""

import argparse
import io
import json
import os
import re
import sys
import urllib.parse

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
try:
    from nova.tests.fixtures import xloud_libvirt
except ImportError:
    # upstream Nova without our overlay (a compute not yet upgraded,
    # xloud_sandbox.Compute.pristine): Nova's fake libvirt as upstream's
    # functional tests run it, nothing of ours
    xloud_libvirt = None

LIVE = fakelibvirt.VIR_DOMAIN_AFFECT_LIVE
CONFIG = fakelibvirt.VIR_DOMAIN_AFFECT_CONFIG


def render(xml, vcpus, kib, cap=None):
    """The domain XML with these current values, the way libvirt shows
    them: ``current`` is omitted when it is the maximum. Only those
    elements change (text substitution, so the rest of the XML, its
    namespace prefixes included, stays byte for byte what Nova wrote).
    ``cap``: the live CPU cap (global_period, global_quota), which real
    libvirt shows in ``<cputune>`` of the live XML.
    """
    if cap and cap[1] > 0:
        tune = ('<global_period>%d</global_period><global_quota>%d'
                '</global_quota>' % cap)
        if '</cputune>' in xml:
            xml = xml.replace('</cputune>', tune + '</cputune>', 1)
        else:
            end = xml.index('</vcpu>') + len('</vcpu>')
            xml = xml[:end] + '\n  <cputune>%s</cputune>' % tune + xml[end:]
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


class RecordingLiveGuest(xloud_libvirt.FakeLiveGuest if xloud_libvirt
                         else fixtures.Fixture):
    """The shared stand-in (each domain starts from the current values of
    its XML, as with libvirt), writing its XML views to a folder.
    """

    def __init__(self, folder):
        super(RecordingLiveGuest, self).__init__()
        self.folder = folder
        self.keep_memory = KeepMemoryFiles(folder)

    def changed(self, dom):
        uuid = dom._def['uuid']
        sched = dom._xloud['sched']
        cap = (sched['global_period'], sched['global_quota'])
        for flags, name in ((LIVE, 'live'), (CONFIG, 'config')):
            s = dom._xloud[flags]
            self._write('%s.%s.xml' % (uuid, name),
                        render(dom._xloud_xml, s['vcpus'], s['kib'],
                               cap if flags == LIVE else None))

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


class StandInMoves(fixtures.Fixture):
    """STAND-IN: moving a guest between two fake_compute.py processes.

    Upstream's functional tests run every compute in one process, and their
    ``LibvirtMigrationMixin._migrate_stub`` creates the destination domain
    in the destination's fake connection from the ``destination_xml`` Nova
    passed to ``migrateToURI3`` (the fake's own always fails), then
    completes the source's job; ours (test_xloud_adjust_moves.py) also
    carries the running guest's vCPUs and memory over, as QEMU does. Here
    each compute is its own process, so the same goes through a folder:

    - live migration, on the source: ``migrateToURI3`` writes
      ``<moves dir>/<destination host>/<uuid>.json`` (the destination XML
      and the running guest's live vCPUs and KiB; the destination host is
      the one in the URI Nova built, ``qemu+tcp://<host>/system``), then
      completes the job;
    - on the destination: the first time Nova asks its connection for a
      domain (lookup or list), it takes in what waits for it there: defines
      the XML (``PERSIST_DEST``: persistent, its ``.defined.xml`` written),
      runs it with the live values the source ran, and removes the file;
    - the disks: the image backend is a stand-in and writes no disk file,
      so ``_get_instance_disk_info_from_config`` says there is none (the
      source's list of disks to copy in a block migration, which
      upstream's functional tests mock the same way, and the backing
      files a start or hard reboot would fetch again on a host the guest
      moved to), and ``migrate_disk_and_power_off`` (a cold migration's
      or a resize's disk copy) returns no disk, as upstream's functional
      tests and ours mock it.
    """

    def __init__(self, moves_dir, hostname, recorder):
        super(StandInMoves, self).__init__()
        self.moves_dir = moves_dir
        self.inbox = os.path.join(moves_dir, hostname)
        self.recorder = recorder
        self._receiving = False

    def send(self, dom, dconnuri, params):
        dest = urllib.parse.urlsplit(dconnuri).hostname
        if not dest or 'destination_xml' not in params:
            raise xloud_libvirt.libvirt_error(
                'stand-in migration: no destination host in %r or no '
                'destination XML' % dconnuri,
                code=fakelibvirt.VIR_ERR_INTERNAL_ERROR)
        state = getattr(dom, '_xloud', None)
        moved = {'uuid': dom.UUIDString(),
                 'xml': params['destination_xml'],
                 'live': dict(state[LIVE]) if state else None}
        folder = os.path.join(self.moves_dir, dest)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, '%s.json' % moved['uuid'])
        with open(path + '.tmp', 'w') as f:
            json.dump(moved, f)
        os.replace(path + '.tmp', path)
        print('fake_compute: STAND-IN live migration of %s to %s (%s)' % (
            moved['uuid'], dest, path), file=sys.stderr, flush=True)
        dom.complete_job()

    def receive(self, conn):
        if self._receiving or not os.path.isdir(self.inbox):
            return
        self._receiving = True
        try:
            for name in sorted(os.listdir(self.inbox)):
                if not name.endswith('.json'):
                    continue
                path = os.path.join(self.inbox, name)
                with open(path) as f:
                    moved = json.load(f)
                dom = conn.defineXML(moved['xml'])
                dom.createWithFlags(0)
                if moved['live']:
                    dom.vcpusFlags(LIVE)        # the state, from the XML
                    dom._xloud[LIVE] = dict(moved['live'])
                    self.recorder.changed(dom)
                os.unlink(path)
                print('fake_compute: STAND-IN live migration: %s runs here '
                      'now (%s)' % (moved['uuid'], moved['live']),
                      file=sys.stderr, flush=True)
        finally:
            self._receiving = False

    def _setUp(self):
        moves = self

        def migrate(dom, dconnuri, params, flags):
            moves.send(dom, dconnuri, params)

        self.useFixture(fixtures.MockPatchObject(
            fakelibvirt.Domain, 'migrateToURI3', migrate))
        for name in ('lookupByUUIDString', 'listAllDomains'):
            orig = getattr(fakelibvirt.Connection, name)

            def receiving(conn, *args, _orig=orig, **kwargs):
                moves.receive(conn)
                return _orig(conn, *args, **kwargs)
            self.useFixture(fixtures.MockPatchObject(
                fakelibvirt.Connection, name, receiving))
        self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.LibvirtDriver.'
            '_get_instance_disk_info_from_config', return_value=[]))
        self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.LibvirtDriver.migrate_disk_and_power_off',
            return_value='{}'))


class FakeLibvirtHost(fixtures.Fixture):
    """What the functional ServersTestBase mocks around the libvirt driver,
    with one fake host of the given size.
    """

    def __init__(self, run_dir, hostname, pcpus, memory_mib, disk_gb,
                 domains_dir=None, moves_dir=None):
        super(FakeLibvirtHost, self).__init__()
        self.run_dir = run_dir
        self.hostname = hostname
        self.domains_dir = domains_dir or os.path.join(run_dir, 'domains')
        self.moves_dir = moves_dir
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
        recorder = None
        if xloud_libvirt:
            recorder = self.useFixture(RecordingLiveGuest(self.domains_dir))
        if self.moves_dir and recorder:
            self.useFixture(StandInMoves(self.moves_dir, self.hostname,
                                         recorder))
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
    parser.add_argument('--domains-dir')
    parser.add_argument('--moves-dir')
    parser.add_argument('--pcpus', type=int, default=8)
    parser.add_argument('--memory-mib', type=int, default=16384)
    parser.add_argument('--disk-gb', type=int, default=100)
    args, rest = parser.parse_known_args()
    if rest and rest[0] == '--':
        rest = rest[1:]
    print('fake_compute: STAND-IN hypervisor: Nova\'s fake libvirt, a host '
          'of %d pCPUs / %d MiB%s%s' % (
              args.pcpus, args.memory_mib,
              '' if xloud_libvirt else '; upstream Nova (pristine %s)' %
              os.path.dirname(os.path.dirname(os.path.dirname(
                  compute_cmd.__file__))),
              '; STAND-IN moves through %s' % args.moves_dir
              if args.moves_dir else ''),
          file=sys.stderr, flush=True)
    host = FakeLibvirtHost(args.run_dir, args.hostname, args.pcpus,
                           args.memory_mib, args.disk_gb,
                           domains_dir=args.domains_dir,
                           moves_dir=args.moves_dir)
    host.setUp()
    try:
        sys.argv = ['nova-compute'] + rest
        compute_cmd.main()
    finally:
        host.cleanUp()


if __name__ == '__main__':
    main()
