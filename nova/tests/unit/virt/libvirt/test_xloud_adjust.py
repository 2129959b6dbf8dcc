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

"""Unit tests of nova/virt/libvirt/xloud_adjust.py with a fake domain."""

from unittest import mock

import fixtures
from oslo_utils.fixture import uuidsentinel as uuids

from nova import exception
from nova import test
from nova.tests import fixtures as nova_fixtures
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.unit import fake_instance
from nova.virt.libvirt import guest as libvirt_guest
from nova.virt.libvirt import xloud_adjust

LIVE = fakelibvirt.VIR_DOMAIN_AFFECT_LIVE
CONFIG = fakelibvirt.VIR_DOMAIN_AFFECT_CONFIG


def _error(message, code=fakelibvirt.VIR_ERR_INTERNAL_ERROR):
    return fakelibvirt.make_libvirtError(
        fakelibvirt.libvirtError, message, error_code=code)


class Dom(object):
    """Live and persistent vCPUs and memory, like libvirt keeps them."""

    def __init__(self):
        self.live = {'vcpus': 2, 'kib': 2048 * 1024}
        self.config = dict(self.live)
        self.active = True
        self.calls = []
        self.fail = {}

    def isActive(self):
        return self.active

    def vcpusFlags(self, flags):
        return (self.live if flags & LIVE else self.config)['vcpus']

    def info(self):
        return [1, 4096 * 1024, self.live['kib'], self.live['vcpus'], 0]

    def setVcpusFlags(self, n, flags):
        self.calls.append(('vcpus', n, flags))
        if ('vcpus', flags) in self.fail:
            raise self.fail[('vcpus', flags)]
        (self.live if flags == LIVE else self.config)['vcpus'] = n

    def setMemoryFlags(self, kib, flags):
        self.calls.append(('memory', kib, flags))
        if flags == LIVE | CONFIG:
            raise _error("Flags 'VIR_DOMAIN_AFFECT_LIVE' and "
                         "'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive")
        if ('memory', flags) in self.fail:
            raise self.fail[('memory', flags)]
        (self.live if flags == LIVE else self.config)['kib'] = kib


class XloudLibvirtAdjustTest(test.NoDBTestCase):

    def setUp(self):
        super(XloudLibvirtAdjustTest, self).setUp()
        self.useFixture(nova_fixtures.LibvirtFixture())
        self.flags(virt_type='kvm', group='libvirt')
        self.dom = Dom()
        self.driver = mock.Mock()
        self.driver._host.get_guest.return_value = mock.Mock(
            _domain=self.dom)
        self.instance = fake_instance.fake_instance_obj(None,
                                                        uuid=uuids.server)
        self.assertIs(fakelibvirt, libvirt_guest.libvirt)
        # QEMU's own count of plugged vCPUs (asked after an unconfirmed
        # unplug): by default it agrees with what libvirt reports.
        self.qemu_vcpus = self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.xloud_adjust._qemu_vcpus',
            side_effect=lambda dom: dom.live['vcpus'])).mock

    def _adjust(self, **kw):
        return xloud_adjust.adjust(self.driver, self.instance, **kw)

    def test_can_adjust(self):
        self.assertTrue(xloud_adjust.can_adjust())
        self.flags(virt_type='lxc', group='libvirt')
        self.assertFalse(xloud_adjust.can_adjust())
        self.assertRaises(NotImplementedError, self._adjust, vcpus=1)

    def test_persist(self):
        res = self._adjust(vcpus=3, memory_mb=3072, persist=True)
        self.assertEqual({'vcpus': 3, 'memory_mb': 3072, 'errors': []}, res)
        self.assertEqual([('vcpus', 3, LIVE), ('memory', 3072 * 1024, LIVE),
                          ('vcpus', 3, CONFIG),
                          ('memory', 3072 * 1024, CONFIG)], self.dom.calls)
        self.assertEqual(self.dom.live, self.dom.config)

    def test_live_only(self):
        res = self._adjust(vcpus=1, persist=False)
        self.assertEqual(1, res['vcpus'])
        self.assertEqual([('vcpus', 1, LIVE)], self.dom.calls)
        self.assertEqual(2, self.dom.config['vcpus'])

    def test_unplug_timeout_persists_what_runs(self):
        self.dom.fail[('vcpus', LIVE)] = _error(
            'Timed out during operation: vcpu unplug request timed out',
            code=68)
        res = self._adjust(vcpus=1, memory_mb=1024)
        self.assertEqual(2, res['vcpus'])
        self.assertEqual(1024, res['memory_mb'])
        self.assertEqual(1, len(res['errors']))
        self.assertIn('vcpu unplug request timed out', res['errors'][0])
        self.assertIn('libvirt error 68', res['errors'][0])
        self.assertEqual(2, self.dom.config['vcpus'])
        self.assertEqual(1024 * 1024, self.dom.config['kib'])
        self.qemu_vcpus.assert_called_once_with(self.dom)

    def test_unplug_timeout_libvirt_lost_count(self):
        # libvirt 9.0 + QEMU 7.2: the guest ejected the vCPU, libvirt never
        # heard of it and keeps counting it; QEMU knows.
        self.dom.fail[('vcpus', LIVE)] = _error(
            'Timed out during operation: vcpu unplug request timed out',
            code=fakelibvirt.VIR_ERR_OPERATION_TIMEOUT)
        self.qemu_vcpus.side_effect = None
        self.qemu_vcpus.return_value = 1
        res = self._adjust(vcpus=1)
        self.assertEqual(1, res['vcpus'])
        self.assertEqual(1, len(res['errors']))
        self.assertIn('libvirt error 68', res['errors'][0])
        self.assertEqual(1, self.dom.config['vcpus'])

    def test_other_vcpu_errors_do_not_ask_qemu(self):
        self.dom.fail[('vcpus', LIVE)] = _error('requested cpu amount '
                                                'exceeds maximum (5 > 4)')
        res = self._adjust(vcpus=5)
        self.assertEqual(2, res['vcpus'])
        self.qemu_vcpus.assert_not_called()

    def test_memory_failure(self):
        self.dom.fail[('memory', LIVE)] = _error(
            'cannot set memory higher than max memory')
        res = self._adjust(memory_mb=8192)
        self.assertEqual(2048, res['memory_mb'])
        self.assertIn('max memory', res['errors'][0])

    def test_config_failure_is_reported(self):
        self.dom.fail[('vcpus', CONFIG)] = _error('config is read-only')
        res = self._adjust(vcpus=3)
        self.assertEqual(3, res['vcpus'])
        self.assertIn('persisting 3 vCPUs', res['errors'][0])

    def test_not_running(self):
        self.dom.active = False
        self.assertRaises(exception.InstanceNotRunning, self._adjust,
                          vcpus=3)
        self.assertEqual([], self.dom.calls)
        self.assertRaises(exception.InstanceNotRunning, xloud_adjust.read,
                          self.driver, self.instance)

    @mock.patch.object(xloud_adjust, 'BALLOON_WAIT', 0.01)
    @mock.patch.object(xloud_adjust, 'BALLOON_POLL', 0.001)
    def test_balloon_reporting_late(self):
        real = self.dom.setMemoryFlags

        def late(kib, flags):
            self.dom.calls.append(('memory', kib, flags))
            if flags == CONFIG:
                real(kib, flags)
        self.dom.setMemoryFlags = late
        res = self._adjust(memory_mb=1024)
        # what the balloon reports is what is recorded
        self.assertEqual(2048, res['memory_mb'])

    def test_read_rounds_kib(self):
        self.dom.live['kib'] = 2048 * 1024 - 4
        self.assertEqual({'vcpus': 2, 'memory_mb': 2048},
                         xloud_adjust.read(self.driver, self.instance))
