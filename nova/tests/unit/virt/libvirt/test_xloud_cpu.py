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

"""Unit tests of the vCPU shrink without an unplug (xloud_cpu), the
guest's report and its consent to a memory shrink (xloud_guest_report),
through xloud_adjust, on the fake domain of test_xloud_adjust."""

import time
from unittest import mock

import fixtures
from oslo_utils.fixture import uuidsentinel as uuids

from nova import test
from nova.tests import fixtures as nova_fixtures
from nova.tests.unit import fake_instance
from nova.tests.unit.virt.libvirt import test_xloud_adjust as base
from nova.virt.libvirt import xloud_adjust
from nova.virt.libvirt import xloud_cpu

LIVE, CONFIG, GUEST = base.LIVE, base.CONFIG, base.VCPU_GUEST


class XloudLibvirtCpuTest(test.NoDBTestCase):
    """A host whose libvirt and QEMU do not confirm an unplug (auto)."""

    def setUp(self):
        super(XloudLibvirtCpuTest, self).setUp()
        self.useFixture(nova_fixtures.LibvirtFixture())
        self.flags(virt_type='kvm', group='libvirt')
        self.dom = base.Dom()
        self.driver = mock.Mock()
        self.driver._host.get_guest.return_value = mock.Mock(
            _domain=self.dom)
        self.instance = fake_instance.fake_instance_obj(
            None, uuid=uuids.server, expected_attrs=['system_metadata'])
        self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.xloud_adjust._qemu_vcpus',
            side_effect=AssertionError('QEMU is asked only after an '
                                       'unconfirmed unplug')))

    def _agent(self, how='answered'):
        self.dom.agent = how
        # Nova keeps the image's properties in system metadata
        self.instance.system_metadata['image_hw_qemu_guest_agent'] = 'yes'
        self.assertTrue(xloud_cpu.has_agent(self.instance))

    def _adjust(self, **kw):
        return xloud_adjust.adjust(self.driver, self.instance, **kw)

    def _vcpu_calls(self):
        return [c for c in self.dom.calls if c[0] in ('vcpus', 'cap')]

    def test_shrink_without_agent_caps_the_cpu_time(self):
        res = self._adjust(vcpus=1)
        self.assertEqual([], res['errors'])
        # no unplug: the vCPU stays plugged, the host caps the CPU time
        self.assertEqual([('cap', 100000, LIVE), ('vcpus', 1, CONFIG)],
                         self._vcpu_calls())
        self.assertEqual((1, 2), (res['vcpus'], res['vcpus_plugged']))
        self.assertEqual(xloud_cpu.KEPT_UNPLUG_UNCONFIRMED,
                         res['vcpus_kept'])
        self.assertEqual(xloud_cpu.AGENT_NONE, res['guest']['agent'])
        self.assertIsNone(res['guest']['vcpus_online'])
        # what the host lets it use, read back by the GET's compute
        real = xloud_adjust.read(self.driver, self.instance)
        self.assertEqual((1, 2), (real['vcpus'], real['vcpus_plugged']))
        self.assertEqual(2, self.dom.online)

    def test_shrink_with_agent_takes_the_vcpu_offline(self):
        self._agent()
        res = self._adjust(vcpus=1)
        self.assertEqual([], res['errors'])
        # the host holds it first, then the guest is asked
        self.assertEqual([('cap', 100000, LIVE), ('vcpus', 1, GUEST),
                          ('vcpus', 1, CONFIG)], self._vcpu_calls())
        self.assertEqual(1, self.dom.online)
        self.assertEqual(xloud_cpu.AGENT_ANSWERED, res['guest']['agent'])
        self.assertEqual(1, res['guest']['vcpus_online'])

    def test_silent_agent(self):
        self._agent('silent')
        res = self._adjust(vcpus=1)
        # the cap holds the guest whatever its agent does: not an error
        self.assertEqual([], res['errors'])
        self.assertEqual(1, res['vcpus'])
        self.assertEqual(xloud_cpu.AGENT_SILENT, res['guest']['agent'])
        self.assertIn('not responding', res['guest']['agent_error'])
        self.assertEqual(2, self.dom.online)

    def test_refusing_agent(self):
        self._agent('refused')
        res = self._adjust(vcpus=1)
        self.assertEqual([], res['errors'])
        self.assertEqual(1, res['vcpus'])
        self.assertEqual(xloud_cpu.AGENT_REFUSED, res['guest']['agent'])

    def test_growth_within_the_plugged_lifts_the_cap(self):
        self._agent()
        self._adjust(vcpus=1)
        del self.dom.calls[:]
        res = self._adjust(vcpus=2)
        self.assertEqual([('cap', -1, LIVE), ('vcpus', 2, GUEST),
                          ('vcpus', 2, CONFIG)], self._vcpu_calls())
        self.assertEqual((2, 2), (res['vcpus'], res['vcpus_plugged']))
        self.assertNotIn('vcpus_kept', res)
        self.assertEqual(2, self.dom.online)

    def test_growth_past_the_plugged_plugs_and_onlines(self):
        self._agent()
        self._adjust(vcpus=1)
        del self.dom.calls[:]
        res = self._adjust(vcpus=3)
        self.assertEqual([('vcpus', 3, LIVE), ('cap', -1, LIVE),
                          ('vcpus', 3, GUEST), ('vcpus', 3, CONFIG)],
                         self._vcpu_calls())
        self.assertEqual((3, 3), (res['vcpus'], res['vcpus_plugged']))
        # the vCPU the agent took offline is back, the new one too
        self.assertEqual(3, self.dom.online)

    def test_growth_waits_for_the_guest_to_see_its_new_vcpus(self):
        # the guest's kernel sees a hot-plugged vCPU a little later: the
        # agent is asked again until it has them online
        self._agent()
        real_set = self.dom.setVcpusFlags
        seen = []

        def late_kernel(n, flags):
            if flags & GUEST and len(seen) < 2:
                seen.append(n)          # the kernel does not have them yet
                self.dom.calls.append(('vcpus', n, flags))
                return
            real_set(n, flags)
        self.dom.setVcpusFlags = late_kernel
        self.dom.online = 1
        self.useFixture(fixtures.MockPatchObject(xloud_cpu, 'ONLINE_POLL',
                                                 0.001))
        res = self._adjust(vcpus=3)
        self.assertEqual(3, self.dom.online)
        self.assertEqual(3, res['guest']['vcpus_online'])
        self.assertEqual(3, len([c for c in self._vcpu_calls()
                                 if c == ('vcpus', 3, GUEST)]))

    def test_shrink_of_a_capped_guest_lowers_the_cap(self):
        self.dom.live['vcpus'] = self.dom.online = 4
        self._adjust(vcpus=3)
        res = self._adjust(vcpus=1)
        self.assertEqual((1, 4), (res['vcpus'], res['vcpus_plugged']))
        self.assertEqual(100000, self.dom.sched['global_quota'])

    def test_cap_that_cannot_be_set_keeps_the_claim(self):
        self._agent()
        self.dom.fail[('cap', LIVE)] = base._error('no cpu controller')
        res = self._adjust(vcpus=1)
        self.assertEqual((2, 2), (res['vcpus'], res['vcpus_plugged']))
        self.assertIn("capping the CPU time at 1 vCPUs' worth",
                      res['errors'][0])
        # and the guest keeps what it may still use online
        self.assertEqual(2, self.dom.online)
        self.assertEqual(2, self.dom.config['vcpus'])

    def test_host_without_cpu_bandwidth(self):
        # no cpu cgroup controller: nothing to read, a shrink cannot be
        # held, so it is not done (the claim stays)
        def unreadable(flags):
            raise base._error('cgroup CPU controller is not mounted')
        self.dom.schedulerParametersFlags = unreadable
        self.dom.fail[('cap', LIVE)] = base._error(
            'cgroup CPU controller is not mounted')
        real = xloud_adjust.read(self.driver, self.instance)
        self.assertEqual((2, 2), (real['vcpus'], real['vcpus_plugged']))
        res = self._adjust(vcpus=1)
        self.assertEqual(2, res['vcpus'])
        self.assertIn('cgroup CPU controller is not mounted',
                      res['errors'][0])

    def test_unplug_turned_off(self):
        self.flags(vcpu_unplug='never', group='xloud')
        res = self._adjust(vcpus=1)
        self.assertEqual(xloud_cpu.KEPT_UNPLUG_DISABLED, res['vcpus_kept'])

    def test_unplug_where_the_host_confirms_it(self):
        self.useFixture(fixtures.MockPatchObject(
            xloud_cpu, 'UNPLUG_CONFIRMED_FROM', ((11, 3, 0), (10, 0, 0))))
        self.driver._host.has_min_version.return_value = True
        res = self._adjust(vcpus=1)
        self.driver._host.has_min_version.assert_called_once_with(
            lv_ver=(11, 3, 0), hv_ver=(10, 0, 0))
        self.assertEqual([('vcpus', 1, LIVE), ('vcpus', 1, CONFIG)],
                         self._vcpu_calls())
        self.assertEqual((1, 1), (res['vcpus'], res['vcpus_plugged']))
        self.assertNotIn('vcpus_kept', res)
        # an older host caps
        self.driver._host.has_min_version.return_value = False
        self.assertFalse(xloud_cpu.unplug_confirmed(self.driver._host))


class XloudShrinkConsentTest(test.NoDBTestCase):
    """A memory shrink the guest says it cannot give is refused at once."""

    def setUp(self):
        super(XloudShrinkConsentTest, self).setUp()
        self.useFixture(nova_fixtures.LibvirtFixture())
        self.flags(virt_type='kvm', group='libvirt')
        self.flags(memory_shrink_margin_mb=128, group='xloud')
        self.dom = base.Dom()
        self.driver = mock.Mock()
        self.driver._host.get_guest.return_value = mock.Mock(
            _domain=self.dom)
        self.instance = fake_instance.fake_instance_obj(None,
                                                        uuid=uuids.server)

    def _adjust(self, **kw):
        return xloud_adjust.adjust(self.driver, self.instance, **kw)

    def test_refused_before_anything_changes(self):
        # 2048 MiB, 600 usable: 1448 used, +128 margin -> 1576 at least
        self.dom.stats['usable'] = 600 * 1024
        res = self._adjust(vcpus=1, memory_mb=1024)
        self.assertEqual([], self.dom.calls)
        self.assertEqual((2, 2048), (res['vcpus'], res['memory_mb']))
        self.assertEqual(1, len(res['errors']))
        self.assertIn('it uses 1448 MiB of its 2048 MiB', res['errors'][0])
        self.assertIn('the guest cannot shrink below 1576 MiB now',
                      res['errors'][0])

    def test_consented_shrink_goes_on(self):
        self.dom.stats['usable'] = 600 * 1024
        res = self._adjust(memory_mb=1576)
        self.assertEqual([], res['errors'])
        self.assertEqual(1576, res['memory_mb'])

    def test_stale_or_missing_statistics_decide_nothing(self):
        self.dom.stats['usable'] = 0
        # statistics of 10 minutes ago: the guest's driver stopped
        self.dom.stats['last_update'] = int(time.time()) - 600
        res = self._adjust(memory_mb=1024)
        self.assertEqual([], res['errors'])
        del self.dom.stats['last_update']
        del self.dom.stats['usable']
        res = self._adjust(memory_mb=512)
        self.assertEqual([], res['errors'])
        self.assertEqual(512, res['memory_mb'])

    def test_statistics_of_before_the_last_balloon_move(self):
        # grown to 4096 a moment ago: the guest's last report (stamped a
        # second before) still describes 2048 MiB; a shrink right after is
        # not judged on it (the host's check after the balloon decides)
        self.dom.stats['usable'] = 100 * 1024
        self._adjust(memory_mb=4096)
        self.dom.stats['last_update'] = int(time.time()) - 1
        res = self._adjust(memory_mb=3072)
        self.assertEqual([], res['errors'])
        self.assertIsNone(res['guest']['usable_mb'])
        # a report of the move's second may be from before it; once it
        # reported after, its word counts
        self.dom.stats['last_update'] = int(time.time())
        self.assertIsNone(self._adjust(vcpus=2)['guest']['usable_mb'])
        self.dom.stats['last_update'] = int(time.time()) + 1
        res = self._adjust(memory_mb=1024)
        self.assertIn('cannot shrink below', res['errors'][0])

    def test_growth_is_never_asked(self):
        self.dom.stats['usable'] = 0
        res = self._adjust(memory_mb=3072)
        self.assertEqual([], res['errors'])
