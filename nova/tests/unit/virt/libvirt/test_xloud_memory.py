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

"""Unit tests of nova/virt/libvirt/xloud_memory.py: the host-enforced limit.

A fake domain keeps the balloon target, the memory cgroup hard limit and
what the host sees QEMU use (``rss``), and logs every call, so the order
of limit and balloon changes is what is tested.
"""

import os
import time
from unittest import mock

import fixtures
from lxml import etree
from oslo_utils.fixture import uuidsentinel as uuids

from nova.compute import xloud
from nova import objects
from nova import test
from nova.tests import fixtures as nova_fixtures
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.virt import event as virtevent
from nova.virt.libvirt import host
from nova.virt.libvirt import xloud_adjust
from nova.virt.libvirt import xloud_memory

LIVE = fakelibvirt.VIR_DOMAIN_AFFECT_LIVE
CONFIG = fakelibvirt.VIR_DOMAIN_AFFECT_CONFIG
MIB = 1024


def _error(message, code=fakelibvirt.VIR_ERR_INTERNAL_ERROR):
    return fakelibvirt.make_libvirtError(
        fakelibvirt.libvirtError, message, error_code=code)


class Dom(object):
    """A running domain: balloon, hard limit and QEMU's resident memory.

    ``rss_after_balloon`` says what QEMU's RSS becomes after a balloon
    change: a callable(kib) -> rss kib (a guest that gives memory back) or
    None (a guest that keeps what it has).
    """

    def __init__(self, balloon_mb=512, limit_mb=None, rss_mb=300):
        self.balloon = balloon_mb * MIB
        self.config_balloon = self.balloon
        self.limit = (limit_mb * MIB if limit_mb is not None
                      else xloud_memory.UNLIMITED_KIB)
        self.rss = rss_mb * MIB
        self.rss_after_balloon = lambda kib: min(self.rss, kib)
        self.calls = []
        self.fail = {}
        self.active = True

    def isActive(self):
        return self.active

    def vcpusFlags(self, flags):
        return 1

    def info(self):
        return [1, 1024 * MIB, self.balloon, 1, 0]

    def memoryParameters(self, flags):
        return {'hard_limit': self.limit, 'soft_limit':
                xloud_memory.UNLIMITED_KIB}

    def setMemoryParameters(self, params, flags):
        self.calls.append(('limit', params['hard_limit'] // MIB, flags))
        if 'limit' in self.fail:
            raise self.fail['limit']
        self.limit = params['hard_limit']

    def memoryStats(self):
        return {'actual': self.balloon, 'rss': self.rss}

    def setMemoryFlags(self, kib, flags):
        self.calls.append(('balloon', kib // MIB, flags))
        if ('balloon', flags) in self.fail:
            raise self.fail[('balloon', flags)]
        if flags == CONFIG:
            self.config_balloon = kib
            return
        self.balloon = kib
        if self.rss_after_balloon:
            self.rss = self.rss_after_balloon(kib)


def _instance(minimum=True):
    specs = {xloud.MIN_MEMORY_SPEC: '512'} if minimum else {}
    flavor = objects.Flavor(flavorid='xl', name='xl', vcpus=4,
                            memory_mb=1024, extra_specs=specs)
    return objects.Instance(uuid=uuids.server, flavor=flavor,
                            system_metadata={})


def _host(guest):
    """A driver's Host whose get_guest() finds ``guest``."""
    return mock.Mock(get_guest=mock.Mock(return_value=guest))


class _Base(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(nova_fixtures.LibvirtFixture())
        self.flags(virt_type='qemu', group='libvirt')
        self.flags(memory_overhead_mb=100, memory_release_timeout=0,
                   group='xloud')
        self.useFixture(fixtures.MonkeyPatch(
            'nova.virt.libvirt.xloud_memory.RELEASE_POLL', 0.001))
        self.useFixture(fixtures.MonkeyPatch(
            'nova.virt.libvirt.xloud_adjust.BALLOON_WAIT', 0.01))
        self.useFixture(fixtures.MonkeyPatch(
            'nova.virt.libvirt.xloud_adjust.BALLOON_POLL', 0.001))


class HostSupportTest(test.NoDBTestCase):

    def _supported(self, text):
        with mock.patch('builtins.open', mock.mock_open(read_data=text)):
            return xloud_memory.host_supported()

    def test_proc_cgroups(self):
        header = '#subsys_name\thierarchy\tnum_cgroups\tenabled\n'
        self.assertTrue(self._supported(header + 'memory\t4\t90\t1\n'))
        # cgroup v2: hierarchy 0, still enabled
        self.assertTrue(self._supported(header + 'memory\t0\t90\t1\n'))
        self.assertFalse(self._supported(header + 'memory\t0\t1\t0\n'))
        self.assertFalse(self._supported(header + 'cpu\t3\t9\t1\n'))

    def test_no_proc_cgroups(self):
        with mock.patch('builtins.open', side_effect=OSError('no')):
            self.assertFalse(xloud_memory.host_supported())


class LaunchTest(_Base):

    def setUp(self):
        super().setUp()
        self.dom = Dom()
        self.guest = mock.Mock(_domain=self.dom)
        self.guest.launch.side_effect = (
            lambda pause: self.dom.calls.append(('launch', pause)))
        self.guest.resume.side_effect = (
            lambda: self.dom.calls.append(('resume',)))

    def test_started_paused_limited_then_resumed(self):
        xloud_memory.launch(self.guest, _instance(), pause=False)
        self.assertEqual([('launch', True), ('limit', 612, LIVE),
                          ('resume',)], self.dom.calls)

    def test_caller_wants_it_paused(self):
        # spawn waits for the network paused, then resumes it itself
        xloud_memory.launch(self.guest, _instance(), pause=True)
        self.assertEqual([('launch', True), ('limit', 612, LIVE)],
                         self.dom.calls)

    def test_current_memory_is_the_recorded_one(self):
        instance = _instance()
        xloud.set_current(instance, vcpus=1, memory_mb=768)
        xloud_memory.launch(self.guest, instance)
        self.assertIn(('limit', 868, LIVE), self.dom.calls)

    def test_flavor_without_minimum_launches_as_upstream(self):
        xloud_memory.launch(self.guest, _instance(minimum=False))
        self.assertEqual([('launch', False)], self.dom.calls)

    def test_lxc_launches_as_upstream(self):
        self.flags(virt_type='lxc', group='libvirt')
        xloud_memory.launch(self.guest, _instance(), pause=False)
        self.assertEqual([('launch', False)], self.dom.calls)

    def test_limit_refused_destroys_the_guest(self):
        self.dom.fail['limit'] = _error('cgroup memory controller is not '
                                        'mounted')
        ex = self.assertRaises(xloud_memory.MemoryLimitError,
                               xloud_memory.launch, self.guest, _instance())
        self.assertIn('612 MiB', str(ex))
        self.assertIn('not mounted', str(ex))
        self.guest.poweroff.assert_called_once_with()
        self.guest.resume.assert_not_called()


class LiveMigrationTest(_Base):
    """The limit across a live migration: out of the XML, set live after."""

    XML = (
        '<domain type="qemu"><name>instance-1</name>'
        '<memory>1048576</memory><currentMemory>524288</currentMemory>'
        '<memtune>%s</memtune><devices/></domain>')

    def _stripped(self, memtune, instance=None):
        doc = etree.fromstring(self.XML % memtune)
        doc = xloud_memory.migration_xml(instance or _instance(), doc)
        return doc

    def test_hard_limit_leaves_the_destination_xml(self):
        # what libvirt's migratable XML of a launched guest holds
        doc = self._stripped('<hard_limit unit="KiB">626688</hard_limit>')
        self.assertIsNone(doc.find('./memtune'))
        self.assertEqual('524288', doc.find('./currentMemory').text)

    def test_other_memory_tunables_stay(self):
        doc = self._stripped('<hard_limit unit="KiB">626688</hard_limit>'
                             '<soft_limit unit="KiB">400000</soft_limit>')
        self.assertEqual(['soft_limit'],
                         [el.tag for el in doc.find('./memtune')])

    def test_without_memtune_nothing_changes(self):
        doc = etree.fromstring(
            '<domain><name>x</name><devices/></domain>')
        before = etree.tostring(doc)
        self.assertEqual(before, etree.tostring(
            xloud_memory.migration_xml(_instance(), doc)))

    def test_flavor_without_minimum_migrates_as_upstream(self):
        doc = self._stripped('<hard_limit unit="KiB">626688</hard_limit>',
                             instance=_instance(minimum=False))
        self.assertEqual('626688', doc.find('./memtune/hard_limit').text)

    def test_destination_sets_the_limit_live(self):
        dom = Dom(limit_mb=None)
        instance = _instance()
        xloud.set_current(instance, vcpus=1, memory_mb=768)
        xloud_memory.limit_migrated(_host(mock.Mock(_domain=dom)), instance)
        self.assertEqual([('limit', 868, LIVE)], dom.calls)

    def test_destination_limit_follows_the_live_only_values(self):
        # grown to 900 MiB without persist: the guest runs 900 on the
        # destination, the persisted value is still the flavor's minimum
        dom = Dom(limit_mb=None)
        instance = _instance()
        xloud.record(instance, 1, 900, persist=False)
        self.assertEqual(512, xloud.current(instance)[1])
        xloud_memory.limit_migrated(_host(mock.Mock(_domain=dom)), instance)
        self.assertEqual([('limit', 1000, LIVE)], dom.calls)

    def test_destination_that_has_the_limit_changes_nothing(self):
        dom = Dom(limit_mb=612)
        xloud_memory.limit_migrated(_host(mock.Mock(_domain=dom)),
                                    _instance())
        self.assertEqual([], dom.calls)

    def test_destination_of_a_flavor_without_minimum(self):
        guests = _host(mock.Mock(_domain=Dom(limit_mb=None)))
        xloud_memory.limit_migrated(guests, _instance(minimum=False))
        guests.get_guest.assert_not_called()

    def test_instance_without_a_context_is_left_alone(self):
        # what upstream's unit tests pass: no flavor, none to load
        guests = _host(mock.Mock(_domain=Dom(limit_mb=None)))
        xloud_memory.limit_migrated(
            guests, objects.Instance(id=1, uuid=uuids.instance))
        guests.get_guest.assert_not_called()

    def test_destination_limit_refused_stops_the_guest(self):
        # cgroup v1, a guest that took more meanwhile: the kernel refuses
        dom = Dom(limit_mb=None, rss_mb=900)
        dom.fail['limit'] = _error(
            "Unable to write to '/sys/fs/cgroup/memory/machine/qemu-4-"
            "instance-1.libvirt-qemu/memory.limit_in_bytes': Device or "
            "resource busy")
        guest = mock.Mock(_domain=dom)
        ex = self.assertRaises(xloud_memory.MigratedMemoryLimitError,
                               xloud_memory.limit_migrated, _host(guest),
                               _instance())
        self.assertIn('612 MiB', str(ex))
        self.assertIn('Device or resource busy', str(ex))
        self.assertIn('stopped', str(ex))
        guest.poweroff.assert_called_once_with()

    def test_destination_guest_that_cannot_be_stopped_still_raises(self):
        dom = Dom(limit_mb=None)
        dom.fail['limit'] = _error('cgroup memory controller is not mounted')
        guest = mock.Mock(_domain=dom)
        guest.poweroff.side_effect = _error('domain is not running')
        self.assertRaises(xloud_memory.MigratedMemoryLimitError,
                          xloud_memory.limit_migrated, _host(guest),
                          _instance())


class AdjustOrderTest(_Base):
    """xloud_adjust.adjust on a limited guest: order, timeout, read-back."""

    def setUp(self):
        super().setUp()
        self.dom = Dom(balloon_mb=512, limit_mb=612, rss_mb=560)
        self.driver = mock.Mock()
        self.driver._host.get_guest.return_value = mock.Mock(
            _domain=self.dom)
        self.instance = _instance()

    def _adjust(self, memory_mb, persist=True):
        return xloud_adjust.adjust(self.driver, self.instance,
                                   memory_mb=memory_mb, persist=persist)

    def test_grow_raises_the_limit_before_the_balloon(self):
        res = self._adjust(896)
        self.assertEqual([], res['errors'])
        self.assertEqual(896, res['memory_mb'])
        self.assertEqual(896, res['limit_mb'])
        self.assertEqual([('limit', 996, LIVE), ('balloon', 896, LIVE),
                          ('balloon', 896, CONFIG)], self.dom.calls)

    def test_grow_balloon_failure_restores_the_limit(self):
        self.dom.fail[('balloon', LIVE)] = _error('balloon is gone')
        res = self._adjust(896)
        self.assertEqual(512, res['memory_mb'])
        self.assertIn('balloon is gone', res['errors'][0])
        self.assertEqual(612 * MIB, self.dom.limit)
        self.assertEqual([('limit', 996, LIVE), ('balloon', 896, LIVE),
                          ('limit', 612, LIVE), ('balloon', 512, CONFIG)],
                         self.dom.calls)

    def test_grow_limit_refused_changes_nothing(self):
        self.dom.fail['limit'] = _error('no')
        res = self._adjust(896)
        self.assertEqual(512, res['memory_mb'])
        self.assertEqual([('limit', 996, LIVE), ('balloon', 512, CONFIG)],
                         self.dom.calls)

    def test_shrink_lowers_the_limit_once_the_host_sees_it(self):
        self.dom = Dom(balloon_mb=896, limit_mb=996, rss_mb=950)
        self.driver._host.get_guest.return_value._domain = self.dom
        xloud.set_current(self.instance, memory_mb=896)
        res = self._adjust(640)
        self.assertEqual([], res['errors'])
        self.assertEqual(640, res['memory_mb'])
        self.assertEqual([('balloon', 640, LIVE), ('limit', 740, LIVE),
                          ('balloon', 640, CONFIG)], self.dom.calls)

    def test_shrink_waits_for_the_host_not_the_guest(self):
        # the balloon's 'actual' says done at once; QEMU's RSS follows
        # only after a few polls
        self.dom = Dom(balloon_mb=896, limit_mb=996, rss_mb=950)
        self.driver._host.get_guest.return_value._domain = self.dom
        self.flags(memory_release_timeout=5, group='xloud')
        self.dom.rss_after_balloon = None
        polls = []
        real_stats = self.dom.memoryStats

        def stats():
            polls.append(1)
            if len(polls) == 3:
                self.dom.rss = 700 * MIB
            return real_stats()
        self.dom.memoryStats = stats
        res = self._adjust(640)
        self.assertEqual([], res['errors'])
        # three polls until the host saw it (one more: the read-back)
        self.assertEqual(4, len(polls))
        self.assertEqual(740 * MIB, self.dom.limit)

    def test_guest_that_keeps_its_memory_keeps_limit_and_claim(self):
        # never loads its balloon driver: setMemoryFlags succeeds, the
        # balloon 'actual' may even say 640, QEMU stays resident
        self.dom = Dom(balloon_mb=896, limit_mb=996, rss_mb=990)
        self.driver._host.get_guest.return_value._domain = self.dom
        self.dom.rss_after_balloon = None
        res = self._adjust(640)
        self.assertEqual(896, res['memory_mb'])
        self.assertEqual(896, res['limit_mb'])
        self.assertEqual(1, len(res['errors']))
        self.assertIn('did not give back its memory', res['errors'][0])
        self.assertIn('990 MiB', res['errors'][0])
        self.assertIn('keeps its memory, its limit and its claim',
                      res['errors'][0])
        self.assertEqual(996 * MIB, self.dom.limit)
        # the balloon target is back at what the limit allows
        self.assertEqual([('balloon', 640, LIVE), ('balloon', 896, LIVE),
                          ('balloon', 896, CONFIG)], self.dom.calls)

    def test_limit_that_cannot_be_lowered_restores_the_balloon(self):
        self.dom = Dom(balloon_mb=896, limit_mb=996, rss_mb=700)
        self.driver._host.get_guest.return_value._domain = self.dom
        self.dom.fail['limit'] = _error('Device or resource busy')
        res = self._adjust(640)
        self.assertEqual(896, res['memory_mb'])
        self.assertIn('lowering the memory limit to 740 MiB',
                      res['errors'][0])
        self.assertEqual([('balloon', 640, LIVE), ('limit', 740, LIVE),
                          ('balloon', 896, LIVE), ('balloon', 896, CONFIG)],
                         self.dom.calls)

    def test_guest_without_a_limit_gets_one(self):
        self.dom = Dom(balloon_mb=512, limit_mb=None, rss_mb=500)
        self.driver._host.get_guest.return_value._domain = self.dom
        res = self._adjust(512, persist=False)
        self.assertEqual([], res['errors'])
        self.assertEqual(512, res['memory_mb'])
        self.assertEqual(612 * MIB, self.dom.limit)

    def test_read_is_what_the_host_enforces(self):
        # the guest's balloon driver may report anything
        self.dom.balloon = 300 * MIB
        real = xloud_adjust.read(self.driver, self.instance)
        self.assertEqual(512, real['memory_mb'])
        self.assertEqual(512, real['limit_mb'])
        self.assertEqual(300, real['balloon_mb'])
        self.assertEqual(560, real['used_mb'])

    def test_read_without_a_limit_is_the_maximum(self):
        self.dom.limit = xloud_memory.UNLIMITED_KIB
        real = xloud_adjust.read(self.driver, self.instance)
        self.assertEqual(1024, real['memory_mb'])
        self.assertIsNone(real['limit_mb'])

    def test_flavor_without_minimum_is_not_limited(self):
        res = xloud_adjust.adjust(self.driver, _instance(minimum=False),
                                  memory_mb=1024, persist=False)
        self.assertEqual(1024, res['memory_mb'])
        self.assertNotIn('limit_mb', res)
        self.assertEqual([('balloon', 1024, LIVE)], self.dom.calls)


class HostKilledGuestTest(test.NoDBTestCase):
    """A stop libvirt did not ask for, and the kernel's word on why."""

    LINE = ('oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),'
            'cpuset=vcpu0,mems_allowed=0,oom_memcg=%s,task_memcg=%s,'
            'task=qemu-system-x86,pid=9442,uid=0')
    NOW = 5400 * 1000000

    def _line(self, memcg):
        return self.LINE % (memcg, memcg)

    def test_unasked_stop_is_marked(self):
        ev = xloud_memory.lifecycle_event(
            uuids.server, virtevent.EVENT_LIFECYCLE_STOPPED,
            fakelibvirt.VIR_DOMAIN_EVENT_STOPPED, xloud_memory.STOPPED_FAILED)
        self.assertIsInstance(ev, virtevent.LifecycleEvent)
        self.assertTrue(xloud_memory.unasked_stop(ev))

    def test_asked_stops_are_not(self):
        for detail in (0, 1, 3, 4, 6):   # shutdown, destroyed, migrated...
            ev = xloud_memory.lifecycle_event(
                uuids.server, virtevent.EVENT_LIFECYCLE_STOPPED,
                fakelibvirt.VIR_DOMAIN_EVENT_STOPPED, detail)
            self.assertFalse(xloud_memory.unasked_stop(ev))
        ev = xloud_memory.lifecycle_event(
            uuids.server, virtevent.EVENT_LIFECYCLE_STARTED,
            fakelibvirt.VIR_DOMAIN_EVENT_STARTED, 5)
        self.assertFalse(xloud_memory.unasked_stop(ev))
        self.assertFalse(xloud_memory.unasked_stop(
            virtevent.LifecycleEvent(uuids.server,
                                     virtevent.EVENT_LIFECYCLE_STOPPED)))

    def test_oom_record_cgroup_v1(self):
        rec = xloud_memory.oom_record('instance-00000001', [
            (self.NOW - 10 ** 6, self._line(
                '/machine/qemu-3-instance-00000001.libvirt-qemu'))],
            now_usec=self.NOW)
        self.assertEqual(('qemu-system-x86', '9442'),
                         (rec.group('task'), rec.group('pid')))

    def test_oom_record_systemd_cgroup_v2(self):
        memcg = ('/machine.slice/machine-qemu\\x2d12\\x2dinstance\\x2d'
                 '00000001.scope/libvirt')
        self.assertIsNotNone(xloud_memory.oom_record(
            'instance-00000001', [(self.NOW, self._line(memcg))],
            now_usec=self.NOW))

    def test_oom_record_of_another_guest_or_old_is_none(self):
        records = [
            # another domain whose name starts the same
            (self.NOW, self._line(
                '/machine/qemu-4-instance-000000010.libvirt-qemu')),
            # an OOM outside any memory limit (the host's)
            (self.NOW, self.LINE.replace('CONSTRAINT_MEMCG', 'CONSTRAINT_NONE')
             % ('/', '/machine/qemu-3-instance-00000001.libvirt-qemu')),
            # this guest's, but long ago (an earlier life)
            (self.NOW - (xloud_memory.OOM_RECORD_WINDOW + 1) * 10 ** 6,
             self._line('/machine/qemu-1-instance-00000001.libvirt-qemu')),
        ]
        self.assertIsNone(xloud_memory.oom_record(
            'instance-00000001', records, now_usec=self.NOW))

    def test_kmsg_records(self):
        chunks = [b'6,1,5380168114,-;' + self._line('/m').encode() + b'\n',
                  BrokenPipeError(),
                  b'4,2,5380168200,-;Memory cgroup out of memory\n'
                  b' SUBSYSTEM=memory\n',
                  None]   # no more records: a non-blocking read's None

        def read(size):
            item = chunks.pop(0)
            if isinstance(item, Exception):
                raise item
            return item

        kmsg = mock.MagicMock()
        kmsg.__enter__.return_value.read.side_effect = read
        with mock.patch('os.open', return_value=99) as opened, \
                mock.patch('io.FileIO', return_value=kmsg) as fileio:
            got = xloud_memory._kmsg_records()
        opened.assert_called_once_with(
            '/dev/kmsg', os.O_RDONLY | os.O_NONBLOCK)
        fileio.assert_called_once_with(99, 'rb', closefd=True)
        kmsg.__exit__.assert_called_once()
        self.assertEqual([(5380168114, self._line('/m')),
                          (5380168200, 'Memory cgroup out of memory')], got)

    @mock.patch.object(xloud_memory, '_kmsg_records_privileged',
                       return_value=['privileged'])
    @mock.patch.object(xloud_memory, '_kmsg_records',
                       side_effect=PermissionError)
    def test_kernel_log_through_privsep_when_restricted(self, direct, priv):
        self.assertEqual(['privileged'], xloud_memory.kernel_records())


class HostEventTest(test.NoDBTestCase):
    """nova/virt/libvirt/host.py hands an unasked stop on at once."""

    def setUp(self):
        super().setUp()
        self.useFixture(nova_fixtures.LibvirtFixture(stub_os_vif=False))
        self.emitted = []
        self.host = host.Host('qemu:///system',
                              lifecycle_event_handler=self.emitted.append)
        if hasattr(host, 'greenthread'):   # 2024.1: a delayed green thread
            self.delay = self.useFixture(fixtures.MockPatch(
                'nova.virt.libvirt.host.greenthread.spawn_after')).mock
        else:
            self.host._delayed_executor = mock.Mock()
            self.delay = self.host._delayed_executor.submit_with_delay
        # where the libvirt event thread puts an event (2024.1: the Host)
        self.queue = self.useFixture(fixtures.MockPatchObject(
            getattr(self.host, '_event_handler', self.host),
            '_queue_event')).mock
        self.explain = self.useFixture(fixtures.MockPatchObject(
            xloud_memory, 'explain')).mock

    def _callback(self, event, detail):
        dom = mock.Mock()
        dom.UUIDString.return_value = uuids.server
        host.Host._event_lifecycle_callback(None, dom, event, detail,
                                            self.host)
        ev = self.queue.call_args[0][0]
        self.host._event_emit_delayed(ev)
        return ev

    def test_killed_guest_is_explained_and_not_delayed(self):
        ev = self._callback(fakelibvirt.VIR_DOMAIN_EVENT_STOPPED,
                            xloud_memory.STOPPED_FAILED)
        self.assertEqual([ev], self.emitted)
        self.explain.assert_called_once_with(ev)
        self.delay.assert_not_called()

    def test_asked_stop_is_delayed_as_upstream(self):
        ev = self._callback(fakelibvirt.VIR_DOMAIN_EVENT_STOPPED, 0)
        self.assertEqual([], self.emitted)
        self.explain.assert_not_called()
        self.delay.assert_called_once()
        self.assertEqual((self.host._event_emit, ev),
                         self.delay.call_args[0][-2:])

    def test_first_connection_starts_the_event_loop(self):
        # init_host's new-host check connects before driver.init_host:
        # the event loop must run before that connection registers
        h = host.Host('qemu:///system')
        order = []
        h._init_events = lambda: order.append('events')
        h._connect = lambda *a: order.append('connect') or mock.Mock()
        h.get_connection()
        h.initialize()   # driver.init_host: already done
        self.assertEqual(['events', 'connect'], order)


class ExplainTest(_Base):

    def setUp(self):
        super().setUp()
        self.instance = _instance()
        self.instance.id = 1   # its name: instance-00000001
        self.instance.system_metadata = {}
        self.useFixture(fixtures.MockPatchObject(
            objects.Instance, 'get_by_uuid', return_value=self.instance))
        self.fault = self.useFixture(fixtures.MockPatch(
            'nova.compute.utils.add_instance_fault_from_exc')).mock
        self.action = self.useFixture(fixtures.MockPatchObject(
            objects.InstanceAction, 'action_start')).mock
        self.event_start = self.useFixture(fixtures.MockPatchObject(
            objects.InstanceActionEvent, 'event_start')).mock
        self.finish = self.useFixture(fixtures.MockPatchObject(
            objects.InstanceActionEvent, 'event_finish_with_failure')).mock

    def _explain(self, records):
        with mock.patch.object(xloud_memory, 'kernel_records',
                               side_effect=records):
            xloud_memory._explain(uuids.server, xloud_memory.STOPPED_FAILED)
        return self.fault.call_args[0][2] if self.fault.called else None

    def test_oom_killed(self):
        line = HostKilledGuestTest.LINE % (
            '/machine/qemu-3-instance-00000001.libvirt-qemu', '/x')
        now = int(time.monotonic() * 1000000)
        with mock.patch.object(xloud_memory.LOG, 'error') as error:
            exc = self._explain(lambda: [(now, line)])
        self.assertIsInstance(exc, xloud_memory.GuestMemoryLimitExceeded)
        msg = exc.format_message()
        self.assertIn('exceeded its memory limit of 612 MiB (512 MiB claimed'
                      ' + 100 MiB QEMU overhead)', msg)
        self.assertIn('OOM kill of qemu-system-x86 pid 9442', msg)
        # one line for the operator, naming the instance and the limit
        error.assert_called_once()
        self.assertIn('612 MiB', error.call_args[0][1])
        self.assertIs(self.instance, error.call_args[1]['instance'])
        self.action.assert_called_once_with(
            mock.ANY, uuids.server, 'xloud_memory_limit', want_result=False)
        self.assertEqual(line, self.finish.call_args[1]['exc_tb'])

    def test_kernel_log_unreadable_says_so(self):
        exc = self._explain(OSError('no /dev/kmsg'))
        self.assertIsInstance(exc, xloud_memory.GuestStoppedByHost)
        self.assertIn('could not be read (no /dev/kmsg)',
                      exc.format_message())

    def test_guest_without_a_limit_is_not_explained(self):
        self.flags(virt_type='lxc', group='libvirt')
        self.assertIsNone(self._explain([]))
        self.action.assert_not_called()
