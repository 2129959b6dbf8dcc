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

"""Functional tests of the live adjust's dry run and quotas, with Nova's
fake libvirt and real placement (PlacementFixture), in the three quota
counting modes: the default (flavors), ``count_usage_from_placement`` and
unified limits (oslo.limit's LimitFixture, as upstream's
``test_unified_limits``).
"""

import threading

import fixtures
from oslo_limit import fixture as limit_fixture
from oslo_utils.fixture import uuidsentinel as uuids

from nova.compute import xloud
from nova.compute import xloud_placement
from nova.compute import xloud_quota
from nova import objects
from nova.tests.functional.api import client
from nova.tests.functional.libvirt import xloud_base


class _Base(xloud_base.XloudServerTestBase):
    """The adjust's server, and what a refused request must leave alone."""

    def _actions(self):
        return [a for a in self.admin_api.get_instance_actions(
            self.server['id']) if a['action'] == 'xloud_adjust']

    def _dry(self, body, status=200, api=None, alias=False):
        body = dict({'dry_run': True}, **body)
        if status == 200:
            api = api or self.admin_api
            resp = api.api_post(self._path(alias), body,
                                check_response_status=[200])
            return resp.body
        return self._post(body, api=api, alias=alias, status=status)

    def _fill_host(self, leave_vcpus):
        """Another server, so that the host has leave_vcpus VCPU free."""
        inv = self.placement.get(
            '/resource_providers/%s/inventories' % self.rp).body[
            'inventories']['VCPU']
        free = (int((inv['total'] - inv['reserved']) *
                    inv['allocation_ratio']) -
                self._get_provider_usages(self.rp)['VCPU'])
        self._create_server(flavor_id=self._create_flavor(
            vcpu=free - leave_vcpus, memory_mb=512, disk=1),
            networks='none')

    def _unchanged(self, usages, vcpus=1, memory_mb=1024):
        """Nothing was claimed, recorded or started."""
        self.assertEqual(usages, self._get_provider_usages(self.rp))
        self._assert_consistent(vcpus, memory_mb)
        self.assertEqual([], self._actions())


class XloudDryRunTest(_Base):

    def test_fits(self):
        usages = self._get_provider_usages(self.rp)
        for alias in (False, True):
            self.assertEqual({'fits': True}, self._dry(
                {'current_vcpus': 4, 'current_memory_mb': 4096},
                alias=alias))
            # a decrease or no change fits too
            self.assertEqual({'fits': True},
                             self._dry({'current_vcpus': 1}, alias=alias))
        self._unchanged(usages)

    def test_no_room(self):
        self._fill_host(leave_vcpus=1)
        usages = self._get_provider_usages(self.rp)
        got = self._dry({'current_vcpus': 3, 'current_memory_mb': 2048})
        self.assertFalse(got['fits'])
        self.assertIn('VCPU: 2 more needed, 1 free on the host',
                      got['reason'])
        self.assertNotIn('MEMORY_MB', got['reason'])
        self._unchanged(usages)
        # the real request is refused as the dry run said
        self._post({'current_vcpus': 3}, status=409)
        self.assertEqual({'fits': True}, self._dry({'current_vcpus': 2}))
        self._post({'current_vcpus': 2})
        self._assert_consistent(2, 1024)

    def test_request_errors_as_a_real_request(self):
        usages = self._get_provider_usages(self.rp)
        ex = self._dry({'current_vcpus': 5}, status=400)
        self.assertIn('from 1', str(ex))
        self._dry({'current_vcpus': 2, 'dry_run': 'yes'}, status=400)
        self._post({'current_vcpus': 2, 'dry_run': 1}, status=400)
        self._post({'dry_run': True}, status=400)
        # policy: 403 as for a real request
        self._dry({'current_vcpus': 2}, api=self.api, status=403)
        # a task in progress
        inst = self._instance()
        inst.task_state = xloud.TASK_STATE
        inst.save()
        ex = self._dry({'current_vcpus': 2}, status=409)
        self.assertIn('task in progress', str(ex))
        inst.task_state = None
        inst.save()
        # locked (for a non-admin)
        self.admin_api.post_server_action(self.server['id'], {'lock': {}})
        self.policy.set_rules({'os_compute_api:os-xloud-adjust:adjust':
                               'rule:project_member_or_admin'},
                              overwrite=False)
        self._dry({'current_vcpus': 2}, api=self.api, status=409)
        self.admin_api.post_server_action(self.server['id'], {'unlock': {}})
        # a compute that cannot adjust
        self.flags(virt_type='lxc', group='libvirt')
        self._update_resources()
        ex = self._dry({'current_vcpus': 2}, status=409)
        self.assertIn('cannot adjust', str(ex))
        self.flags(virt_type='kvm', group='libvirt')
        self._update_resources()
        self._unchanged(usages)
        # not active
        self._stop_server(self.server)
        self._dry({'current_vcpus': 2}, status=409)
        self.assertEqual([], self._actions())

    def test_not_found(self):
        self.server['id'] = uuids.missing
        self._dry({'current_vcpus': 2}, status=404)


class XloudQuotaDefaultCountingTest(_Base):
    """Flavors are counted: an adjust never changes the usage counted."""

    def test_no_check(self):
        self.assertIsNone(xloud_quota.mode())
        # the project is exactly at its cores and ram quota (the flavor's
        # 4 vCPUs and 4096 MiB are counted, whatever the guest runs)
        self.flags(cores=4, ram=4096, group='quota')
        self.assertEqual({'fits': True}, self._dry(
            {'current_vcpus': 4, 'current_memory_mb': 4096}))
        self._post({'current_vcpus': 4, 'current_memory_mb': 4096})
        self._assert_consistent(4, 4096)


class _QuotaTests(object):
    """The same tests for both modes that count usage from placement."""

    def _limit(self, cores, ram):
        raise NotImplementedError()

    def test_over_quota(self):
        # the server runs 1 vCPU and 1024 MiB: placement counts those
        self._limit(cores=2, ram=2048)
        usages = self._get_provider_usages(self.rp)
        ex = self._post({'current_vcpus': 3}, status=403)
        self.assertIn('Quota exceeded for cores: Requested 2, but already '
                      'used 1 of 2 cores', str(ex))
        ex = self._post({'current_vcpus': 2, 'current_memory_mb': 3072},
                        status=403)
        self.assertIn('Quota exceeded for ram: Requested 2048, but already '
                      'used 1024 of 2048 ram', str(ex))
        self._unchanged(usages)
        got = self._dry({'current_vcpus': 3, 'current_memory_mb': 3072})
        self.assertFalse(got['fits'])
        self.assertIn('Quota exceeded for cores, ram: Requested 2, 2048, '
                      'but already used 1, 1024 of 2, 2048', got['reason'])
        self._unchanged(usages)
        # what fits is accepted; a decrease needs no quota
        self.assertEqual({'fits': True}, self._dry(
            {'current_vcpus': 2, 'current_memory_mb': 2048}))
        self._post({'current_vcpus': 2, 'current_memory_mb': 2048})
        self._assert_consistent(2, 2048)
        self._limit(cores=1, ram=1024)
        self._post({'current_vcpus': 1, 'current_memory_mb': 1024})
        self._assert_consistent(1, 1024)

    def test_room_and_quota_both_short(self):
        self._fill_host(leave_vcpus=1)
        # the other server counts in the project too
        used = self._get_provider_usages(self.rp)['VCPU']
        self._limit(cores=used + 1, ram=65536)
        got = self._dry({'current_vcpus': 3})
        self.assertFalse(got['fits'])
        self.assertIn('VCPU: 2 more needed, 1 free on the host',
                      got['reason'])
        self.assertIn('Quota exceeded for cores: Requested 2, but already '
                      'used %d of %d cores' % (used, used + 1),
                      got['reason'])

    def test_concurrent_increases(self):
        # two servers of the project, a quota with room for one increase
        other = self._create_server(flavor_id=self.flavor, networks='none')
        self._limit(cores=3, ram=65536)
        usages = self._get_provider_usages(self.rp)
        # both pass the check before their claim; both claim, then both
        # recheck (a barrier between claim and recheck)
        # (stdlib primitives: green where the tests monkey patch)
        both = threading.Event()
        claimed = []
        claim = xloud_placement.claim

        def held_claim(*args, **kwargs):
            claim(*args, **kwargs)
            claimed.append(args[2].uuid)
            if len(claimed) == 2:
                both.set()
            both.wait(timeout=300)
        self.useFixture(fixtures.MockPatch(
            'nova.compute.xloud_placement.claim', side_effect=held_claim))

        answers = []

        def post(server_id):
            try:
                self.admin_api.api_post(
                    '/servers/%s/os-xloud-adjust' % server_id,
                    {'current_vcpus': 2}, check_response_status=[202])
                answers.append(202)
            except client.OpenStackApiException as e:
                answers.append(e.response.status_code)
        posts = [threading.Thread(target=post, args=(server_id,))
                 for server_id in (self.server['id'], other['id'])]
        for t in posts:
            t.start()
        for t in posts:
            t.join()
        codes = sorted(answers)
        self.assertEqual(2, len(claimed))
        # not both: each recheck saw both claims (4 > 3) and rolled back
        self.assertNotEqual([202, 202], codes)
        self.assertEqual([403], sorted(set(codes) - {202}))
        self.assertLessEqual(self._get_provider_usages(self.rp)['VCPU'], 3)
        if codes == [403, 403]:
            self.assertEqual(usages, self._get_provider_usages(self.rp))
        for server_id in (self.server['id'], other['id']):
            self.assertIsNone(objects.Instance.get_by_uuid(
                self.ctxt, server_id).task_state)


class XloudQuotaPlacementCountingTest(_QuotaTests, _Base):

    def setUp(self):
        self.flags(count_usage_from_placement=True, group='quota')
        super(XloudQuotaPlacementCountingTest, self).setUp()
        self.assertEqual('placement', xloud_quota.mode())

    def _limit(self, cores, ram):
        self.flags(cores=cores, ram=ram, group='quota')


class XloudQuotaUnifiedLimitsTest(_QuotaTests, _Base):

    def setUp(self):
        super(XloudQuotaUnifiedLimitsTest, self).setUp()
        self.flags(driver='nova.quota.UnifiedLimitsDriver', group='quota')
        self.assertEqual('unified', xloud_quota.mode())
        self.limits = self.useFixture(limit_fixture.LimitFixture(
            {'servers': 10, 'class:DISK_GB': 100}, {}))

    def _limit(self, cores, ram):
        # the fixture reads its dicts at each look-up
        self.limits.reglimits.update({'class:VCPU': cores,
                                      'class:MEMORY_MB': ram})

    def _create_server(self, *args, **kwargs):
        # The servers of the tests are created under the legacy driver: a
        # server create checks its flavor's 4 vCPUs against the limits.
        was = xloud_quota.mode()
        self.flags(driver='nova.quota.DbQuotaDriver', group='quota')
        try:
            return super(XloudQuotaUnifiedLimitsTest, self)._create_server(
                *args, **kwargs)
        finally:
            if was == 'unified':
                self.flags(driver='nova.quota.UnifiedLimitsDriver',
                           group='quota')
