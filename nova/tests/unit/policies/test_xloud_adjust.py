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

"""Policy tests of os-xloud-adjust: admin only by default."""

from unittest import mock

import fixtures
from oslo_utils.fixture import uuidsentinel as uuids
from oslo_utils import timeutils

from nova.api.openstack.compute import xloud_adjust
from nova.compute import vm_states
from nova.compute import xloud
from nova.policies import xloud_adjust as xa_policies
from nova.tests.unit.api.openstack import fakes
from nova.tests.unit import fake_instance
from nova.tests.unit.policies import base
from nova import xloud_compat


class XloudAdjustPolicyTest(base.BasePolicyTest):
    """Legacy rules, no scope checks: the admins only.

    (With oslo.policy 6 scope is always checked: no system admin.)
    """

    def setUp(self):
        super(XloudAdjustPolicyTest, self).setUp()
        self.controller = xloud_adjust.XloudAdjustController()
        self.req = fakes.HTTPRequest.blank('')
        self.mock_get = self.useFixture(
            fixtures.MockPatch('nova.api.openstack.common.get_instance')).mock
        self.instance = fake_instance.fake_instance_obj(
            self.project_member_context, id=1, uuid=uuids.server,
            project_id=self.project_id, vm_state=vm_states.ACTIVE,
            task_state=None, launched_at=timeutils.utcnow())
        self.mock_get.return_value = self.instance
        self.authorized_contexts = [
            self.legacy_admin_context, self.project_admin_context]
        if not xloud_compat.policy_scope_always_enforced():
            self.authorized_contexts.append(self.system_admin_context)

    @mock.patch('nova.compute.xloud_api.XloudAdjustAPI.adjust')
    def test_adjust_policy(self, mock_adjust):
        self.common_policy_auth(self.authorized_contexts,
                                xa_policies.POLICY_ROOT % 'adjust',
                                self.controller.create, self.req,
                                self.instance.uuid,
                                body={'current_vcpus': 1})

    @mock.patch('nova.compute.xloud_api.XloudAdjustAPI.adjust')
    def test_allow_migration_policy(self, mock_adjust):
        # the adjust rule open to all: its own rule decides
        self.policy.set_rules({xa_policies.POLICY_ROOT % 'adjust': '@'},
                              overwrite=False)

        def refused_by(context):
            # with scope checks on, a system-scoped context is refused by
            # the adjust rule's scope first
            if context.system_scope and self.scope_checked:
                return xa_policies.POLICY_ROOT % 'adjust'
            return xa_policies.POLICY_ROOT % 'allow_migration'
        self.common_policy_auth(self.migration_contexts, refused_by,
                                self.controller.create, self.req,
                                self.instance.uuid,
                                body={'current_vcpus': 1,
                                      'allow_migration': True})

    @property
    def scope_checked(self):
        return (xloud_compat.policy_scope_always_enforced() or
                self.flags_scope_enforced)

    flags_scope_enforced = False

    @property
    def migration_contexts(self):
        """Who may let an adjust move the server: as the adjust, until an
        operator opens the adjust to members (``allow_migration`` stays
        admin only then).
        """
        return self.authorized_contexts

    # a well-formed answer: nova 31+ checks it against the response schema
    @mock.patch('nova.compute.xloud_api.XloudAdjustAPI.show',
                return_value={'vcpus': xloud.Bounds(1, 2, 4),
                              'memory_mb': xloud.Bounds(512, 1024, 2048)})
    def test_show_policy(self, mock_show):
        self.common_policy_auth(self.authorized_contexts,
                                xa_policies.POLICY_ROOT % 'show',
                                self.controller.show, self.req,
                                self.instance.uuid)


class XloudAdjustNoLegacyNoScopePolicyTest(XloudAdjustPolicyTest):
    without_deprecated_rules = True


class XloudAdjustScopeTypePolicyTest(XloudAdjustPolicyTest):
    """Scope checks on: a system-scoped admin is refused too."""

    def setUp(self):
        super(XloudAdjustScopeTypePolicyTest, self).setUp()
        if not xloud_compat.policy_scope_always_enforced():
            self.flags(enforce_scope=True, group="oslo_policy")
        self.flags_scope_enforced = True
        self.authorized_contexts = [
            self.legacy_admin_context, self.project_admin_context]


class XloudAdjustScopeTypeNoLegacyPolicyTest(XloudAdjustScopeTypePolicyTest):
    without_deprecated_rules = True


class XloudAdjustOpenedPolicyTest(XloudAdjustScopeTypeNoLegacyPolicyTest):
    """Opened to project members as the rule's documentation says.

    Still not to readers or to another project.
    """

    def setUp(self):
        super(XloudAdjustOpenedPolicyTest, self).setUp()
        self.policy.set_rules({
            xa_policies.POLICY_ROOT % 'adjust':
                'rule:project_member_or_admin',
            xa_policies.POLICY_ROOT % 'show':
                'rule:project_member_or_admin'}, overwrite=False)
        self.authorized_contexts = (
            self.project_member_or_admin_with_scope_no_legacy)
        self.assertIn(self.project_member_context, self.authorized_contexts)
        self.assertNotIn(self.project_reader_context,
                         self.authorized_contexts)
        self.assertNotIn(self.other_project_member_context,
                         self.authorized_contexts)

    @property
    def migration_contexts(self):
        return [self.legacy_admin_context, self.project_admin_context]
