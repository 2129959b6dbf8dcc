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

import time
from unittest import mock

import fixtures
from oslo_utils.fixture import uuidsentinel as uuids
from oslo_utils import uuidutils

from nova import exception
from nova import test
from nova.tests import fixtures as nova_fixtures
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.unit import fake_instance
from nova.virt.libvirt import guest as libvirt_guest
from nova.virt.libvirt import xloud_adjust
from nova.virt.libvirt import xloud_cpu

LIVE = fakelibvirt.VIR_DOMAIN_AFFECT_LIVE
CONFIG = fakelibvirt.VIR_DOMAIN_AFFECT_CONFIG
VCPU_GUEST = xloud_cpu.VCPU_GUEST


def _error(message, code=fakelibvirt.VIR_ERR_INTERNAL_ERROR):
    return fakelibvirt.make_libvirtError(
        fakelibvirt.libvirtError, message, error_code=code)


class Dom(object):
    """Live and persistent vCPUs and memory, like libvirt keeps them."""

    def __init__(self):
        self.live = {'vcpus': 2, 'kib': 2048 * 1024}
        self.config = dict(self.live)
        self.active = True
        self.uuid = uuidutils.generate_uuid()
        self.calls = []
        self.fail = {}
        self.sched = {'global_period': 100000, 'global_quota': -1}
        # the guest agent: None (no channel), 'answered', 'silent',
        # 'refused'; and the vCPUs the guest has online
        self.agent = None
        self.online = 2
        self.stats = {'available': 1900 * 1024, 'usable': 1500 * 1024}

    def isActive(self):
        return self.active

    def UUIDString(self):
        return self.uuid

    def _agent(self):
        if self.agent is None:
            raise _error('argument unsupported: QEMU guest agent is not '
                         'configured', code=74)
        if self.agent == 'silent':
            raise _error('Guest agent is not responding: QEMU guest agent '
                         'is not connected', code=86)
        if self.agent == 'refused':
            raise _error('unable to execute QEMU agent command')

    def vcpusFlags(self, flags):
        if flags & VCPU_GUEST:
            self._agent()
            return self.online
        return (self.live if flags & LIVE else self.config)['vcpus']

    def schedulerParametersFlags(self, flags):
        return dict(self.sched)

    def setSchedulerParametersFlags(self, params, flags):
        self.calls.append(('cap', params.get('global_quota'), flags))
        if ('cap', flags) in self.fail:
            raise self.fail[('cap', flags)]
        self.sched.update(params)

    def memoryStats(self):
        stats = {'last_update': int(time.time())}
        stats.update(self.stats, actual=self.live['kib'])
        return stats

    def info(self):
        return [1, 4096 * 1024, self.live['kib'], self.live['vcpus'], 0]

    def setVcpusFlags(self, n, flags):
        self.calls.append(('vcpus', n, flags))
        if flags & VCPU_GUEST:
            self._agent()
            self.online = min(n, self.live['vcpus'])
            return
        if ('vcpus', flags) in self.fail:
            raise self.fail[('vcpus', flags)]
        if flags == LIVE:
            self.online = (self.online + n - self.live['vcpus']
                           if n > self.live['vcpus'] else min(self.online, n))
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
        # a host whose libvirt and QEMU confirm an unplug (xloud_cpu);
        # the cap, where they do not, is XloudLibvirtCpuTest's
        self.flags(vcpu_unplug='always', group='xloud')
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
        self.assertEqual({'vcpus': 3, 'memory_mb': 3072, 'errors': [],
                          'vcpus_plugged': 3},
                         {k: res[k] for k in ('vcpus', 'memory_mb',
                                              'errors', 'vcpus_plugged')})
        self.assertNotIn('vcpus_kept', res)
        # no agent: nothing inside the guest confirms
        self.assertEqual(xloud_cpu.AGENT_NONE, res['guest']['agent'])
        self.assertEqual([('vcpus', 3, LIVE), ('memory', 3072 * 1024, LIVE),
                          ('vcpus', 3, CONFIG),
                          ('memory', 3072 * 1024, CONFIG)], self.dom.calls)
        self.assertEqual(self.dom.live, self.dom.config)

    def test_live_only(self):
        res = self._adjust(vcpus=1, persist=False)
        self.assertEqual(1, res['vcpus'])
        self.assertEqual([('vcpus', 1, LIVE)], self.dom.calls)
        self.assertEqual(2, self.dom.config['vcpus'])

    def test_unplug_timeout_caps_the_guest(self):
        # an unplug libvirt did not confirm (error 68): the host caps the
        # guest's CPU time at what was asked, and that is what it may use
        self.dom.fail[('vcpus', LIVE)] = _error(
            'Timed out during operation: vcpu unplug request timed out',
            code=fakelibvirt.VIR_ERR_OPERATION_TIMEOUT)
        res = self._adjust(vcpus=1, memory_mb=1024)
        self.assertEqual(1, res['vcpus'])
        self.assertEqual(2, res['vcpus_plugged'])
        self.assertEqual(xloud_cpu.KEPT_UNPLUG_FAILED, res['vcpus_kept'])
        self.assertEqual(1024, res['memory_mb'])
        self.assertEqual(1, len(res['errors']))
        self.assertIn('vcpu unplug request timed out', res['errors'][0])
        self.assertIn('libvirt error 68', res['errors'][0])
        self.assertEqual(100000, self.dom.sched['global_quota'])
        self.assertEqual(1, self.dom.config['vcpus'])
        self.assertEqual(1024 * 1024, self.dom.config['kib'])
        self.qemu_vcpus.assert_not_called()

    def test_unplug_timeout_without_cap_asks_qemu(self):
        # libvirt 9.0 + QEMU 7.2: the guest ejected the vCPU, libvirt never
        # heard of it and keeps counting it; the cap fails too: QEMU knows.
        self.dom.fail[('vcpus', LIVE)] = _error(
            'Timed out during operation: vcpu unplug request timed out',
            code=fakelibvirt.VIR_ERR_OPERATION_TIMEOUT)
        self.dom.fail[('cap', LIVE)] = _error('no cpu controller')
        self.qemu_vcpus.side_effect = None
        self.qemu_vcpus.return_value = 1
        res = self._adjust(vcpus=1)
        self.assertEqual(1, res['vcpus'])
        self.assertEqual(2, len(res['errors']))
        self.assertIn('libvirt error 68', res['errors'][0])
        self.assertIn("capping the CPU time at 1 vCPUs' worth",
                      res['errors'][1])
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
        real = xloud_adjust.read(self.driver, self.instance)
        self.assertEqual({'vcpus': 2, 'memory_mb': 2048, 'vcpus_plugged': 2},
                         {k: real[k] for k in ('vcpus', 'memory_mb',
                                               'vcpus_plugged')})
        self.assertEqual(1900, real['guest']['memory_mb'])
        self.assertEqual(1500, real['guest']['usable_mb'])
