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

"""Unit tests of os-xloud-adjust: the controller with its API side."""

import subprocess
import sys
import time
from unittest import mock

import fixtures
from oslo_db import exception as db_exc
import oslo_messaging as messaging
from oslo_utils.fixture import uuidsentinel as uuids
from oslo_utils import timeutils
from sqlalchemy.orm import exc as orm_exc
import webob

from nova.api.openstack.compute import xloud_adjust
from nova.compute import task_states
from nova.compute import vm_states
from nova.compute import xloud
from nova.compute import xloud_guest_view
from nova.compute import xloud_traits
from nova import exception
from nova import objects
from nova.scheduler.client import report
from nova import test
from nova.tests.unit.api.openstack import fakes
from nova.tests.unit import fake_instance

RP = uuids.compute_node


def _flavor():
    return objects.Flavor(
        flavorid='f4', name='f4', vcpus=4, memory_mb=4096, root_gb=1,
        ephemeral_gb=0, swap=0,
        extra_specs={'minimum_cpu': '1', 'minimum_memory': '1024'})


class FakePlacement(object):
    """The instance's allocation, as placement would keep it."""

    def __init__(self, vcpus=2, memory_mb=2048, capacity=(4, 4096)):
        self.resources = {'VCPU': vcpus, 'MEMORY_MB': memory_mb,
                          'DISK_GB': 1}
        self.capacity = {'VCPU': capacity[0], 'MEMORY_MB': capacity[1]}
        self.generation = 1
        self.puts = []
        # what a patched compute of a driver that can adjust reports
        self.traits = {xloud_traits.LIVE_ADJUST, xloud_traits.RPC_1_0,
                       'COMPUTE_NODE'}

    def get_provider_traits(self, context, rp_uuid):
        if rp_uuid != RP:
            raise exception.ResourceProviderTraitRetrievalFailed(
                uuid=rp_uuid)
        return report.TraitInfo(traits=set(self.traits), generation=5)

    def get_allocs_for_consumer(self, context, consumer):
        return {'allocations': {RP: {'resources': dict(self.resources),
                                     'generation': 5}},
                'consumer_generation': self.generation,
                'project_id': 'p', 'user_id': 'u'}

    def put_allocations(self, context, consumer, payload):
        self.puts.append(payload)
        wanted = payload['allocations'][RP]['resources']
        if any(wanted[rc] > cap for rc, cap in self.capacity.items()):
            return False
        self.resources = dict(wanted)
        self.generation += 1
        return True


class XloudAdjustTestBase(test.NoDBTestCase):

    def setUp(self):
        super(XloudAdjustTestBase, self).setUp()
        self.controller = xloud_adjust.XloudAdjustController()
        self.req = fakes.HTTPRequest.blank('', use_admin_context=True)
        self.context = self.req.environ['nova.context']
        self.instance = fake_instance.fake_instance_obj(
            self.context, uuid=uuids.server, project_id='p', user_id='u',
            vm_state=vm_states.ACTIVE, task_state=None, host='compute1',
            locked=False, launched_at=timeutils.utcnow(),
            expected_attrs=['system_metadata', 'flavor'])
        self.instance.flavor = _flavor()
        self.instance.system_metadata = {}
        xloud.set_current(self.instance, 2, 2048)
        self.instance.obj_reset_changes()
        self.mock_get = self.useFixture(fixtures.MockPatchObject(
            self.controller.compute_api, 'get',
            return_value=self.instance)).mock
        self.mock_save = self.useFixture(fixtures.MockPatchObject(
            self.instance, 'save')).mock
        # the guard reads the server again once it holds the task state
        self.mock_refresh = self.useFixture(fixtures.MockPatchObject(
            self.instance, 'refresh')).mock
        self.placement = FakePlacement()
        self.useFixture(fixtures.MockPatch(
            'nova.scheduler.client.report.report_client_singleton',
            return_value=self.placement))
        self.mock_service = self.useFixture(fixtures.MockPatch(
            'nova.objects.Service.get_by_compute_host')).mock
        self.mock_up = self.useFixture(fixtures.MockPatch(
            'nova.servicegroup.API.service_is_up', return_value=True)).mock
        self.mock_node = self.useFixture(fixtures.MockPatch(
            'nova.objects.ComputeNode.get_by_host_and_nodename',
            return_value=objects.ComputeNode(
                uuid=RP, hypervisor_type='ironic'))).mock
        rpcapi = self.controller.adjust_api.rpcapi
        self.mock_cast = self.useFixture(fixtures.MockPatchObject(
            rpcapi, 'adjust')).mock
        self.mock_action = self.useFixture(fixtures.MockPatch(
            'nova.objects.InstanceAction.action_start')).mock

    def _post(self, body, req=None):
        return self.controller.create(req or self.req, uuids.server,
                                      body=body)


class XloudAdjustSchemaTest(XloudAdjustTestBase):

    def _bad(self, body):
        self.assertRaises(exception.ValidationError, self._post, body)
        self.mock_cast.assert_not_called()
        self.mock_save.assert_not_called()

    def test_empty_body(self):
        self._bad({})

    def test_persist_only(self):
        self._bad({'persist': False})

    def test_strings(self):
        self._bad({'current_vcpus': '2'})
        self._bad({'current_memory_mb': '2048'})

    def test_floats(self):
        self._bad({'current_vcpus': 2.0})
        self._bad({'current_vcpus': 2.5})
        self._bad({'current_memory_mb': 2048.0})

    def test_booleans(self):
        self._bad({'current_vcpus': True})
        self._bad({'current_memory_mb': False})
        self._bad({'current_vcpus': 2, 'persist': 'true'})
        self._bad({'current_vcpus': 2, 'persist': 1})

    def test_null(self):
        self._bad({'current_vcpus': None})
        self._bad({'current_vcpus': 2, 'persist': None})

    def test_below_one(self):
        self._bad({'current_vcpus': 0})
        self._bad({'current_memory_mb': -1})

    def test_extra_key(self):
        self._bad({'current_vcpus': 2, 'vcpus': 2})

    def test_not_an_object(self):
        self._bad([])
        self._bad(2)


class XloudAdjustTest(XloudAdjustTestBase):

    def test_range_vcpus_above_flavor(self):
        ex = self.assertRaises(webob.exc.HTTPBadRequest, self._post,
                               {'current_vcpus': 5})
        self.assertIn('from 1', ex.explanation)
        self.assertIn('to 4', ex.explanation)
        self.mock_save.assert_not_called()
        self.mock_cast.assert_not_called()

    def test_range_memory_below_minimum(self):
        ex = self.assertRaises(webob.exc.HTTPBadRequest, self._post,
                               {'current_memory_mb': 512})
        self.assertIn('from 1024', ex.explanation)
        self.assertIn('to 4096', ex.explanation)

    def test_range_flavor_without_minimum(self):
        self.instance.flavor.extra_specs = {}
        self.instance.system_metadata = {}
        ex = self.assertRaises(webob.exc.HTTPBadRequest, self._post,
                               {'current_vcpus': 2})
        self.assertIn('from 4', ex.explanation)

    def test_not_found(self):
        self.mock_get.side_effect = exception.InstanceNotFound(
            instance_id=uuids.server)
        self.assertRaises(webob.exc.HTTPNotFound, self._post,
                          {'current_vcpus': 2})
        self.assertRaises(webob.exc.HTTPNotFound, self.controller.show,
                          self.req, uuids.server)

    def test_cell_down(self):
        # upstream's get() of a server whose cell does not answer
        self.mock_get.side_effect = exception.NovaException(
            'Cell x is not responding or returned an exception, hence '
            'instance info is not available.')
        for call in (lambda: self._post({'current_vcpus': 2}),
                     lambda: self.controller.show(self.req, uuids.server)):
            ex = self.assertRaises(webob.exc.HTTPServiceUnavailable, call)
            self.assertIn('is not responding', ex.explanation)
        self.mock_save.assert_not_called()
        self.mock_cast.assert_not_called()

    def test_database_unreachable(self):
        # a restart or a failover of the database: 503, not a 500
        self.mock_get.side_effect = db_exc.DBConnectionError(
            "(2003, \"Can't connect to MySQL server on '127.0.0.1'\")")
        for call in (lambda: self._post({'current_vcpus': 2}),
                     lambda: self.controller.show(self.req, uuids.server)):
            ex = self.assertRaises(webob.exc.HTTPServiceUnavailable, call)
            self.assertIn('database of server %s cannot be reached' %
                          uuids.server, ex.explanation)
        self.mock_save.assert_not_called()
        self.mock_cast.assert_not_called()

    def _conflict(self, body=None):
        ex = self.assertRaises(webob.exc.HTTPConflict, self._post,
                               body or {'current_vcpus': 3})
        self.mock_cast.assert_not_called()
        self.mock_action.assert_not_called()
        return ex

    def test_not_active(self):
        self.instance.vm_state = vm_states.STOPPED
        self._conflict()
        self.mock_save.assert_not_called()

    def test_locked_member(self):
        self.instance.locked = True
        # the policy opened to non-admins
        self.policy.set_rules({'os_compute_api:os-xloud-adjust:adjust':
                               '@'},
                              overwrite=False)
        req = fakes.HTTPRequest.blank('', project_id='p')
        self.assertRaises(webob.exc.HTTPConflict, self._post,
                          {'current_vcpus': 3}, req=req)
        self.mock_cast.assert_not_called()

    def test_locked_admin(self):
        self.instance.locked = True
        self._post({'current_vcpus': 3})
        self.mock_cast.assert_called_once()

    def test_task_in_progress(self):
        self.instance.task_state = task_states.REBOOTING
        ex = self._conflict()
        self.assertIn('rebooting', ex.explanation)
        self.mock_save.assert_not_called()

    def test_concurrent_guard(self):
        self.mock_save.side_effect = exception.UnexpectedTaskStateError(
            instance_uuid=uuids.server, expected=[None],
            actual=task_states.RESIZE_PREP)
        self._conflict()
        self.assertEqual([], self.placement.puts)

    def test_concurrent_guard_names_the_task_state(self):
        # Nova's database layer gives the fields that did not match
        self.mock_save.side_effect = exception.UnexpectedTaskStateError(
            instance_uuid=uuids.server, expected={'task_state': [None]},
            actual={'task_state': task_states.RESIZE_PREP})
        ex = self._conflict()
        self.assertIn('(task state resize_prep): wait for it to finish',
                      ex.explanation)
        self.assertNotIn('{', ex.explanation)
        self.assertIsNone(self.instance.task_state)

    def test_guard_saves_the_task_state_alone(self):
        # the compare-and-swap carries no system metadata: a stale copy
        # would overwrite what the previous adjust recorded
        changes = []
        self.mock_save.side_effect = lambda **kw: changes.append(
            (kw, set(self.instance.obj_what_changed())))
        self._post({'current_vcpus': 3})
        self.assertEqual({'expected_task_state': [None]}, changes[0][0])
        self.assertIn('task_state', changes[0][1])
        self.assertNotIn('system_metadata', changes[0][1])
        # the first save read the server back (Instance.save() does): no
        # second read
        self.mock_refresh.assert_not_called()
        self.assertEqual(
            {'expected_task_state': [xloud.TASK_STATE]}, changes[1][0])
        self.assertIn('system_metadata', changes[1][1])

    def test_marker_save_fails(self):
        # e.g. StaleDataError: a concurrent write of the system metadata
        # between the guard and the marker. A 409, nothing half-done.
        self.mock_save.side_effect = [
            None, orm_exc.StaleDataError('0 were matched'), None]
        ex = self._conflict({'current_vcpus': 3})
        self.assertIn('try again', ex.explanation)
        self.assertEqual([], self.placement.puts)
        self.mock_action.assert_not_called()
        self.mock_cast.assert_not_called()
        self.assertIsNone(self.instance.task_state)
        self.assertNotIn(xloud.SYSMETA_ADJUSTING,
                         self.instance.system_metadata)
        self.mock_save.assert_called_with(
            expected_task_state=[xloud.TASK_STATE])

    def test_stopped_between_check_and_guard(self):
        def save(**kwargs):
            # what the guard's save reads back: stopped meanwhile
            if kwargs.get('expected_task_state') == [None]:
                self.instance.vm_state = vm_states.STOPPED
        self.mock_save.side_effect = save
        self._conflict({'current_vcpus': 3})
        self.assertIsNone(self.instance.task_state)
        self.mock_cast.assert_not_called()
        self.assertEqual([], self.placement.puts)

    def test_capacity(self):
        self.placement.capacity['VCPU'] = 2
        ex = self._conflict({'current_vcpus': 3})
        self.assertIn('no room', ex.explanation)
        self.assertEqual(2, self.placement.resources['VCPU'])
        # the guard was taken then released
        self.assertIsNone(self.instance.task_state)
        self.assertNotIn(xloud.SYSMETA_ADJUSTING,
                         self.instance.system_metadata)
        self.mock_save.assert_called_with(
            expected_task_state=[xloud.TASK_STATE])

    def test_old_compute(self):
        # a compute without XLoud (or of an older endpoint) has no trait
        self.placement.traits.discard(xloud_traits.RPC_1_0)
        ex = self._conflict()
        self.assertIn('predates', ex.explanation)
        self.assertIn('CUSTOM_XLOUD_RPC_1_0', ex.explanation)
        self.mock_save.assert_not_called()

    def test_a_capable_compute_is_remembered_a_while(self):
        # [xloud] capability_cache_seconds: what can adjust is kept, a
        # refusal never is; the service group is asked every time
        reads = mock.patch.object(
            self.placement, 'get_provider_traits',
            wraps=self.placement.get_provider_traits).start()
        self.addCleanup(mock.patch.stopall)
        clock = mock.patch('nova.compute.xloud_api.time').start().monotonic
        clock.return_value = 1000.0
        self.useFixture(fixtures.MockPatch(
            'nova.compute.xloud_placement.shortfall', return_value=None))

        def dry():
            self.assertEqual({'fits': True}, self._post(
                {'current_vcpus': 3, 'dry_run': True}).obj)
        dry()
        dry()
        self.assertEqual(1, reads.call_count)
        self.assertEqual(2, self.mock_up.call_count)
        # the traits taken off (a rollback): refused once the answer aged
        self.placement.traits.discard(xloud_traits.RPC_1_0)
        dry()
        clock.return_value = 1000.0 + 30
        self.assertIn('predates', self._conflict().explanation)
        self.assertEqual(2, reads.call_count)
        # a refusal is read again every time: an upgrade counts at once
        self.placement.traits.add(xloud_traits.RPC_1_0)
        dry()
        self.assertEqual(3, reads.call_count)
        # 0: placement every time
        self.flags(capability_cache_seconds=0, group='xloud')
        dry()
        dry()
        self.assertEqual(5, reads.call_count)

    def test_nova_api_has_the_xloud_options(self):
        # nova-api imports neither the compute manager nor the libvirt
        # driver, which register [xloud] elsewhere: the API's own module
        # must (a process of its own, as nova-api)
        out = subprocess.run(
            [sys.executable, '-c',
             'import nova.conf; from nova.api.openstack.compute import '
             'xloud_adjust; '
             'print(nova.conf.CONF.xloud.capability_cache_seconds)'],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(0, out.returncode, out.stderr[-2000:])
        self.assertEqual('30', out.stdout.strip().splitlines()[-1])

    def test_traits_are_read_from_the_server_s_node(self):
        self.instance.node = 'node1'
        self._post({'current_vcpus': 3})
        self.mock_node.assert_called_once_with(
            mock.ANY, 'compute1', 'node1')
        self.mock_cast.assert_called_once()

    def test_node_unknown(self):
        self.mock_node.side_effect = exception.ComputeHostNotFound(
            host='compute1')
        ex = self._conflict()
        self.assertIn('compute node', ex.explanation)

    def test_placement_unreadable(self):
        self.mock_node.return_value = objects.ComputeNode(
            uuid=uuids.other, hypervisor_type='QEMU')
        ex = self._conflict()
        self.assertIn('placement could not be read', ex.explanation)
        self.mock_save.assert_not_called()

    def test_compute_down(self):
        self.mock_up.return_value = False
        ex = self._conflict()
        self.assertIn('down', ex.explanation)
        self.mock_node.assert_not_called()

    def test_no_compute_service(self):
        self.mock_service.side_effect = exception.ComputeHostNotFound(
            host='compute1')
        ex = self._conflict()
        self.assertIn('no compute service', ex.explanation)

    def test_driver_without_support(self):
        self.placement.traits.discard(xloud_traits.LIVE_ADJUST)
        ex = self._conflict()
        self.assertIn('virt driver (hypervisor type ironic) cannot',
                      ex.explanation)

    def test_never_calls_the_compute(self):
        # the decision is made from the traits and the service group: a
        # hung compute cannot hold the request (issue 23)
        for call in ('oslo_messaging.rpc.client._BaseCallContext.call',
                     'oslo_messaging.RPCClient.call'):
            self.useFixture(fixtures.MockPatch(
                call, side_effect=AssertionError('the API called')))
        self.useFixture(fixtures.MockPatch(
            'nova.compute.xloud_placement.shortfall', return_value=None))
        self.assertEqual({'fits': True}, self._post(
            {'current_vcpus': 3, 'dry_run': True}).obj)
        self._post({'current_vcpus': 3})
        self.mock_cast.assert_called_once()

    def test_increase_is_claimed_then_cast(self):
        self._post({'current_vcpus': 3, 'current_memory_mb': 3072})
        self.assertEqual({'VCPU': 3, 'MEMORY_MB': 3072, 'DISK_GB': 1},
                         self.placement.resources)
        self.assertEqual(1, self.placement.puts[0]['consumer_generation'])
        self.assertEqual(
            [mock.call(expected_task_state=[None]),
             mock.call(expected_task_state=[xloud.TASK_STATE])],
            self.mock_save.call_args_list)
        self.assertEqual(xloud.TASK_STATE, self.instance.task_state)
        self.assertEqual(self.context.request_id,
                         self.instance.system_metadata['xloud_adjusting'])
        self.mock_action.assert_called_once_with(
            self.context, uuids.server, 'xloud_adjust', want_result=False)
        self.mock_cast.assert_called_once_with(
            self.context, self.instance, 3, 3072, True,
            self.context.request_id)

    def test_decrease_waits_for_the_guest(self):
        self._post({'current_vcpus': 1, 'persist': False})
        self.assertEqual([], self.placement.puts)
        self.mock_cast.assert_called_once_with(
            self.context, self.instance, 1, None, False,
            self.context.request_id)

    def test_mixed_claims_only_the_increase(self):
        self._post({'current_vcpus': 1, 'current_memory_mb': 4096})
        self.assertEqual(2, self.placement.resources['VCPU'])
        self.assertEqual(4096, self.placement.resources['MEMORY_MB'])

    def test_cast_failure_returns_claim(self):
        self.mock_cast.side_effect = messaging.MessageDeliveryFailure()
        self.assertRaises(webob.exc.HTTPConflict, self._post,
                          {'current_vcpus': 3})
        self.assertEqual(2, self.placement.resources['VCPU'])
        self.assertIsNone(self.instance.task_state)

    def test_show(self):
        res = self.controller.show(self.req, uuids.server)
        self.assertEqual({
            'server_id': uuids.server,
            'vcpus': {'minimum': 1, 'current': 2, 'maximum': 4},
            'memory_mb': {'minimum': 1024, 'current': 2048,
                          'maximum': 4096},
            'guest': {'confirmed': False, 'vcpus_online': None,
                      'memory_mb': None, 'usable_mb': None,
                      'read_at': None,
                      'reason': 'the compute has not read the guest yet'},
            'cpu_cap': None,
            'autoscale': {'enabled': False, 'last_decision': None,
                          'reason': 'its flavor does not opt in '
                                    '(xloud:autoscale)'}}, res)

    def _report(self, age=5, **real):
        """What the compute recorded of the guest ``age`` seconds ago."""
        report = {'agent': 'answered', 'vcpus_online': 2, 'memory_mb': 2000,
                  'usable_mb': 1500, 'balloon_mb': 2048, 'stats_age': 2,
                  'at': int(time.time()) - age}
        report.update(real.pop('guest', {}))
        real.setdefault('vcpus', 2)
        xloud_guest_view.record(self.instance, dict(real, guest=report))

    def test_show_what_the_guest_confirms(self):
        self._report()
        res = self.controller.show(self.req, uuids.server)
        self.assertTrue(res['guest']['confirmed'])
        self.assertEqual((2, 2000, 1500), (res['guest']['vcpus_online'],
                                           res['guest']['memory_mb'],
                                           res['guest']['usable_mb']))
        self.assertRegex(res['guest']['read_at'],
                         r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')
        self.assertIsNone(res['guest']['reason'])
        self.assertIsNone(res['cpu_cap'])

    def test_show_nothing_confirms(self):
        self._report(guest={'agent': 'none', 'vcpus_online': None})
        res = self.controller.show(self.req, uuids.server)
        self.assertFalse(res['guest']['confirmed'])
        self.assertIn('hw_qemu_guest_agent=yes', res['guest']['reason'])
        self._report(guest={'agent': 'silent', 'vcpus_online': None})
        res = self.controller.show(self.req, uuids.server)
        self.assertEqual('the guest agent does not answer',
                         res['guest']['reason'])

    def test_show_the_cpu_cap_and_why(self):
        # shrunk to 1 on a host that cannot unplug: 2 plugged, no agent
        xloud.record(self.instance, 1, 2048, persist=True)
        self._report(vcpus=1, vcpus_plugged=2,
                     vcpus_kept='unplug-unconfirmed',
                     guest={'agent': 'none', 'vcpus_online': None})
        res = self.controller.show(self.req, uuids.server)
        self.assertEqual(1, res['vcpus']['current'])
        cap = res['cpu_cap']
        self.assertEqual((2, 1, None), (cap['vcpus_plugged'],
                                        cap['vcpus_allowed'],
                                        cap['vcpus_online']))
        self.assertIn('do not confirm a vCPU unplug', cap['reason'])
        self.assertIn("caps the server's CPU time at 1 vCPU's worth",
                      cap['reason'])
        self.assertIn('may keep all 2 online', cap['reason'])
        # with an agent that took the other offline
        self._report(vcpus=1, vcpus_plugged=2,
                     guest={'vcpus_online': 1})
        cap = self.controller.show(self.req, uuids.server)['cpu_cap']
        self.assertEqual(1, cap['vcpus_online'])
        self.assertIn('the guest agent took the others offline',
                      cap['reason'])
        # grown back: no cap, nothing to say
        self._report(vcpus=2, vcpus_plugged=2)
        self.assertIsNone(
            self.controller.show(self.req, uuids.server)['cpu_cap'])

    def test_shrink_the_guest_cannot_give_is_a_409_at_once(self):
        self.flags(memory_shrink_margin_mb=128, group='xloud')
        self._report(guest={'usable_mb': 600})
        ex = self._conflict({'current_memory_mb': 1024})
        self.assertIn('it uses 1448 MiB of its 2048 MiB', str(ex))
        self.assertIn('the guest cannot shrink below 1576 MiB now',
                      str(ex))
        self.mock_save.assert_not_called()
        # the dry run says why it does not fit
        res = self._post({'current_memory_mb': 1024,
                          'dry_run': True}).obj
        self.assertFalse(res['fits'])
        self.assertIn('1576 MiB', res['reason'])
        # what it can give is accepted
        self._post({'current_memory_mb': 1576})
        self.mock_cast.assert_called_once()

    def test_old_report_decides_nothing(self):
        self._report(age=3600, guest={'usable_mb': 0})
        self._post({'current_memory_mb': 1024})
        self.mock_cast.assert_called_once()

    def test_guest_report_never_raises_a_claim(self):
        # a guest that says it has more online than it may use
        self._report(guest={'vcpus_online': 4})
        self._post({'current_vcpus': 3})
        self.assertEqual(3, self.placement.puts[-1]['allocations'][RP][
            'resources']['VCPU'])

    def test_show_live_values(self):
        xloud.record(self.instance, 3, 2048, persist=False)
        res = self.controller.show(self.req, uuids.server)
        self.assertEqual(3, res['vcpus']['current'])
        self.assertEqual('2', self.instance.system_metadata[
            xloud.SYSMETA_VCPUS])

    def test_routes(self):
        paths = dict(xloud_adjust.ROUTES)
        for path in ('/servers/{server_id}/os-xloud-adjust',
                     '/os-xloud-adjust/{server_id}'):
            self.assertEqual({'GET', 'POST'}, set(paths[path]))
