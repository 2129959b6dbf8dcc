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

"""Unit tests of the live adjust's quota check and dry-run room check."""

from unittest import mock

from oslo_limit import exception as limit_exceptions
from oslo_utils.fixture import uuidsentinel as uuids

from nova.compute import xloud_placement
from nova.compute import xloud_quota
from nova import context as nova_context
from nova import exception
from nova import test


class QuotaTest(test.NoDBTestCase):

    def setUp(self):
        super(QuotaTest, self).setUp()
        self.ctxt = nova_context.RequestContext('u', 'p')
        self.inst = {'project_id': 'p', 'user_id': 'u'}

    def test_mode(self):
        self.assertIsNone(xloud_quota.mode())
        self.flags(count_usage_from_placement=True, group='quota')
        self.assertEqual('placement', xloud_quota.mode())
        self.flags(driver='nova.quota.UnifiedLimitsDriver', group='quota')
        self.assertEqual('unified', xloud_quota.mode())

    @mock.patch('nova.objects.Quotas.check_deltas')
    def test_default_counting_checks_nothing(self, check):
        xloud_quota.check(self.ctxt, self.inst, {'vcpus': 3})
        check.assert_not_called()

    @mock.patch('nova.objects.Quotas.check_deltas')
    def test_no_increase_checks_nothing(self, check):
        self.flags(count_usage_from_placement=True, group='quota')
        xloud_quota.check(self.ctxt, self.inst, {})
        check.assert_not_called()

    @mock.patch('nova.objects.Quotas.count_as_dict')
    @mock.patch('nova.objects.Quotas.check_deltas')
    def test_db_over(self, check, count):
        self.flags(count_usage_from_placement=True, group='quota')
        check.side_effect = exception.OverQuota(
            overs=['cores'], quotas={'cores': 4}, usages={},
            headroom={'cores': 4})
        count.return_value = {'project': {'cores': 3}}
        ex = self.assertRaises(exception.TooManyInstances, xloud_quota.check,
                               self.ctxt, self.inst, {'vcpus': 2})
        check.assert_called_once_with(
            self.ctxt, {'cores': 2}, 'p', user_id='u', check_project_id='p',
            check_user_id='u')
        self.assertEqual('Quota exceeded for cores: Requested 2, but already '
                         'used 3 of 4 cores', ex.format_message())
        # the recheck: a delta of 0, usage holds the claim
        count.return_value = {'project': {'cores': 5}}
        ex = self.assertRaises(exception.TooManyInstances, xloud_quota.check,
                               self.ctxt, self.inst, {'vcpus': 2},
                               recheck=True)
        self.assertEqual({'cores': 0}, check.call_args[0][1])
        self.assertEqual('Quota exceeded for cores: Requested 2, but already '
                         'used 3 of 4 cores', ex.format_message())

    @mock.patch('oslo_limit.limit.Enforcer')
    def test_unified_over(self, enforcer):
        self.flags(driver='nova.quota.UnifiedLimitsDriver', group='quota')
        enforcer.return_value.enforce.side_effect = (
            limit_exceptions.ProjectOverLimit('p', [
                limit_exceptions.OverLimitInfo('class:VCPU', 8, 7, 2),
                limit_exceptions.OverLimitInfo('class:MEMORY_MB', 4096,
                                               4000, 1024)]))
        ex = self.assertRaises(
            exception.TooManyInstances, xloud_quota.check, self.ctxt,
            self.inst, {'vcpus': 2, 'memory_mb': 1024, 'ignored': 0})
        enforcer.return_value.enforce.assert_called_once_with(
            'p', {'class:VCPU': 2, 'class:MEMORY_MB': 1024})
        self.assertEqual('Quota exceeded for cores, ram: Requested 2, 1024, '
                         'but already used 7, 4000 of 8, 4096 cores, ram',
                         ex.format_message())

    @mock.patch('nova.scheduler.client.report.report_client_singleton')
    @mock.patch('oslo_limit.limit.Enforcer')
    def test_unified_usage_from_placement(self, enforcer, client):
        self.flags(driver='nova.quota.UnifiedLimitsDriver', group='quota')
        client.return_value.get_usages_counts_for_limits.return_value = {
            'VCPU': 3}
        xloud_quota.check(self.ctxt, self.inst, {'vcpus': 1})
        usage = enforcer.call_args[0][0]
        self.assertEqual({'class:VCPU': 3, 'class:MEMORY_MB': 0},
                         usage('p', ['class:VCPU', 'class:MEMORY_MB']))


class ShortfallTest(test.NoDBTestCase):

    def setUp(self):
        super(ShortfallTest, self).setUp()
        self.ctxt = nova_context.RequestContext('u', 'p')
        self.inst = mock.Mock(uuid=uuids.inst, host='h', node='n')
        self.client = mock.Mock()
        self.client.get_allocs_for_consumer.return_value = {
            'allocations': {uuids.rp: {'resources': {
                'VCPU': 1, 'MEMORY_MB': 1024, 'DISK_GB': 1}}}}
        inv = {'VCPU': {'total': 4, 'reserved': 0, 'allocation_ratio': 1.0,
                        'max_unit': 4},
               'MEMORY_MB': {'total': 8192, 'reserved': 512,
                             'allocation_ratio': 1.0, 'max_unit': 8192}}
        usages = {'VCPU': 3, 'MEMORY_MB': 2048}

        def get(url, **kw):
            what = url.rsplit('/', 1)[1]
            resp = mock.Mock()
            resp.json.return_value = {
                what: inv if what == 'inventories' else usages}
            return resp
        self.client.get.side_effect = get

    def test_fits(self):
        self.assertIsNone(xloud_placement.shortfall(
            self.ctxt, self.client, self.inst, vcpus=2, memory_mb=4096))
        # a decrease reads nothing
        self.client.get.reset_mock()
        self.assertIsNone(xloud_placement.shortfall(
            self.ctxt, self.client, self.inst, vcpus=1))
        self.client.get.assert_not_called()

    def test_short(self):
        self.assertEqual(
            'MEMORY_MB: 6144 more needed, 5632 free on the host; '
            'VCPU: 2 more needed, 1 free on the host',
            xloud_placement.shortfall(self.ctxt, self.client, self.inst,
                                      vcpus=3, memory_mb=7168))

    def test_unreadable(self):
        self.client.get.side_effect = None
        self.client.get.return_value = None
        self.assertRaises(exception.ResourceProviderRetrievalFailed,
                          xloud_placement.shortfall, self.ctxt, self.client,
                          self.inst, vcpus=3)
