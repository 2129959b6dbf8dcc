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

"""A limited guest live-migrated between two REAL libvirtds, as Nova does.

- two private libvirtds (``tools/xloud_libvirtd.py``) on this machine, A and
  B, each with its own ``host_uuid`` (libvirt refuses a migration between
  daemons of the same host UUID); they share the file system, so the guest's
  disk is on "shared storage" as Nova's shared-instance-path case;
- the guest: the domain XML our driver generated for a 1024 MiB flavor with
  minimum_memory=512 (``xloud_driver_xml``), made runnable here exactly as
  ``test_real_guest`` does, started on A by ``xloud_memory.launch()`` (the
  live memory limit, 512 + overhead MiB, set while it is paused);
- the migration: Nova's own code: the destination XML from
  ``nova.virt.libvirt.migration.get_updated_guest_xml`` (the source's
  migratable XML), ``Guest.migrate()`` with Nova's flags (LIVE, PEER2PEER,
  PERSIST_DEST, UNDEFINE_SOURCE) and ``migrate_uri`` (what
  ``live_migration_inbound_addr`` gives), plus what xloud adds around it
  (``xloud_migration.migration_xml`` on the source,
  ``xloud_migration.limit_migrated`` on the destination).

Where this differs from two real compute hosts, and why:

- ``VIR_MIGRATE_UNSAFE``: libvirt calls a disk on a local file system
  (ext4, overlayfs) unshared and refuses the migration; both daemons here
  use the very same file, which is what shared storage means;
- the serial log's file in the destination XML: a second file, so that
  what the guest prints on B is known to come from B's QEMU (Nova keeps the
  path: on shared storage B's QEMU truncates the same console.log);
- the peer-to-peer URI: ``qemu+unix:///system?socket=<B's socket>`` (Nova:
  ``qemu+tcp://<dest>/system``).

The guest runs ``xloud_mode=noballoon`` (no balloon driver: its balloon
holds nothing back), with ``xloud_fill=cpu2`` it fills its memory once a
second vCPU is online: the test hot-plugs that vCPU on B after the
migration, so the hostile fill happens on B.

The tests:

- Nova's destination XML as is (no xloud hook): it carries the live
  ``hard_limit``; on these machines B cannot start the incoming QEMU with
  it, the migration fails and the guest must still run on A, limited;
- with xloud's hooks: migrated, B has no limit until ``limit_migrated()``,
  then libvirt's and the QEMU cgroup's limit are current + overhead, the
  guest lives on (same uptime, answers a hotplug) and its fill is killed
  at the limit on B;
- the window: a guest that grows past its limit on B before
  ``limit_migrated()`` must not run on above it;
- a ``setMemoryParameters`` on B's incoming domain is held by libvirt
  until the guest runs on B (why the limit cannot be set before).
"""

import os
import re
import sys
import time
import unittest
from unittest import mock

from eventlet import patcher
import libvirt
from lxml import etree

from nova.compute import xloud
from nova import objects
from nova.virt.libvirt import guest as libvirt_guest
from nova.virt.libvirt import migration as libvirt_migrate
from nova.virt.libvirt import xloud_adjust
from nova.virt.libvirt import xloud_cpu
from nova.virt.libvirt import xloud_memory
from nova.virt.libvirt import xloud_migration
import test_real_guest as real_guest
import xloud_driver_xml as driver_xml
import xloud_support as support

MIB = real_guest.MIB
OVERHEAD_MB = real_guest.OVERHEAD_MB
CURRENT_MB = int(driver_xml.MINIMUM['specs']['minimum_memory'])
LIMIT_MB = CURRENT_MB + OVERHEAD_MB
# Nova's live migration flags (LibvirtDriver._parse_migration_flags with
# the default [libvirt] options), and UNSAFE (see the module docstring)
NOVA_FLAGS = (libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_PEER2PEER |
              libvirt.VIR_MIGRATE_PERSIST_DEST |
              libvirt.VIR_MIGRATE_UNDEFINE_SOURCE)
FLAGS = NOVA_FLAGS | libvirt.VIR_MIGRATE_UNSAFE
# distinct host UUIDs of the two daemons (fixed: only distinctness matters)
HOST_UUID_A = '7a3c5e10-0000-4000-8000-00000000000a'
HOST_UUID_B = '7a3c5e10-0000-4000-8000-00000000000b'
# a domain that only takes a domain id on B (started paused, destroyed)
ID_BUMP_XML = (
    "<domain type='qemu'><name>xloud-id-bump</name>"
    "<memory unit='MiB'>16</memory><os><type arch='x86_64'>hvm</type></os>"
    "</domain>")
# a thread that runs while this one waits in a libvirt call (the tests'
# eventlet would make threading.Thread a green one)
NATIVE_THREADING = patcher.original('threading')
# the guest's own uptime, in every report it prints
UP_LINE = re.compile(r'XLOUD-GUEST cpus_online=\d+ memtotal_kb=\d+ '
                     r'up=([\d.]+)')


def _memtune(xml):
    """{child: KiB} of the <memtune> of a domain XML ({}: none)."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    found = {}
    for el in root.findall('./memtune/*'):
        found[el.tag] = int(el.text)
    return found


def _cputune(xml):
    """{child: text} of the <cputune> of a domain XML ({}: none)."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    return {el.tag: el.text for el in root.findall('./cputune/*')}


def _cap(dom):
    """(global_period, global_quota) of a running domain."""
    params = dom.schedulerParametersFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE)
    return params.get('global_period'), params.get('global_quota')


def _log_tail(daemon, since_size, limit=4000):
    """What libvirtd logged (errors and warnings) since ``since_size``."""
    try:
        with open(daemon.log_file, 'rb') as f:
            f.seek(since_size)
            text = f.read().decode('utf-8', 'replace')
    except OSError as e:
        return '(no log: %s)' % e
    return text[-limit:]


def _size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _qemu_pid(daemon, name):
    """The pid of the domain's QEMU, from the daemon's own pid file."""
    path = os.path.join(daemon.base_dir, 'run', 'libvirt', 'qemu',
                        name + '.pid')
    with open(path) as f:
        return int(f.read().split()[0])


def _memory_cgroup_of(pid):
    """The memory cgroup folder of a process on the host (v1 or v2)."""
    with open('/proc/%d/cgroup' % pid) as f:
        lines = f.read().splitlines()
    for line in lines:
        _, controllers, path = line.split(':', 2)
        if 'memory' in controllers.split(','):
            folder = '/sys/fs/cgroup/memory' + path
        elif controllers == '':
            folder = '/sys/fs/cgroup' + path
        else:
            continue
        if os.path.basename(folder) == 'emulator':
            folder = os.path.dirname(folder)
        return folder
    return None


def _read_sys(path):
    # os.open: Nova's test fixture forbids builtins.open under /sys
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, 64).decode().strip()
    finally:
        os.close(fd)


def _cgroup_limit_mb(folder):
    """The memory limit of a cgroup in MiB (v1 or v2), None: unlimited."""
    for name in ('memory.limit_in_bytes', 'memory.max'):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            value = _read_sys(path)
            if value == 'max' or int(value) >= 2 ** 62:
                return None
            return int(value) // (MIB * MIB)
    raise AssertionError('no memory limit file in %s' % folder)


class LiveMigrationTest(real_guest.RealGuestTest):
    """Inherits the real-guest machinery; its own tests only (below)."""

    @classmethod
    def setUpClass(cls):
        # NoDBTestCase's own, not RealGuestTest's (one daemon, no host UUID)
        super(real_guest.RealGuestTest, cls).setUpClass()
        libvirtd = cls._prepare_machine('live migration')
        cls.daemon = libvirtd.PrivateLibvirtd(
            os.path.join(support.WORK, 'libvirtd-a'), host_uuid=HOST_UUID_A)
        cls.daemon_b = libvirtd.PrivateLibvirtd(
            os.path.join(support.WORK, 'libvirtd-b'), host_uuid=HOST_UUID_B)
        for daemon in (cls.daemon, cls.daemon_b):
            started = time.monotonic()
            daemon.start()
            cls.addClassCleanup(daemon.stop)
            support.figure('private libvirtd %s start' % os.path.basename(
                daemon.base_dir), time.monotonic() - started)
        cls.uri, cls.uri_b = cls.daemon.uri, cls.daemon_b.uri

    def setUp(self):
        super().setUp()
        # self.conn: A, through the real LibvirtDriver (RealGuestTest)
        self.conn_b = libvirt.open(self.uri_b)
        self.addCleanup(self.conn_b.close)

    def _cleanup_b(self, uuid_str):
        try:
            dom = self.conn_b.lookupByUUIDString(uuid_str)
        except libvirt.libvirtError:
            return
        real_guest.RealGuestTest._remove(dom)

    def _destination(self, dom_a, instance, console_a):
        """The destination XML (kept in the work folder) and B's console.

        The guest's serial log on B is ``console-b.log`` beside A's.
        """
        work = os.path.dirname(console_a.stamped_path)
        console_b_log = os.path.join(work, 'console-b.log')
        xml = self._destination_xml(dom_a, instance, console_b_log)
        with open(os.path.join(work, 'destination.xml'), 'w') as f:
            f.write(xml)
        console_b = real_guest.SerialConsole(
            console_b_log, os.path.join(work, 'console-b.stamped'))
        self.addCleanup(console_b.stop)
        return xml, console_b

    def _destination_xml(self, dom_a, instance, console_b, xloud=True):
        """What Nova's source passes as destination (and persistent) XML.

        :param xloud: as the patched tree makes it (its hook in
            ``get_updated_guest_xml`` calls ``xloud_migration.migration_xml``),
            else with that hook made a no-op: upstream Nova's XML
        """
        migrate_data = objects.LibvirtLiveMigrateData(
            block_migration=False, graphics_listen_addr_vnc='127.0.0.1',
            serial_listen_addr=None, serial_listen_ports=[], bdms=[],
            target_connect_addr='127.0.0.1')
        with mock.patch.object(
                xloud_migration, 'migration_xml',
                side_effect=None if xloud else lambda inst, doc: doc,
                wraps=xloud_migration.migration_xml) as hook:
            xml = libvirt_migrate.get_updated_guest_xml(
                instance, libvirt_guest.Guest(dom_a), migrate_data,
                self.driver._get_volume_config)
        # the patch's hook ran
        hook.assert_called_once_with(instance, mock.ANY)
        root = etree.fromstring(xml.encode())
        # test only: B's serial output goes to a file of its own
        (log,) = root.findall('./devices/serial/log')
        log.set('file', console_b)
        return etree.tostring(root, encoding='unicode')

    def _limit_on_b(self, dom_b, instance):
        """The patch's destination hook, on B's guest.

        ``post_live_migration_at_destination`` calls
        ``xloud_migration.limit_migrated(self._host, instance)``; B has no
        LibvirtDriver here, so a stand-in for its Host finds the guest.
        """
        host_b = mock.Mock(get_guest=mock.Mock(
            return_value=libvirt_guest.Guest(dom_b)))
        xloud_migration.limit_migrated(host_b, instance)

    def _boot_on_a(self, cmdline):
        dom_a, instance, console_a, started = self._start_guest(cmdline)
        self.addCleanup(self._cleanup_b, instance.uuid)
        first = console_a.wait_for('a first line', lambda n, kb: True,
                                   started, timeout=real_guest.BOOT_TIMEOUT)
        support.figure('A: domain start -> first guest line',
                       first[0] - started)
        self.assertEqual(1, first[1])
        # on A: the live limit launch() set, in libvirt and in the cgroup
        self.assertEqual(LIMIT_MB * MIB, dom_a.memoryParameters(
            libvirt.VIR_DOMAIN_AFFECT_LIVE)['hard_limit'])
        pid_a = _qemu_pid(self.daemon, dom_a.name())
        self.assertEqual(LIMIT_MB, _cgroup_limit_mb(_memory_cgroup_of(pid_a)))
        return dom_a, instance, console_a, pid_a

    def _distinct_machine_on_b(self, dom_a):
        """Make B's next domain id differ from the guest's id on A.

        Both daemons share this host's cgroup tree, and libvirt names a
        domain's cgroup ``machine/qemu-<id>-<name>``: with equal ids the
        incoming QEMU would join A's cgroup, and its limit (two real hosts
        have a tree each). A paused throw-away domain on B takes an id.
        """
        for _ in range(3):
            bump = self.conn_b.createXML(ID_BUMP_XML,
                                         libvirt.VIR_DOMAIN_START_PAUSED)
            next_id = bump.ID() + 1
            bump.destroy()
            if next_id != dom_a.ID():
                return
        self.fail('B\'s next domain id stays %d, the guest\'s on A' %
                  dom_a.ID())

    def _migrate(self, dom_a, xml):
        """Guest.migrate() as Nova calls it; (seconds, libvirtError)."""
        self._distinct_machine_on_b(dom_a)
        logs = (_size(self.daemon.log_file), _size(self.daemon_b.log_file))
        p2p_uri = 'qemu+unix:///system?socket=%s' % self.daemon_b.socket
        began = time.monotonic()
        try:
            libvirt_guest.Guest(dom_a).migrate(
                p2p_uri, migrate_uri='tcp://127.0.0.1', flags=FLAGS,
                destination_xml=xml, bandwidth=0)
        except libvirt.libvirtError as e:
            sys.__stdout__.write(
                'migration failed: %s (libvirt error %s)\n--- A log:\n%s\n'
                '--- B log:\n%s\n' % (
                    e, e.get_error_code(),
                    _log_tail(self.daemon, logs[0]),
                    _log_tail(self.daemon_b, logs[1])))
            return time.monotonic() - began, e
        return time.monotonic() - began, None

    def test_nova_xml_as_is_leaves_the_limit_on_one_side(self):
        """Without xloud's hook: Nova's destination XML has the live limit.

        Where the destination libvirtd cannot raise QEMU's locked-memory
        rlimit (no CAP_SYS_RESOURCE: these machines), the incoming QEMU
        does not start and the migration fails; the guest must then still
        run on A under its limit. Where it can, the migration succeeds
        and B must hold the limit. Either outcome is printed.
        """
        dom_a, instance, console_a, pid_a = self._boot_on_a(
            'xloud_mode=noballoon')
        live = _memtune(dom_a.XMLDesc(0))
        migratable = _memtune(dom_a.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE))
        inactive = _memtune(dom_a.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        work = os.path.dirname(console_a.stamped_path)
        xml = self._destination_xml(dom_a, instance,
                                    os.path.join(work, 'console-b.log'),
                                    xloud=False)
        sys.__stdout__.write(
            'A: memtune of the live XML %s, the migratable XML %s, the '
            'inactive XML %s; Nova\'s destination XML %s\n' % (
                live, migratable, inactive, _memtune(xml)))
        self.assertEqual(LIMIT_MB * MIB, migratable.get('hard_limit'))
        self.assertEqual(LIMIT_MB * MIB, _memtune(xml).get('hard_limit'))
        seconds, error = self._migrate(dom_a, xml)
        support.figure('Nova XML as is: migration %s after' % (
            'FAILED' if error else 'succeeded'), seconds)
        if error:
            self.assertIn('cannot limit locked memory', str(error))
            # rolled back: still on A, running, limited
            self.assertEqual(libvirt.VIR_DOMAIN_RUNNING, dom_a.state()[0])
            self.assertEqual(pid_a, _qemu_pid(self.daemon, dom_a.name()))
            self.assertEqual(LIMIT_MB * MIB, dom_a.memoryParameters(
                libvirt.VIR_DOMAIN_AFFECT_LIVE)['hard_limit'])
            self.assertEqual(LIMIT_MB,
                             _cgroup_limit_mb(_memory_cgroup_of(pid_a)))
            self.assertRaises(libvirt.libvirtError,
                              self.conn_b.lookupByUUIDString, instance.uuid)
            return
        dom_b = self.conn_b.lookupByUUIDString(instance.uuid)
        self.assertEqual(LIMIT_MB * MIB, dom_b.memoryParameters(
            libvirt.VIR_DOMAIN_AFFECT_LIVE)['hard_limit'])
        self.assertEqual(LIMIT_MB, _cgroup_limit_mb(_memory_cgroup_of(
            _qemu_pid(self.daemon_b, dom_b.name()))))

    def test_live_migration_keeps_the_memory_limit(self):
        """With xloud's hooks: migrated, limited on B, killed at it on B."""
        dom_a, instance, console_a, pid_a = self._boot_on_a(
            'xloud_mode=noballoon xloud_fill=cpu2')
        folder_a = _memory_cgroup_of(pid_a)
        uuid_str = instance.uuid
        name = dom_a.name()
        support.figure('A: QEMU RSS before the migration',
                       dom_a.memoryStats()['rss'] // MIB, 'MiB')
        xml, console_b = self._destination(dom_a, instance, console_a)
        self.assertNotIn('hard_limit', _memtune(xml))

        began = time.monotonic()
        seconds, error = self._migrate(dom_a, xml)
        migrated = time.monotonic()
        self.assertIsNone(error)
        support.figure('live migration A -> B (migrateToURI3 call)', seconds)

        # B runs it without a limit until xloud's destination hook
        dom_b = self.conn_b.lookupByUUIDString(uuid_str)
        before = xloud_memory.get_limit_kib(dom_b)
        support.figure('B: hard_limit right after the migration',
                       'none' if before is None else before // MIB, 'MiB')
        self.assertIsNone(before)
        # xloud, on the destination (post_live_migration_at_destination)
        self._limit_on_b(dom_b, instance)
        limited = time.monotonic()
        support.figure('B: migration done -> limit set (limit_migrated)',
                       limited - migrated)

        # the migration: the guest runs on B, persistent there, gone on A
        self.assertTrue(dom_b.isActive())
        self.assertEqual(libvirt.VIR_DOMAIN_RUNNING, dom_b.state()[0])
        self.assertTrue(dom_b.isPersistent())
        self.assertRaises(libvirt.libvirtError,
                          self.conn.lookupByUUIDString, uuid_str)
        # B's persistent definition holds no hard_limit (a later start on B
        # goes through launch(), which sets it live)
        self.assertNotIn('hard_limit', _memtune(
            dom_b.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)))

        # the limit on B: libvirt's and the QEMU process's own cgroup
        libvirt_limit = dom_b.memoryParameters(
            libvirt.VIR_DOMAIN_AFFECT_LIVE)['hard_limit']
        pid_b = _qemu_pid(self.daemon_b, name)
        self.assertNotEqual(pid_a, pid_b)
        folder = _memory_cgroup_of(pid_b)
        self.assertNotEqual(folder_a, folder)
        cgroup_limit = _cgroup_limit_mb(folder)
        support.figure('B: hard_limit (libvirt) / QEMU cgroup limit',
                       '%d/%s' % (libvirt_limit // MIB, cgroup_limit), 'MiB')
        sys.__stdout__.write('B: QEMU pid %d, memory cgroup %s\n' % (
            pid_b, folder))
        self.assertEqual(LIMIT_MB * MIB, libvirt_limit)
        self.assertEqual(LIMIT_MB, cgroup_limit)
        self.assertEqual(CURRENT_MB, xloud_memory.enforced_mb(dom_b))
        support.figure('B: QEMU RSS after the migration',
                       dom_b.memoryStats()['rss'] // MIB, 'MiB')

        # alive on B: B's QEMU writes its heartbeat to B's serial log
        seen = console_b.wait_for('a line on B', lambda n, kb: True, began,
                                  timeout=real_guest.GUEST_TIMEOUT)
        support.figure('B: migration start -> first guest line from B',
                       seen[0] - began)
        self.assertEqual(1, seen[1])
        # the same guest, not a new boot: its uptime went on across
        last_a = console_a.lines(UP_LINE)[-1][1]
        first_b = console_b.lines(UP_LINE)[0][1]
        support.figure('guest uptime: last line on A / first line on B',
                       '%s/%s' % (last_a.group(1), first_b.group(1)), 's')
        self.assertGreaterEqual(float(first_b.group(1)),
                                float(last_a.group(1)))
        # and it answers on B: a vCPU hot-plugged on B comes online (the
        # guest's own report), which is also its trigger to fill its memory
        plugged = time.monotonic()
        dom_b.setVcpusFlags(2, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        online = console_b.wait_for('2 CPUs online on B',
                                    lambda n, kb: n == 2, plugged)
        support.figure('B: vCPU hotplug -> guest reports 2 CPUs online',
                       online[0] - plugged)

        # the hostile fill on B: B's limit must stop it
        highest, peak, stopped = self._watch_rss(
            dom_b, lambda: not dom_b.isActive(), real_guest.KILL_TIMEOUT)
        fills = console_b.lines(real_guest.FILL_LINE)
        state, reason = dom_b.state()
        support.figure('B: hostile guest: highest QEMU RSS (limit %d MiB)'
                       % LIMIT_MB, highest, 'MiB')
        support.figure('B: hostile guest: peak of its memory cgroup', peak,
                       'MiB')
        support.figure('B: hostile guest: filled before the kill',
                       fills[-1][1].group(2) if fills else 0, 'MiB')
        sys.__stdout__.write(
            'B: libvirt state %d reason %d after the fill; fill lines: %s\n'
            % (state, reason, [m.group(0) for _, m in fills[-2:]]))
        self.assertTrue(stopped, 'the guest was not stopped on B in %d s; '
                        'its QEMU reached %d MiB' % (real_guest.KILL_TIMEOUT,
                                                     highest))
        self.assertTrue(fills, 'the guest never filled its memory on B')
        self.assertIsNone(fills[-1][1].group(1),
                          'the guest finished its fill on B: its limit did '
                          'not stop it')
        self.assertEqual(libvirt.VIR_DOMAIN_SHUTOFF, state)
        self.assertIsNotNone(peak, 'no memory cgroup found on B')
        self.assertLessEqual(peak, LIMIT_MB)

    def test_live_migration_keeps_the_cpu_cap(self):
        """A guest shrunk by the CPU cap (3 plugged, 1 allowed), migrated.

        The cap is in the source's migratable XML (``<cputune>
        <global_quota>``); ``migration_xml`` takes it out of the
        destination XML with the memory limit, ``limit_migrated`` sets it
        live on the destination: 3 plugged there, capped at 1 vCPU's worth.
        """
        dom_a, instance, console_a, pid_a = self._boot_on_a('')
        self._hotplug(dom_a, instance, console_a, 3)
        began = time.monotonic()
        result = xloud_adjust.adjust(self.driver, instance, vcpus=1,
                                     persist=True)
        support.figure('A: adjust(vcpus=1) call (3 plugged -> cap 1)',
                       time.monotonic() - began)
        self.assertEqual([], result['errors'])
        self.assertEqual((1, 3), (result['vcpus'], result['vcpus_plugged']))
        # what the compute records of it (the claim limit_migrated reads)
        xloud.record(instance, result['vcpus'], result['memory_mb'],
                     persist=True, requested=('vcpus',))
        self.assertEqual((1, CURRENT_MB), xloud.live(instance))
        self.assertEqual((100000, 100000), _cap(dom_a))
        migratable = _cputune(dom_a.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE))
        self.assertEqual('100000', migratable.get('global_quota'))

        xml, console_b = self._destination(dom_a, instance, console_a)
        sys.__stdout__.write(
            'cputune of A\'s migratable XML %s, of the destination XML %s\n'
            % (migratable, _cputune(xml)))
        self.assertNotIn('global_quota', _cputune(xml))
        self.assertNotIn('global_period', _cputune(xml))
        self.assertNotIn('hard_limit', _memtune(xml))

        began = time.monotonic()
        seconds, error = self._migrate(dom_a, xml)
        migrated = time.monotonic()
        self.assertIsNone(error)
        support.figure('capped guest: live migration A -> B (call)', seconds)
        dom_b = self.conn_b.lookupByUUIDString(instance.uuid)
        before = _cap(dom_b)
        support.figure('B: global_quota right after the migration',
                       before[1], '')
        self.assertIn(before[1], (None, -1))
        self._limit_on_b(dom_b, instance)
        support.figure('B: migration done -> cap and limit set '
                       '(limit_migrated)', time.monotonic() - migrated)

        # B: 3 plugged (libvirt and QEMU), capped at 1 vCPU's worth, and
        # under its memory limit
        self.assertEqual((100000, 100000), _cap(dom_b))
        self.assertEqual(1, xloud_cpu.cap(dom_b))
        self.assertEqual(3, dom_b.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE))
        self.assertEqual(3, real_guest._qemu_plugged_vcpus(dom_b))
        self.assertEqual((1, 3, 1), xloud_cpu.allowed(dom_b))
        self.assertEqual(LIMIT_MB * MIB, xloud_memory.get_limit_kib(dom_b))
        # the cap is live only: not in B's persistent definition
        inactive = dom_b.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        self.assertNotIn('global_quota', _cputune(inactive))
        current, maximum, _, _ = support.current_values(inactive)
        support.figure('B: persistent <vcpu current> after the migration',
                       '%s of %s' % (current, maximum), '')
        # the same guest, on B, still running its 3 vCPUs
        seen = console_b.wait_for('a line on B', lambda n, kb: True, began,
                                  timeout=real_guest.GUEST_TIMEOUT)
        self.assertEqual(3, seen[1])
        last_a = console_a.lines(UP_LINE)[-1][1]
        first_b = console_b.lines(UP_LINE)[0][1]
        self.assertGreaterEqual(float(first_b.group(1)),
                                float(last_a.group(1)))

    def test_guest_that_grows_before_its_limit_is_stopped(self):
        """The window: B runs the guest unlimited until limit_migrated().

        A hostile guest that fills its memory right after the switch-over
        (here: before the call) is over its limit when it comes: the
        guest must not go on running above it (cgroup v1: the kernel
        refuses the limit, limit_migrated() stops the guest; v2: the
        kernel's OOM killer ends it).
        """
        dom_a, instance, console_a, pid_a = self._boot_on_a(
            'xloud_mode=noballoon xloud_fill=cpu2')
        xml, console_b = self._destination(dom_a, instance, console_a)
        seconds, error = self._migrate(dom_a, xml)
        self.assertIsNone(error)
        dom_b = self.conn_b.lookupByUUIDString(instance.uuid)
        self.assertIsNone(xloud_memory.get_limit_kib(dom_b))
        # the fill, before xloud's destination hook
        dom_b.setVcpusFlags(2, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        grown = LIMIT_MB + 64

        def rss_mb():
            return dom_b.memoryStats().get('rss', 0) // MIB

        highest, _, over = self._watch_rss(
            dom_b, lambda: rss_mb() > grown, real_guest.KILL_TIMEOUT)
        support.figure('window: QEMU RSS on B before limit_migrated (limit '
                       '%d MiB)' % LIMIT_MB, rss_mb(), 'MiB')
        self.assertTrue(over, 'the guest did not grow beyond %d MiB on B '
                        'unlimited (highest %d MiB): %s' % (
                            grown, highest, [m.group(0) for _, m in
                                             console_b.lines(
                                                 real_guest.FILL_LINE)[-2:]]))
        try:
            self._limit_on_b(dom_b, instance)
            outcome = 'limit set'
        except xloud_migration.MigratedMemoryLimitError as e:
            outcome = 'MigratedMemoryLimitError: %s' % e
        sys.__stdout__.write('window: limit_migrated on a guest over its '
                             'limit: %s\n' % outcome)
        deadline = time.monotonic() + 60
        while dom_b.isActive() and time.monotonic() < deadline:
            time.sleep(0.25)
        state, reason = dom_b.state()
        support.figure('window: guest over its limit: B state/reason after '
                       'limit_migrated', '%d/%d' % (state, reason), '')
        self.assertFalse(dom_b.isActive(), 'the guest runs on B above its '
                         'limit: %s' % outcome)

    def test_incoming_domain_takes_its_limit_only_once_it_runs(self):
        """Why the limit is set after the migration, not before the resume.

        A ``setMemoryParameters`` on B's incoming domain, made as soon as
        it appears there (paused, starting up), is held by libvirt until
        the guest runs on B: libvirt allows no other job on an incoming
        domain. So no call can limit it before it runs; a call made that
        early lands right after the switch-over (printed).
        """
        dom_a, instance, console_a, pid_a = self._boot_on_a(
            'xloud_mode=noballoon')
        work = os.path.dirname(console_a.stamped_path)
        xml = self._destination_xml(dom_a, instance,
                                    os.path.join(work, 'console-b.log'))
        seen = {}
        stop = []

        def early_limit():
            conn = libvirt.open(self.uri_b)
            try:
                while not stop:
                    try:
                        dom = conn.lookupByUUIDString(instance.uuid)
                    except libvirt.libvirtError:
                        time.sleep(0.01)
                        continue
                    seen['state'] = dom.state()
                    seen['called'] = time.monotonic()
                    try:
                        dom.setMemoryParameters(
                            {'hard_limit': LIMIT_MB * MIB},
                            libvirt.VIR_DOMAIN_AFFECT_LIVE)
                    except libvirt.libvirtError as e:
                        seen['error'] = str(e)
                    seen['returned'] = time.monotonic()
                    seen['state_after'] = dom.state()
                    return
            finally:
                conn.close()

        thread = NATIVE_THREADING.Thread(target=early_limit, daemon=True)
        thread.start()
        self.addCleanup(stop.append, True)
        seconds, error = self._migrate(dom_a, xml)
        migrated = time.monotonic()
        thread.join(60)
        self.assertIsNone(error)
        sys.__stdout__.write('early setMemoryParameters on B: %s\n' % seen)
        self.assertIn('returned', seen, 'the incoming domain never showed '
                      'on B')
        self.assertNotIn('error', seen)
        support.figure('early setMemoryParameters on B: held by libvirt',
                       seen['returned'] - seen['called'])
        support.figure('early setMemoryParameters returned -> migrate call '
                       'returned', migrated - seen['returned'])
        # made while the domain was incoming (paused), done once it ran
        self.assertEqual(libvirt.VIR_DOMAIN_PAUSED, seen['state'][0])
        self.assertEqual(libvirt.VIR_DOMAIN_RUNNING, seen['state_after'][0])
        dom_b = self.conn_b.lookupByUUIDString(instance.uuid)
        self.assertEqual(LIMIT_MB * MIB, xloud_memory.get_limit_kib(dom_b))


def load_tests(loader, tests, pattern):
    # this module's own tests (as -k selects them), not the inherited
    # real-guest ones
    return unittest.TestSuite(
        LiveMigrationTest(name)
        for name in loader.getTestCaseNames(LiveMigrationTest)
        if name in vars(LiveMigrationTest))
