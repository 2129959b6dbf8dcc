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

from unittest import mock

import fixtures
from oslo_utils.fixture import uuidsentinel as uuids
from oslo_utils import uuidutils

from nova.compute import xloud
from nova import objects
from nova import test
from nova.tests import fixtures as nova_fixtures
from nova.tests.fixtures import libvirt as fakelibvirt
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
        self.uuid = uuidutils.generate_uuid()
        self.calls = []
        self.fail = {}
        self.active = True
        self.vcpus = 1
        self.sched = {'global_period': 100000, 'global_quota': -1}

    def isActive(self):
        return self.active

    def UUIDString(self):
        return self.uuid

    def vcpusFlags(self, flags):
        return self.vcpus

    def schedulerParametersFlags(self, flags):
        return dict(self.sched)

    def setSchedulerParametersFlags(self, params, flags):
        self.calls.append(('cap', params.get('global_quota'), flags))
        if 'cap' in self.fail:
            raise self.fail['cap']
        self.sched.update(params)

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
            if self.dom.balloon == 640 * MIB:
                polls.append(1)
            if len(polls) == 3:
                self.dom.rss = 700 * MIB
            return real_stats()
        self.dom.memoryStats = stats
        res = self._adjust(640)
        self.assertEqual([], res['errors'])
        # three polls until the host saw it (two more: the read-back and
        # the guest's report)
        self.assertEqual(5, len(polls))
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
