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

"""Unit tests of nova/virt/libvirt/xloud_oom.py: a guest the host killed.

The driver marks libvirt's unasked stop and hands it on at once
(``host.py``'s hook), and explains it from the kernel's record; the
compute manager records the explanation (``xloud_manager``).
"""

import os
import time
from unittest import mock

import fixtures
from oslo_utils.fixture import uuidsentinel as uuids

from nova.compute import xloud_manager
from nova import objects
from nova import test
from nova.tests import fixtures as nova_fixtures
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.unit.virt.libvirt import test_xloud_memory as base
from nova.virt import event as virtevent
from nova.virt.libvirt import host
from nova.virt.libvirt import xloud_oom


class HostKilledGuestTest(test.NoDBTestCase):
    """A stop libvirt did not ask for, and the kernel's word on why."""

    LINE = ('oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),'
            'cpuset=vcpu0,mems_allowed=0,oom_memcg=%s,task_memcg=%s,'
            'task=qemu-system-x86,pid=9442,uid=0')
    NOW = 5400 * 1000000

    def _line(self, memcg):
        return self.LINE % (memcg, memcg)

    def test_unasked_stop_is_marked(self):
        ev = xloud_oom.lifecycle_event(
            uuids.server, virtevent.EVENT_LIFECYCLE_STOPPED,
            fakelibvirt.VIR_DOMAIN_EVENT_STOPPED, xloud_oom.STOPPED_FAILED)
        self.assertIsInstance(ev, virtevent.LifecycleEvent)
        self.assertTrue(xloud_oom.unasked_stop(ev))

    def test_asked_stops_are_not(self):
        for detail in (0, 1, 3, 4, 6):   # shutdown, destroyed, migrated...
            ev = xloud_oom.lifecycle_event(
                uuids.server, virtevent.EVENT_LIFECYCLE_STOPPED,
                fakelibvirt.VIR_DOMAIN_EVENT_STOPPED, detail)
            self.assertFalse(xloud_oom.unasked_stop(ev))
        ev = xloud_oom.lifecycle_event(
            uuids.server, virtevent.EVENT_LIFECYCLE_STARTED,
            fakelibvirt.VIR_DOMAIN_EVENT_STARTED, 5)
        self.assertFalse(xloud_oom.unasked_stop(ev))
        self.assertFalse(xloud_oom.unasked_stop(
            virtevent.LifecycleEvent(uuids.server,
                                     virtevent.EVENT_LIFECYCLE_STOPPED)))

    def test_oom_record_cgroup_v1(self):
        rec = xloud_oom.oom_record('instance-00000001', [
            (self.NOW - 10 ** 6, self._line(
                '/machine/qemu-3-instance-00000001.libvirt-qemu'))],
            now_usec=self.NOW)
        self.assertEqual(('qemu-system-x86', '9442'),
                         (rec.group('task'), rec.group('pid')))

    def test_oom_record_systemd_cgroup_v2(self):
        memcg = ('/machine.slice/machine-qemu\\x2d12\\x2dinstance\\x2d'
                 '00000001.scope/libvirt')
        self.assertIsNotNone(xloud_oom.oom_record(
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
            (self.NOW - (xloud_oom.OOM_RECORD_WINDOW + 1) * 10 ** 6,
             self._line('/machine/qemu-1-instance-00000001.libvirt-qemu')),
        ]
        self.assertIsNone(xloud_oom.oom_record(
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
            got = xloud_oom._kmsg_records()
        opened.assert_called_once_with(
            '/dev/kmsg', os.O_RDONLY | os.O_NONBLOCK)
        fileio.assert_called_once_with(99, 'rb', closefd=True)
        kmsg.__exit__.assert_called_once()
        self.assertEqual([(5380168114, self._line('/m')),
                          (5380168200, 'Memory cgroup out of memory')], got)

    @mock.patch.object(xloud_oom, '_kmsg_records_privileged',
                       return_value=['privileged'])
    @mock.patch.object(xloud_oom, '_kmsg_records',
                       side_effect=PermissionError)
    def test_kernel_log_through_privsep_when_restricted(self, direct, priv):
        self.assertEqual(['privileged'], xloud_oom.kernel_records())


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

    def _callback(self, event, detail):
        dom = mock.Mock()
        dom.UUIDString.return_value = uuids.server
        host.Host._event_lifecycle_callback(None, dom, event, detail,
                                            self.host)
        ev = self.queue.call_args[0][0]
        self.host._event_emit_delayed(ev)
        return ev

    def test_killed_guest_is_handed_on_at_once(self):
        ev = self._callback(fakelibvirt.VIR_DOMAIN_EVENT_STOPPED,
                            xloud_oom.STOPPED_FAILED)
        self.assertEqual([ev], self.emitted)
        self.assertIsNotNone(xloud_oom.unasked_stop(ev))
        self.delay.assert_not_called()

    def test_asked_stop_is_delayed_as_upstream(self):
        ev = self._callback(fakelibvirt.VIR_DOMAIN_EVENT_STOPPED, 0)
        self.assertEqual([], self.emitted)
        self.assertIsNone(xloud_oom.unasked_stop(ev))
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


class KillRecordTest(base._Base):
    """The whole path of a kill's why: the driver's explanation
    (``UnaskedStop.explain``) recorded by the compute manager
    (``xloud_manager.lifecycle_event``): fault, action, one ERROR line.
    """

    def setUp(self):
        super().setUp()
        self.instance = base._instance()
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
        # the compute records in the background: run it here, now
        self.useFixture(fixtures.MockPatch(
            'nova.xloud_compat.spawn', side_effect=lambda f, *a: f(*a)))
        self.manager = mock.Mock(host='compute1')

    def _explain(self, records):
        ev = xloud_oom.lifecycle_event(
            uuids.server, virtevent.EVENT_LIFECYCLE_STOPPED,
            fakelibvirt.VIR_DOMAIN_EVENT_STOPPED, xloud_oom.STOPPED_FAILED)
        with mock.patch.object(xloud_oom, 'kernel_records',
                               side_effect=records):
            xloud_manager.lifecycle_event(self.manager, ev)
        return self.fault.call_args[0][2] if self.fault.called else None

    def test_oom_killed(self):
        line = HostKilledGuestTest.LINE % (
            '/machine/qemu-3-instance-00000001.libvirt-qemu', '/x')
        now = int(time.monotonic() * 1000000)
        with mock.patch.object(xloud_manager.LOG, 'error') as error:
            exc = self._explain(lambda: [(now, line)])
        self.assertIsInstance(exc, xloud_oom.GuestMemoryLimitExceeded)
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
        self.assertEqual('compute1', self.event_start.call_args[1]['host'])
        self.assertEqual(line, self.finish.call_args[1]['exc_tb'])

    def test_kernel_log_unreadable_says_so(self):
        exc = self._explain(OSError('no /dev/kmsg'))
        self.assertIsInstance(exc, xloud_oom.GuestStoppedByHost)
        self.assertIn('could not be read (no /dev/kmsg)',
                      exc.format_message())

    def test_guest_without_a_limit_is_not_explained(self):
        self.flags(virt_type='lxc', group='libvirt')
        self.assertIsNone(self._explain([]))
        self.action.assert_not_called()

    def test_other_events_are_not_recorded(self):
        ev = xloud_oom.lifecycle_event(
            uuids.server, virtevent.EVENT_LIFECYCLE_STOPPED,
            fakelibvirt.VIR_DOMAIN_EVENT_STOPPED, 0)
        xloud_manager.lifecycle_event(self.manager, ev)
        xloud_manager.lifecycle_event(self.manager, virtevent.LifecycleEvent(
            uuids.server, virtevent.EVENT_LIFECYCLE_STARTED))
        objects.Instance.get_by_uuid.assert_not_called()
        self.fault.assert_not_called()
