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

"""The plugin's hooks, policy defaults, forms and row column, with the
API mocked (``xloud_sdk`` and novaclient are never reached).
"""

import os
import tempfile
from unittest import mock

from django.conf import settings
from django.test import RequestFactory
from django.test import SimpleTestCase
from novaclient import exceptions as nova_exceptions
from oslo_policy import policy as oslo_policy

from openstack_auth import policy as auth_policy
from openstack_dashboard.dashboards.admin.flavors import tables as \
    flavor_tables
from openstack_dashboard.dashboards.project.instances import tables as \
    instance_tables

from xloud_dashboard.adjust import forms as adjust_forms
from xloud_dashboard.adjust import tables as adjust_tables
from xloud_dashboard import api
from xloud_dashboard import customization
from xloud_dashboard.flavors import forms as minimum_forms
from xloud_dashboard import policy

import xloud_sdk

RANGE = {'server_id': 'srv-1',
         'vcpus': {'minimum': 1, 'current': 1, 'maximum': 4},
         'memory_mb': {'minimum': 512, 'current': 512, 'maximum': 4096}}
SELF_SERVICE = os.path.join(os.path.dirname(__file__), '..', '..', '..',
                            'doc', 'self-service-policy.yaml')


def make_request():
    request = RequestFactory().post('/')
    request.session = {}
    return request


class TestCustomization(SimpleTestCase):

    def test_row_action_before_resize(self):
        actions = list(instance_tables.InstancesTable._meta.row_actions)
        self.assertIn(adjust_tables.AdjustResources, actions)
        self.assertEqual(
            actions.index(instance_tables.ResizeLink) - 1,
            actions.index(adjust_tables.AdjustResources))
        self.assertIn('xloud_adjust',
                      instance_tables.InstancesTable.base_actions)

    def test_column_is_a_status_column_after_task(self):
        table = instance_tables.InstancesTable
        names = list(table._columns)
        self.assertEqual(names.index('task') + 1,
                         names.index(adjust_tables.COLUMN))
        self.assertIn(adjust_tables.COLUMN, table._meta.status_columns)

    def test_apply_twice_adds_nothing(self):
        before = (tuple(instance_tables.InstancesTable._meta.row_actions),
                  list(instance_tables.InstancesTable._columns),
                  list(instance_tables.InstancesTable._meta.status_columns),
                  tuple(flavor_tables.FlavorsTable._meta.row_actions))
        customization.apply()
        after = (tuple(instance_tables.InstancesTable._meta.row_actions),
                 list(instance_tables.InstancesTable._columns),
                 list(instance_tables.InstancesTable._meta.status_columns),
                 tuple(flavor_tables.FlavorsTable._meta.row_actions))
        self.assertEqual(before, after)

    def test_flavor_action(self):
        self.assertIn(minimum_forms.__name__, 'xloud_dashboard.flavors.forms')
        self.assertIn('xloud_minimum',
                      flavor_tables.FlavorsTable.base_actions)

    def test_panels_have_an_index(self):
        # Horizon reverses each panel's "index" on every full page (the
        # project selector): a panel without one is a 500 there
        from django.urls import reverse
        self.assertEqual('/project/xloud_adjust/', reverse(
            'horizon:project:xloud_adjust:index'))
        self.assertEqual('/admin/xloud_flavor_minimum/', reverse(
            'horizon:admin:xloud_flavor_minimum:index'))

    def test_detail_tab_from_the_enabled_file(self):
        tabs = settings.HORIZON_CONFIG['extra_tabs'][
            'openstack_dashboard.dashboards.project.instances.tabs.'
            'InstanceDetailTabs']
        self.assertIn('xloud_dashboard.adjust.tabs.ResourcesTab', tabs)


class TestPolicyDefaults(SimpleTestCase):
    """Our rules on a real oslo.policy enforcer, as Horizon builds one."""

    def enforcer(self, policy_text):
        fd, path = tempfile.mkstemp(suffix='.yaml')
        with os.fdopen(fd, 'w') as f:
            f.write(policy_text)
        self.addCleanup(os.remove, path)
        enforcer = oslo_policy.Enforcer(auth_policy._get_policy_conf(path))
        auth_policy._load_default_rules('compute', enforcer)
        enforcer.load_rules()
        return enforcer

    def allowed(self, enforcer, roles):
        creds = {'roles': roles, 'project_id': 'p1', 'user_id': 'u1',
                 'is_admin': 'admin' in roles}
        return enforcer.enforce(policy.ADJUST, {'project_id': 'p1'}, creds)

    def test_default_is_admin_only(self):
        enforcer = self.enforcer('# the defaults\n')
        self.assertTrue(self.allowed(enforcer, ['admin']))
        self.assertFalse(self.allowed(enforcer, ['member', 'reader']))
        self.assertFalse(self.allowed(enforcer, ['reader']))

    def test_self_service_file_lets_members(self):
        with open(SELF_SERVICE) as f:
            enforcer = self.enforcer(f.read())
        self.assertTrue(self.allowed(enforcer, ['admin']))
        self.assertTrue(self.allowed(enforcer, ['member', 'reader']))
        self.assertFalse(self.allowed(enforcer, ['reader']))


class TestAdjustForm(SimpleTestCase):

    def form(self, request, **data):
        values = {'instance_id': 'srv-1', 'vcpus': 2, 'memory_mb': 512,
                  'persist': True, 'dry_run': False}
        values.update(data)
        form = adjust_forms.AdjustForm(request, data=values, range=RANGE)
        self.assertTrue(form.is_valid(), form.errors)
        return form

    @mock.patch.object(adjust_forms, 'messages')
    @mock.patch.object(api, 'adjust_client')
    def test_check_answers_in_the_form(self, client, messages):
        client.return_value.check.return_value = {
            'fits': False, 'reason': 'quota cores exceeded'}
        request = make_request()
        form = self.form(request, dry_run=True)
        self.assertFalse(form.handle(request, form.cleaned_data))
        self.assertEqual({'fits': False, 'reason': 'quota cores exceeded'},
                         form.check_answer)
        # only what changed goes to Nova; nothing is adjusted
        client.return_value.check.assert_called_once_with(
            'srv-1', vcpus=2, memory_mb=None, persist=True)
        client.return_value.adjust.assert_not_called()

    @mock.patch.object(adjust_forms, 'messages')
    @mock.patch.object(api, 'adjust_client')
    def test_adjust_remembers_the_request(self, client, messages):
        client.return_value.adjust.return_value = 'req-42'
        request = make_request()
        form = self.form(request, memory_mb=1024, persist=False)
        self.assertTrue(form.handle(request, form.cleaned_data))
        client.return_value.adjust.assert_called_once_with(
            'srv-1', vcpus=2, memory_mb=1024, persist=False)
        self.assertEqual('req-42', api.tracked_request(request, 'srv-1'))
        messages.info.assert_called_once()

    @mock.patch.object(adjust_forms, 'messages')
    @mock.patch.object(api, 'adjust_client')
    def test_refusal_is_shown_in_the_form(self, client, messages):
        client.return_value.adjust.side_effect = xloud_sdk.AdjustError(
            "Policy doesn't allow os_compute_api:os-xloud-adjust:adjust "
            "to be performed.", 403)
        request = make_request()
        form = self.form(request)
        self.assertFalse(form.handle(request, form.cleaned_data))
        self.assertIn("Policy doesn't allow",
                      ' '.join(form.non_field_errors()))
        self.assertIn("Policy doesn't allow",
                      str(messages.error.call_args[0][1]))
        self.assertIsNone(api.tracked_request(request, 'srv-1'))


class FakeTable(object):
    def __init__(self, request):
        self.request = request

    def get_object_id(self, datum):
        return datum.id


class TestAdjustColumn(SimpleTestCase):

    def column(self, request):
        column = adjust_tables.AdjustColumn()
        column.name = adjust_tables.COLUMN
        column.table = FakeTable(request)
        return column

    def status(self, state):
        return dict(adjust_tables.AdjustColumn.STATUS_CHOICES)[state]

    @mock.patch.object(api, 'adjust_client')
    def test_untracked_server_costs_no_call(self, client):
        column = self.column(make_request())
        server = mock.Mock(id='srv-9')
        self.assertEqual('', column.get_raw_data(server))
        self.assertEqual('', column.get_data(server))
        client.assert_not_called()
        self.assertTrue(self.status(''))

    @mock.patch.object(api, 'adjust_client')
    def test_running_keeps_the_row_polled(self, client):
        request = make_request()
        api.remember(request, 'srv-1', 'req-1')
        client.return_value.state.return_value = (
            'running', 'compute_xloud_adjust running')
        column = self.column(request)
        server = mock.Mock(id='srv-1')
        self.assertEqual('running', column.get_raw_data(server))
        self.assertIsNone(self.status('running'))
        self.assertIn('compute_xloud_adjust running', column.get_data(server))
        client.return_value.action.assert_called_once_with('srv-1', 'req-1')

    @mock.patch.object(api, 'adjust_client')
    def test_each_request_reads_afresh(self, client):
        # the table's columns are shallow copies of the class's: what one
        # request read must not answer the next one's
        first = self.column(make_request())
        self.assertEqual('', first.get_raw_data(mock.Mock(id='srv-1')))
        request = make_request()
        api.remember(request, 'srv-1', 'req-1')
        client.return_value.state.return_value = ('running', 'x running')
        second = adjust_tables.AdjustColumn.__new__(
            adjust_tables.AdjustColumn)
        second.__dict__ = dict(first.__dict__)
        second.table = FakeTable(request)
        self.assertEqual('running', second.get_raw_data(mock.Mock(
            id='srv-1')))

    @mock.patch.object(api, 'adjust_client')
    def test_done_shows_the_new_size(self, client):
        request = make_request()
        api.remember(request, 'srv-1', 'req-1')
        client.return_value.state.return_value = ('done', 'x Success')
        client.return_value.show.return_value = dict(
            RANGE, vcpus={'minimum': 1, 'current': 3, 'maximum': 4})
        column = self.column(request)
        text = column.get_data(mock.Mock(id='srv-1'))
        self.assertIn('3 vCPUs, 512 MiB', text)
        self.assertTrue(self.status('done'))


class TestMinimumForm(SimpleTestCase):

    def form(self, request, present=(), **data):
        values = {'flavor_id': 'f1', 'minimum_cpu': '', 'minimum_memory': ''}
        values.update(data)
        form = minimum_forms.MinimumForm(
            request, data=values, initial={'present': list(present)})
        self.assertTrue(form.is_valid(), form.errors)
        return form

    @mock.patch.object(minimum_forms, 'messages')
    @mock.patch.object(minimum_forms.api.nova, 'flavor_extra_delete')
    @mock.patch.object(minimum_forms.api.nova, 'flavor_extra_set')
    def test_set_and_unset(self, extra_set, extra_delete, messages):
        request = make_request()
        form = self.form(request, present=('minimum_memory',),
                         minimum_cpu='1')
        self.assertTrue(form.handle(request, form.cleaned_data))
        extra_set.assert_called_once_with(request, 'f1',
                                          {'minimum_cpu': '1'})
        extra_delete.assert_called_once_with(request, 'f1',
                                             ['minimum_memory'])

    @mock.patch.object(minimum_forms, 'messages')
    @mock.patch.object(minimum_forms.api.nova, 'flavor_extra_set')
    def test_validator_error_in_the_form(self, extra_set, messages):
        message = ("Validation failed; 'minimum_cpu' must be at most the "
                   "flavor's vcpus (4), got 9.")
        extra_set.side_effect = nova_exceptions.BadRequest(400, message)
        request = make_request()
        form = self.form(request, minimum_cpu='9')
        self.assertFalse(form.handle(request, form.cleaned_data))
        self.assertIn("'minimum_cpu' must be at most",
                      ' '.join(form.non_field_errors()))
