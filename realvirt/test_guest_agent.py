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

"""The guest's side: a real qemu-guest-agent, loads, and a CPU cap.

The same harness as ``test_real_guest.py`` (a private libvirtd, QEMU 7.2
TCG, the tiny guest's own serial lines stamped by a tail process), with
the guest's agent variant (``xloud_guest_image.build(agent=True)``:
Debian's qemu-ga on the virtio-serial port ``org.qemu.guest_agent.0``).
The domain XML is our driver's for a server booted from an image with
``hw_qemu_guest_agent=yes``: Nova's own code adds the agent's channel.

What it proves, from the guest's own lines:

- the agent answers (``guest-ping`` through libvirt);
- a guest of 1 vCPU (3 at most), hot-plugged to 3, then asked through
  the agent (``setVcpusFlags(n, VIR_DOMAIN_VCPU_GUEST)``) to run 1 and 3
  again: the guest's CPUs go offline and online, the agent's count says
  so, libvirt's own count (``LIVE``: the vCPUs plugged) stays 3;
- ``memoryStats()`` of the guest has ``usable``, ``available`` and
  ``last_update`` (the balloon's statistics, at the period Nova sets), and
  a load holding M MiB (started through the agent's ``guest-exec``)
  lowers ``usable`` by about M;
- a CPU cap (``global_quota``, then ``vcpu_quota``) holds a guest that
  busies both its vCPUs to what it allows, measured from the host;
- without an agent (no channel; a channel but a silent agent) the
  agent's calls fail, and how: the libvirt error and its time;
- through ``xloud_adjust.adjust`` (a real ``LibvirtDriver``; the
  instance's system metadata has the image's ``hw_qemu_guest_agent``): a
  shrink caps the guest and the agent takes the extra vCPUs offline (the
  guest's line says so, and the result's report), a grow lifts the cap
  and brings them back; with a silent agent the shrink still caps, and a
  busy guest is held to one CPU's time measured from the host; a memory
  shrink below what the guest uses (by its balloon statistics) is refused
  at once, with nothing changed.

The times are printed (``support.figure``), never asserted.
"""

import base64
import glob
import json
import os
import re
import shutil
import sys
import time
import unittest

import fixtures
import libvirt
import libvirt_qemu
from lxml import etree
from oslo_serialization import jsonutils
from oslo_utils import uuidutils

import nova.conf
from nova import objects
from nova import test
from nova.virt import fake
from nova.virt.libvirt import driver as libvirt_driver
from nova.virt.libvirt import guest as libvirt_guest
from nova.virt.libvirt import xloud_adjust
from nova.virt.libvirt import xloud_cpu
from nova.virt.libvirt import xloud_guest_report
from nova.virt.libvirt import xloud_memory
import test_real_guest as real_guest
import xloud_driver_xml as driver_xml
import xloud_support as support

CONF = nova.conf.CONF
MIB = 1024
# 1 vCPU at boot, 3 at most; the image asks for the agent
AGENT_FLAVOR = {'name': 'realvirt-agent', 'vcpus': 3, 'memory_mb': 1024,
                'specs': {'minimum_cpu': '1', 'minimum_memory': '512'}}
# 2 vCPUs from the boot (no minimum_cpu): the CPU cap's guest
CAP_FLAVOR = {'name': 'realvirt-cap', 'vcpus': 2, 'memory_mb': 1024,
              'specs': {'minimum_memory': '512'}}
AGENT_IMAGE = {'hw_qemu_guest_agent': 'yes'}
# the image the instances boot from (its id, as Nova keeps image_ref)
IMAGE_REF = '155d900f-4e14-4e4c-a73d-069cbf4541e6'
AGENT_CHANNEL = 'org.qemu.guest_agent.0'
# Nova's [libvirt] mem_stats_period_seconds default
STATS_PERIOD = 10
# the memory load, and how far 'usable' may move from it (the rest of the
# guest is idle: its own use moves by far less)
MEMLOAD_MIB = 128
MEMLOAD_SECONDS = 30
USABLE_TOLERANCE_MIB = 16
# what the guest's usable memory may stay below its figure before a load
# once the load is freed
FREED_TOLERANCE_MIB = 48
# the CPU cap: each measurement window, and how far above 1.0 CPU a
# guest capped at one CPU's worth may measure (one CFS period of 100 ms
# at the windows' edges, rounded up)
CPU_WINDOW = 8
CAP_TOLERANCE = 0.05
CPULOAD_SECONDS = 120
OVERHEAD_MB = 128
AGENT_TIMEOUT = 120
# the memory a guest grown to 1024 MiB holds when asked to give some back:
# more than its 512 MiB minimum, so a shrink to it is below what it uses
HOLD_MIB = 448
HOLD_SECONDS = 240
MEMORY_RELEASE_TIMEOUT = 30

AGENT_LINE = re.compile(r'XLOUD-GUEST agent (start|off|exited|:)')
CPULOAD_LINE = re.compile(r'XLOUD-GUEST cpuload (start|stop) cpus=(\d+)')
MEMLOAD_LINE = re.compile(r'XLOUD-GUEST memload (start|held|freed) mib=(\d+)')


def _agent(dom, command, timeout=5):
    """One guest agent command through libvirt; its parsed reply."""
    return jsonutils.loads(libvirt_qemu.qemuAgentCommand(
        dom, json.dumps(command), timeout, 0))


def _error(e):
    return '%d (%s)' % (e.get_error_code(), e.get_error_message())


class GuestAgentTest(test.NoDBTestCase):

    # a TCG guest on 2 busy cores
    TIMEOUT_SCALING_FACTOR = 5

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        why = real_guest._machine_cannot()
        if why:
            sys.__stdout__.write('SKIP guest agent: %s\n' % why)
            raise unittest.SkipTest(why)
        libvirtd = support.tool('xloud_libvirtd')
        libvirtd.ensure_packages()
        ok, why = libvirtd.available()
        if not ok:
            raise RuntimeError('the packages are installed, yet: %s' % why)
        cls.xml = {
            'agent': driver_xml.domain_xml(AGENT_FLAVOR, AGENT_IMAGE),
            'cap': driver_xml.domain_xml(CAP_FLAVOR, AGENT_IMAGE),
            'plain': driver_xml.domain_xml(driver_xml.MINIMUM),
        }
        for old in glob.glob(os.path.join(support.WORK, 'agent-guest-*')):
            shutil.rmtree(old)
        image = support.tool('xloud_guest_image')
        started = time.monotonic()
        cls.agent_image = image.build(agent=True)
        support.figure('agent guest image build (or cache hit)',
                       time.monotonic() - started)
        cls.plain_image = image.build()
        cls.daemon = libvirtd.PrivateLibvirtd(
            os.path.join(support.WORK, 'libvirtd-agent'))
        cls.uri = cls.daemon.start()
        cls.addClassCleanup(cls.daemon.stop)

    def setUp(self):
        super().setUp()
        objects.register_all()
        self.flags(memory_overhead_mb=OVERHEAD_MB, group='xloud')
        # the event loop answers libvirtd's keepalive (test_real_guest)
        real_guest._event_loop()
        self.conn = libvirt.open(self.uri)
        self.addCleanup(self.conn.close)
        self.instances = {}

    def _driver(self):
        """A real LibvirtDriver on this class's libvirtd (as
        ``test_real_guest``: xloud_adjust takes the driver)."""
        self.flags(connection_uri=self.uri, virt_type='qemu',
                   cpu_mode='none', group='libvirt')
        self.flags(memory_release_timeout=MEMORY_RELEASE_TIMEOUT,
                   group='xloud')
        self.useFixture(fixtures.MonkeyPatch(
            'nova.virt.libvirt.host.Host._init_events',
            lambda host: real_guest._event_loop()))
        driver = libvirt_driver.LibvirtDriver(fake.FakeVirtAPI(), False)
        driver._host.get_connection()
        return driver

    def _start_guest(self, kind, flavor, image, cmdline=''):
        """Define and start a guest (``xloud_memory.launch``, as the
        patched driver starts one); its XML is kept with its console.
        """
        uuid_str = uuidutils.generate_uuid()
        work = os.path.join(support.WORK, 'agent-guest-%s' % uuid_str[:8])
        os.makedirs(work)
        disk = os.path.join(work, 'disk')
        with open(disk, 'wb') as f:
            f.truncate(64 * MIB * 1024)
        console_log = os.path.join(work, 'console.log')
        kernel, initrd = image
        xml = real_guest._runnable(
            support.with_identity(self.xml[kind], uuid_str), kernel, initrd,
            disk, console_log, cmdline)
        with open(os.path.join(work, 'domain.xml'), 'w') as f:
            f.write(xml)
        dom = self.conn.defineXML(xml)
        self.addCleanup(real_guest.RealGuestTest._remove, dom)
        console = real_guest.SerialConsole(
            console_log, os.path.join(work, 'console.stamped'))
        self.addCleanup(console.stop)
        # Nova keeps the image's properties in system metadata
        # (image_<property>): the XML of 'agent' and 'cap' was made for an
        # image with the agent
        props = AGENT_IMAGE if kind in ('agent', 'cap') else {}
        instance = objects.Instance(
            uuid=uuid_str, image_ref=IMAGE_REF,
            system_metadata={'image_' + k: v for k, v in props.items()},
            flavor=objects.Flavor(
                flavorid=flavor['name'], name=flavor['name'],
                vcpus=flavor['vcpus'], memory_mb=flavor['memory_mb'],
                extra_specs=dict(flavor['specs'])))
        self.instances[dom.UUIDString()] = instance
        started = time.monotonic()
        xloud_memory.launch(libvirt_guest.Guest(dom), instance)
        return dom, console, started

    @staticmethod
    def _wait_line(console, pattern, since, what,
                   timeout=real_guest.GUEST_TIMEOUT):
        """(stamp, match) of the first line matching after ``since``."""
        deadline = time.monotonic() + timeout
        while True:
            for stamp, match in console.lines(pattern):
                if stamp >= since and what(match):
                    return stamp, match
            if time.monotonic() >= deadline:
                raise AssertionError('no guest line %s in %d s' % (
                    pattern.pattern, timeout))
            time.sleep(0.05)

    def _wait_agent(self, dom, since):
        """Poll guest-ping until the agent answers; when it did."""
        deadline = time.monotonic() + AGENT_TIMEOUT
        while True:
            try:
                self.assertEqual({'return': {}},
                                 _agent(dom, {'execute': 'guest-ping'}))
                return time.monotonic()
            except libvirt.libvirtError as e:
                if time.monotonic() >= deadline:
                    raise AssertionError('the agent never answered in %d '
                                         's: %s' % (AGENT_TIMEOUT, _error(e)))
            time.sleep(0.2)

    def _agent_guest(self, flavor_kind='agent', flavor=AGENT_FLAVOR,
                     cmdline=''):
        dom, console, started = self._start_guest(
            flavor_kind, flavor, self.agent_image, cmdline)
        first = console.wait_for('a first line', lambda n, kb: True,
                                 started, timeout=real_guest.BOOT_TIMEOUT)
        return dom, console, started, first

    def test_agent_sets_the_guest_vcpus(self):
        dom, console, started, first = self._agent_guest()
        self.assertEqual(1, first[1])
        channels = etree.fromstring(dom.XMLDesc(0).encode()).findall(
            './devices/channel/target')
        self.assertIn(AGENT_CHANNEL, [c.get('name') for c in channels])
        answered = self._wait_agent(dom, started)
        stamp, _ = self._wait_line(console, AGENT_LINE, started,
                                   lambda m: m.group(1) == 'start')
        support.figure('domain start -> first guest line',
                       first[0] - started)
        support.figure('domain start -> guest line "agent start"',
                       stamp - started)
        support.figure('domain start -> guest agent answers guest-ping',
                       answered - started)

        began = time.monotonic()
        dom.setVcpusFlags(3, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        seen = console.wait_for('3 CPUs online', lambda n, kb: n == 3, began)
        support.figure('hotplug 1 -> 3 call -> guest sees 3 online',
                       seen[0] - began)
        began = time.monotonic()
        self.assertEqual(3, dom.vcpusFlags(libvirt.VIR_DOMAIN_VCPU_GUEST))
        support.figure('vcpusFlags(GUEST) call (agent: 3 online)',
                       time.monotonic() - began)

        # offline through the agent: the guest runs 1, 3 stay plugged
        seen = self._guest_vcpus(dom, console, 1, 3)
        self.assertEqual(1, dom.vcpusFlags(libvirt.VIR_DOMAIN_VCPU_GUEST))
        self.assertEqual(3, dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE))
        self.assertEqual(3, real_guest._qemu_plugged_vcpus(dom))
        # the guest's init leaves them offline: its next heartbeat (5 s)
        # still says 1, and nothing in between said otherwise
        beat = console.wait_for('a heartbeat', lambda n, kb: True,
                                seen[0] + 0.5)
        self.assertEqual([1], sorted({r[1] for r in console.reports()
                                      if seen[0] <= r[0] <= beat[0]}))

        # and back online through the agent: libvirt stayed consistent
        self._guest_vcpus(dom, console, 3, 1)
        self.assertEqual(3, dom.vcpusFlags(libvirt.VIR_DOMAIN_VCPU_GUEST))
        self.assertEqual(3, dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE))

    @staticmethod
    def _guest_vcpus(dom, console, vcpus, was):
        """The agent sets ``vcpus`` online; the guest's line that shows it.

        The call's time and the guest's are figures.
        """
        began = time.monotonic()
        dom.setVcpusFlags(vcpus, libvirt.VIR_DOMAIN_VCPU_GUEST)
        returned = time.monotonic()
        seen = console.wait_for('%d CPU%s online' % (
            vcpus, '' if vcpus == 1 else 's'),
            lambda n, kb: n == vcpus, began)
        support.figure('setVcpusFlags(%d, GUEST) call (%d -> %d online)' % (
            vcpus, was, vcpus), returned - began)
        support.figure('setVcpusFlags(%d, GUEST) -> guest line %d online' % (
            vcpus, vcpus), seen[0] - began)
        return seen

    def _stats_after(self, dom, wall):
        """memoryStats() once its last_update is at or after ``wall``."""
        deadline = time.monotonic() + 3 * STATS_PERIOD + 10
        while True:
            stats = dom.memoryStats()
            if stats.get('last_update', 0) >= wall and 'usable' in stats:
                return stats
            if time.monotonic() >= deadline:
                raise AssertionError('no memory statistics after %d: %s' % (
                    wall, stats))
            time.sleep(0.5)

    def test_memory_stats_and_a_memory_load(self):
        # Nova's balloon statistics period is in the driver's XML
        for xml in (self.xml['agent'], ):
            (period,) = etree.fromstring(xml.encode()).xpath(
                './devices/memballoon/stats/@period')
            self.assertEqual(str(STATS_PERIOD), period)
        dom, console, started, first = self._agent_guest()
        self._wait_agent(dom, started)
        self.assertEqual([str(STATS_PERIOD)], etree.fromstring(
            dom.XMLDesc(0).encode()).xpath(
                './devices/memballoon/stats/@period'))
        before = self._stats_after(dom, time.time())
        sys.__stdout__.write('memoryStats() of the agent guest: %s\n' %
                             sorted(before.items()))
        for key in ('usable', 'available', 'last_update'):
            self.assertIn(key, before)
        support.figure('memoryStats keys', ','.join(sorted(before)), '')
        support.figure('memoryStats usable before the load',
                       before['usable'] // MIB, 'MiB')
        support.figure('memoryStats available', before['available'] // MIB,
                       'MiB')

        # the load through the agent's guest-exec
        began = time.monotonic()
        pid = _agent(dom, {'execute': 'guest-exec', 'arguments': {
            'path': '/bin/xloud-load',
            'arg': ['mem', str(MEMLOAD_MIB), str(MEMLOAD_SECONDS)],
            'capture-output': True}})['return']['pid']
        support.figure('guest-exec xloud-load mem call',
                       time.monotonic() - began)
        held, match = self._wait_line(console, MEMLOAD_LINE, began,
                                      lambda m: m.group(1) == 'held')
        self.assertEqual(MEMLOAD_MIB, int(match.group(2)))
        support.figure('guest-exec -> guest line "memload held"',
                       held - began)
        held_wall = time.time()
        during = self._stats_after(dom, held_wall + 1)
        support.figure('memload held -> memoryStats shows it',
                       time.monotonic() - held)
        drop_mib = (before['usable'] - during['usable']) / MIB
        support.figure('memoryStats usable during a %d MiB load' %
                       MEMLOAD_MIB, during['usable'] // MIB, 'MiB')
        support.figure('memoryStats usable drop (tolerance %d MiB)' %
                       USABLE_TOLERANCE_MIB, drop_mib, 'MiB')
        self.assertLessEqual(abs(drop_mib - MEMLOAD_MIB),
                             USABLE_TOLERANCE_MIB, (before, during))

        freed, _ = self._wait_line(console, MEMLOAD_LINE, held,
                                   lambda m: m.group(1) == 'freed',
                                   timeout=MEMLOAD_SECONDS + 30)
        after = self._stats_after(dom, time.time() + 1)
        support.figure('memoryStats usable after the load is freed',
                       after['usable'] // MIB, 'MiB')
        # back within what the guest's kernel keeps of a run (slab, the
        # load's own pages): 17 MiB seen once, under load
        self.assertLessEqual(abs(after['usable'] - before['usable']) / MIB,
                             FREED_TOLERANCE_MIB, (before, after))
        status = _agent(dom, {'execute': 'guest-exec-status',
                              'arguments': {'pid': pid}})['return']
        self.assertTrue(status['exited'], status)
        self.assertEqual(0, status['exitcode'], status)
        out = base64.b64decode(status.get('out-data', '')).decode()
        self.assertIn('memload freed mib=%d' % MEMLOAD_MIB, out)

    # -- the CPU cap --

    @staticmethod
    def _cpu_rate(dom, seconds=CPU_WINDOW):
        """The domain's CPU time per wall second, measured from the host
        (libvirt's cpu_time: the domain's cpuacct cgroup)."""
        t0 = time.monotonic()
        c0 = dom.getCPUStats(True)[0]['cpu_time']
        time.sleep(seconds)
        c1 = dom.getCPUStats(True)[0]['cpu_time']
        t1 = time.monotonic()
        return (c1 - c0) / 1e9 / (t1 - t0)

    @staticmethod
    def _cputune(dom, flags=0):
        cputune = etree.fromstring(dom.XMLDesc(flags).encode()).find(
            'cputune')
        if cputune is None:
            return {}
        return {child.tag: child.text for child in cputune}

    def test_cpu_cap(self):
        dom, console, started, first = self._agent_guest(
            'cap', CAP_FLAVOR, 'xloud_cpuload=0:%d' % CPULOAD_SECONDS)
        self.assertEqual(2, first[1])
        stamp, match = self._wait_line(console, CPULOAD_LINE, started,
                                       lambda m: m.group(1) == 'start')
        self.assertEqual(2, int(match.group(2)))
        time.sleep(1)
        sys.__stdout__.write('load average on the host: %s\n' % (
            ' '.join('%.2f' % x for x in os.getloadavg())))
        affect = libvirt.VIR_DOMAIN_AFFECT_LIVE
        rates = {}

        rates['uncapped'] = self._cpu_rate(dom)
        support.figure('busy 2-vCPU guest, uncapped: CPU s per wall s',
                       rates['uncapped'], '')

        dom.setSchedulerParametersFlags(
            {'global_period': 100000, 'global_quota': 100000}, affect)
        params = dom.schedulerParametersFlags(affect)
        self.assertEqual((100000, 100000), (params['global_period'],
                                            params['global_quota']))
        live = self._cputune(dom)
        migratable = self._cputune(dom, libvirt.VIR_DOMAIN_XML_MIGRATABLE)
        inactive = self._cputune(dom, libvirt.VIR_DOMAIN_XML_INACTIVE)
        sys.__stdout__.write('cputune with the global cap: live %s, '
                             'migratable %s, inactive %s\n' % (
                                 live, migratable, inactive))
        support.figure('global_quota in the live / migratable XML',
                       '%s/%s' % (live.get('global_quota'),
                                  migratable.get('global_quota')), '')
        time.sleep(1)
        rates['global'] = self._cpu_rate(dom)
        support.figure('global_period 100000 global_quota 100000: CPU s '
                       'per wall s', rates['global'], '')
        self.assertLessEqual(rates['global'], 1.0 + CAP_TOLERANCE, rates)

        # which value lifts it: 0, then -1
        lifts = {}
        for value in (0, -1):
            try:
                dom.setSchedulerParametersFlags({'global_quota': value},
                                                affect)
                lifts[value] = dom.schedulerParametersFlags(
                    affect)['global_quota']
            except libvirt.libvirtError as e:
                lifts[value] = 'refused: %s' % _error(e)
        sys.__stdout__.write('global_quota set to 0 / -1: reads back %s\n' %
                             lifts)
        support.figure('global_quota set 0 -> reads / set -1 -> reads',
                       '%s/%s' % (lifts[0], lifts[-1]), '')
        # 0 is "no change" to libvirt; -1 lifts it (and stays in the XML)
        self.assertEqual(-1, lifts[-1])
        lifted_xml = self._cputune(dom).get('global_quota')
        support.figure('global_quota in the live XML once lifted',
                       lifted_xml, '')
        self.assertIn(lifted_xml, (None, '-1'))

        dom.setSchedulerParametersFlags(
            {'vcpu_period': 100000, 'vcpu_quota': 50000}, affect)
        time.sleep(1)
        rates['vcpu'] = self._cpu_rate(dom)
        support.figure('vcpu_period 100000 vcpu_quota 50000: CPU s per '
                       'wall s', rates['vcpu'], '')

        dom.setSchedulerParametersFlags({'vcpu_quota': -1}, affect)
        time.sleep(1)
        rates['lifted'] = self._cpu_rate(dom)
        support.figure('caps lifted: CPU s per wall s', rates['lifted'], '')
        sys.__stdout__.write('CPU time per wall second: %s\n' % rates)
        # the load still ran all along (its stop is later)
        self.assertFalse([m for _, m in console.lines(CPULOAD_LINE)
                          if m.group(1) == 'stop'])

    # -- xloud_adjust on the guest's side: the agent, the cap, consent --

    @staticmethod
    def _cap(dom):
        params = dom.schedulerParametersFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE)
        return params.get('global_period'), params.get('global_quota')

    def _adjust(self, driver, instance, label, **values):
        began = time.monotonic()
        result = xloud_adjust.adjust(driver, instance, persist=True, **values)
        returned = time.monotonic()
        support.figure('%s call' % label, returned - began)
        sys.__stdout__.write('%s: %s\n' % (label, result))
        return result, began, returned

    def test_adjust_through_the_agent(self):
        """``xloud_adjust.adjust`` on a guest whose image has the agent.

        1 -> 3 (hotplug), 3 -> 1 (the cap, and the agent takes 2 offline:
        the guest's own line says 1 online), 1 -> 3 (the cap lifted, the
        agent brings them online). libvirt counts 3 plugged throughout.
        """
        dom, console, started, first = self._agent_guest()
        instance = self.instances[dom.UUIDString()]
        self.assertTrue(xloud_cpu.has_agent(instance))
        self._wait_agent(dom, started)
        driver = self._driver()

        result, began, _ = self._adjust(driver, instance,
                                        'agent guest: adjust(vcpus=3) hotplug',
                                        vcpus=3)
        self.assertEqual([], result['errors'])
        self.assertEqual((3, 3), (result['vcpus'], result['vcpus_plugged']))
        seen = console.wait_for('3 CPUs online', lambda n, kb: n == 3, began)
        support.figure('agent guest: hotplug call -> guest line 3 online',
                       seen[0] - began)
        # the agent was asked right after the hotplug, which the guest may
        # not have seen yet (its init onlines the new CPUs): printed only
        support.figure('agent guest: after the hotplug, agent / online',
                       '%s/%s' % (result['guest']['agent'],
                                  result['guest']['vcpus_online']), '')

        result, began, returned = self._adjust(
            driver, instance, 'agent guest: adjust(vcpus=1) cap + agent',
            vcpus=1)
        self.assertEqual([], result['errors'])
        self.assertEqual((1, 3), (result['vcpus'], result['vcpus_plugged']))
        self.assertEqual(xloud_cpu.AGENT_ANSWERED, result['guest']['agent'])
        self.assertEqual(1, result['guest']['vcpus_online'])
        self.assertEqual((100000, 100000), self._cap(dom))
        self.assertEqual(3, dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE))
        self.assertEqual(3, real_guest._qemu_plugged_vcpus(dom))
        seen = console.wait_for('1 CPU online', lambda n, kb: n == 1, began)
        support.figure('agent guest: adjust(vcpus=1) -> guest line 1 online',
                       seen[0] - began)
        beat = console.wait_for('a heartbeat', lambda n, kb: True,
                                seen[0] + 0.5)
        self.assertEqual([1], sorted({r[1] for r in console.reports()
                                      if seen[0] <= r[0] <= beat[0]}))
        values = xloud_adjust.read(driver, instance)
        self.assertEqual((1, 3, xloud_cpu.AGENT_ANSWERED, 1), (
            values['vcpus'], values['vcpus_plugged'],
            values['guest']['agent'], values['guest']['vcpus_online']))

        result, began, _ = self._adjust(
            driver, instance, 'agent guest: adjust(vcpus=3) lift + agent',
            vcpus=3)
        self.assertEqual([], result['errors'])
        self.assertEqual((3, 3), (result['vcpus'], result['vcpus_plugged']))
        self.assertEqual((xloud_cpu.AGENT_ANSWERED, 3), (
            result['guest']['agent'], result['guest']['vcpus_online']))
        self.assertEqual(-1, self._cap(dom)[1])
        seen = console.wait_for('3 CPUs online', lambda n, kb: n == 3, began)
        support.figure('agent guest: adjust(vcpus=3) -> guest line 3 online',
                       seen[0] - began)

    def test_cap_holds_a_busy_guest_whose_agent_is_silent(self):
        """The cap, not the agent, holds the guest: proven from the host.

        The 2-vCPU guest's image has the agent, but its agent is silent
        (``xloud_agent=0``) and it busies every online CPU
        (``xloud_cpuload``). ``adjust(vcpus=1)`` still succeeds (the cap),
        the report says the agent is silent, both vCPUs stay online in the
        guest, and its CPU time per wall second, measured from the host,
        is at most one CPU's.
        """
        dom, console, started, first = self._agent_guest(
            'cap', CAP_FLAVOR,
            'xloud_agent=0 xloud_cpuload=0:%d' % CPULOAD_SECONDS)
        instance = self.instances[dom.UUIDString()]
        self.assertTrue(xloud_cpu.has_agent(instance))
        self.assertEqual(2, first[1])
        self._wait_line(console, AGENT_LINE, started,
                        lambda m: m.group(1) == 'off')
        self._wait_line(console, CPULOAD_LINE, started,
                        lambda m: m.group(1) == 'start')
        driver = self._driver()

        result, began, _ = self._adjust(
            driver, instance, 'silent agent: adjust(vcpus=1) cap', vcpus=1)
        self.assertEqual([], result['errors'])
        self.assertEqual((1, 2), (result['vcpus'], result['vcpus_plugged']))
        self.assertEqual(xloud_cpu.AGENT_SILENT, result['guest']['agent'])
        self.assertIsNone(result['guest']['vcpus_online'])
        self.assertEqual((100000, 100000), self._cap(dom))
        time.sleep(1)
        load = os.getloadavg()[0]
        capped = self._cpu_rate(dom)
        support.figure('busy 2-vCPU guest after adjust(vcpus=1): CPU s per '
                       'wall s', capped, '')
        # the guest kept both vCPUs online all along (no agent to offline)
        self.assertEqual([2], sorted({r[1] for r in console.reports()
                                      if r[0] >= began}))
        self.assertLessEqual(capped, 1.0 + CAP_TOLERANCE)

        result, began, _ = self._adjust(
            driver, instance, 'silent agent: adjust(vcpus=2) lift', vcpus=2)
        self.assertEqual([], result['errors'])
        self.assertEqual((2, 2), (result['vcpus'], result['vcpus_plugged']))
        self.assertEqual(-1, self._cap(dom)[1])
        time.sleep(1)
        lifted = self._cpu_rate(dom)
        # what it gets uncapped is what the shared host has free: printed
        support.figure('busy 2-vCPU guest after adjust(vcpus=2): CPU s per '
                       'wall s', lifted, '')
        sys.__stdout__.write('CPU time per wall second: capped %.2f (host '
                             'load %.2f), lifted %.2f (host load %.2f)\n' % (
                                 capped, load, lifted, os.getloadavg()[0]))
        self.assertFalse([m for _, m in console.lines(CPULOAD_LINE)
                          if m.group(1) == 'stop'])

    def test_memory_shrink_the_guest_cannot_give_is_refused(self):
        """A shrink below what the guest uses is refused at once.

        The agent guest, grown to 1024 MiB, holds 448 MiB (``xloud-load
        mem`` through ``guest-exec``); once its balloon statistics show it,
        ``adjust(memory_mb=512)`` returns at once with the refusal, and
        nothing changed (balloon, limit, ``read()``); a shrink within what
        its statistics say it can give succeeds.
        """
        dom, console, started, first = self._agent_guest()
        instance = self.instances[dom.UUIDString()]
        self._wait_agent(dom, started)
        driver = self._driver()
        # the guest's statistics at 512 MiB, before the grow
        self._stats_after(dom, time.time())
        grow_wall = time.time()
        result, _, _ = self._adjust(driver, instance,
                                    'agent guest: adjust(memory_mb=1024)',
                                    memory_mb=1024)
        self.assertEqual([], result['errors'])
        self.assertEqual(1024, result['memory_mb'])
        # Right after the grow: the balloon's size ('actual', QEMU's) is
        # already 1024, its statistics ('usable', the guest's, every 10 s)
        # may still be those of the guest at 512. What would a shrink to
        # 768 be told now, and once the guest reported at 1024?
        early = dom.memoryStats()
        early_refusal = xloud_guest_report.shrink_refusal(dom, 768)
        fresh = self._stats_after(dom, time.time() + 1)
        fresh_refusal = xloud_guest_report.shrink_refusal(dom, 768)
        stale = early['last_update'] < grow_wall
        sys.__stdout__.write(
            'right after the grow to 1024: stats %s the grow (actual %d, '
            'usable %d MiB): shrink to 768 %s; statistics at 1024 (usable '
            '%d MiB): %s\n' % (
                'from before' if stale else 'after',
                early['actual'] // MIB, early['usable'] // MIB,
                'REFUSED: %s' % early_refusal if early_refusal else 'allowed',
                fresh['usable'] // MIB,
                'REFUSED: %s' % fresh_refusal if fresh_refusal else
                'allowed'))
        support.figure('after a grow to 1024, shrink to 768: stats from '
                       'before it / refused', '%s/%s' % (
                           stale, bool(early_refusal)), '')
        # statistics of before the grow are not the guest's word on 1024
        if stale:
            self.assertIsNone(early_refusal, early)
        # the guest at 1024 can give 256 MiB
        self.assertIsNone(fresh_refusal, fresh)

        began = time.monotonic()
        _agent(dom, {'execute': 'guest-exec', 'arguments': {
            'path': '/bin/xloud-load',
            'arg': ['mem', str(HOLD_MIB), str(HOLD_SECONDS)]}})
        held, _ = self._wait_line(console, MEMLOAD_LINE, began,
                                  lambda m: m.group(1) == 'held')
        stats = self._stats_after(dom, time.time() + 1)
        support.figure('memload held -> memoryStats shows it',
                       time.monotonic() - held)
        usable = stats['usable'] // MIB
        actual = stats['actual'] // MIB
        margin = CONF.xloud.memory_shrink_margin_mb
        lowest = actual - usable + margin
        support.figure('holding %d MiB of 1024: usable / smallest shrink'
                       % HOLD_MIB, '%d/%d' % (usable, lowest), 'MiB')
        self.assertEqual(1024, actual)
        # 512 is below what it uses (1024 - usable)
        self.assertGreater(actual - usable, 512, stats)
        before = xloud_adjust.read(driver, instance)
        limit = dom.memoryParameters(
            libvirt.VIR_DOMAIN_AFFECT_LIVE)['hard_limit']

        result, began, returned = self._adjust(
            driver, instance, 'refused adjust(memory_mb=512)', memory_mb=512)
        took = returned - began
        self.assertEqual(1, len(result['errors']), result)
        self.assertIn('cannot shrink below',
                      result['errors'][0])
        self.assertLess(took, MEMORY_RELEASE_TIMEOUT / 10.0)
        self.assertEqual(1024, result['memory_mb'])
        self.assertEqual(1024 * MIB, dom.info()[2])
        self.assertEqual(limit, dom.memoryParameters(
            libvirt.VIR_DOMAIN_AFFECT_LIVE)['hard_limit'])
        self.assertEqual((1024 + OVERHEAD_MB) * MIB, limit)
        after = xloud_adjust.read(driver, instance)
        for key in ('vcpus', 'memory_mb', 'limit_mb', 'balloon_mb'):
            self.assertEqual(before[key], after[key], key)

        # within what it can give: done
        target = min(1024 - 64, (lowest + 64 + 63) // 64 * 64)
        result, began, returned = self._adjust(
            driver, instance, 'adjust(memory_mb=%d) within what it can give'
            % target, memory_mb=target)
        self.assertEqual([], result['errors'])
        self.assertEqual(target, result['memory_mb'])
        self.assertEqual((target + OVERHEAD_MB) * MIB, dom.memoryParameters(
            libvirt.VIR_DOMAIN_AFFECT_LIVE)['hard_limit'])
        self.assertEqual(target * MIB, dom.info()[2])
        self.assertTrue(dom.isActive())

    # -- no agent: how the agent's calls fail --

    def _agent_call_fails(self, dom, label):
        """vcpusFlags(GUEST), setVcpusFlags(1, GUEST) and guest-ping must
        fail; their error and time are printed."""
        calls = (
            ('vcpusFlags(GUEST)',
             lambda: dom.vcpusFlags(libvirt.VIR_DOMAIN_VCPU_GUEST)),
            ('setVcpusFlags(1, GUEST)',
             lambda: dom.setVcpusFlags(1, libvirt.VIR_DOMAIN_VCPU_GUEST)),
            ('guest-ping', lambda: _agent(dom, {'execute': 'guest-ping'})),
        )
        codes = []
        for name, call in calls:
            began = time.monotonic()
            with self.assertRaises(libvirt.libvirtError) as caught:
                call()
            took = time.monotonic() - began
            e = caught.exception
            codes.append(e.get_error_code())
            sys.__stdout__.write('%s: %s fails in %.3f s: error %d domain '
                                 '%d: %s\n' % (label, name, took,
                                               e.get_error_code(),
                                               e.get_error_domain(),
                                               e.get_error_message()))
            support.figure('%s: %s fails (error %d)' % (
                label, name, e.get_error_code()), took)
        return codes

    def test_no_agent_fails_fast(self):
        """The guest without an agent: no channel in its XML (its image
        has no hw_qemu_guest_agent), the guest image without qemu-ga."""
        self.assertNotIn(AGENT_CHANNEL, self.xml['plain'])
        dom, console, started = self._start_guest(
            'plain', driver_xml.MINIMUM, self.plain_image)
        console.wait_for('a first line', lambda n, kb: True, started,
                         timeout=real_guest.BOOT_TIMEOUT)
        codes = self._agent_call_fails(dom, 'no agent')
        self.assertEqual({libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED}, set(codes))

    def test_silent_agent_fails_fast(self):
        """The channel is there, the guest's agent never starts
        (``xloud_agent=0``)."""
        dom, console, started, first = self._agent_guest(
            cmdline='xloud_agent=0')
        self._wait_line(console, AGENT_LINE, started,
                        lambda m: m.group(1) == 'off')
        codes = self._agent_call_fails(dom, 'silent agent')
        self.assertEqual({libvirt.VIR_ERR_AGENT_UNRESPONSIVE}, set(codes))
