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

"""Grow by moving (``nova.compute.xloud_move``) and its manager hook."""

from unittest import mock
import urllib.parse

from oslo_serialization import jsonutils
from oslo_utils.fixture import uuidsentinel as uuids

from nova.compute import manager as compute_manager
from nova.compute import power_state
from nova.compute import task_states
from nova.compute import vm_states
from nova.compute import xloud
from nova.compute import xloud_errors
from nova.compute import xloud_move
from nova.compute import xloud_traits
from nova import context as nova_context
from nova import exception
from nova import objects
from nova import test
from nova.tests.unit.api.openstack.compute import test_xloud_adjust as api
from nova.tests.unit import fake_instance


class _Response(object):

    def __init__(self, status_code, body):
        self.status_code = status_code
        self._body = body

    def __bool__(self):
        return self.status_code < 400

    def json(self):
        return self._body


class XloudMoveTest(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.context = nova_context.get_admin_context()
        self.context.request_id = 'req-move'
        self.instance = fake_instance.fake_instance_obj(
            self.context, uuid=uuids.server, vm_state=vm_states.ACTIVE,
            task_state=None, host='compute2',
            power_state=power_state.RUNNING,
            expected_attrs=['system_metadata', 'flavor'])
        self.instance.flavor = api._flavor()
        self.instance.system_metadata = {}
        xloud.set_current(self.instance, 2, 2048)
        self.save = mock.patch.object(self.instance, 'save').start()
        self.refresh = mock.patch.object(self.instance, 'refresh').start()
        self.placement = api.FakePlacement()
        self.manager = mock.Mock(host='compute2',
                                 reportclient=self.placement)
        self.cast = mock.patch(
            'nova.compute.xloud_rpcapi.XloudComputeAPI.adjust').start()

    def _wait_for(self, request_id='req-move', vcpus=4, memory_mb=None):
        self.instance.system_metadata[xloud_move.SYSMETA_GROWTH] = (
            jsonutils.dumps({'request_id': request_id, 'vcpus': vcpus,
                             'memory_mb': memory_mb, 'persist': True}))

    # the growth a move is for
    def test_target_is_the_growth_of_this_request_only(self):
        self._wait_for(vcpus=4, memory_mb=1024)
        # never below what the guest runs (2048 MiB)
        self.assertEqual((4, 2048),
                         xloud_move.target(self.context, self.instance))
        other = nova_context.get_admin_context()
        other.request_id = 'req-other'
        self.assertIsNone(xloud_move.target(other, self.instance))
        self.assertIsNone(xloud_move.target(None, self.instance))
        self.instance.system_metadata[xloud_move.SYSMETA_GROWTH] = '[1, 2]'
        self.assertIsNone(xloud_move.target(self.context, self.instance))

    # placement's word on the other hosts
    def test_room_elsewhere_asks_one_candidate_with_the_trait(self):
        client = mock.Mock()
        client.get.return_value = _Response(200, {
            'allocation_requests': [{'allocations': {}}]})
        self.assertTrue(xloud_move.room_elsewhere(
            self.context, client, self.instance, {'vcpus': 4}))
        url = client.get.call_args[0][0]
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        self.assertEqual({'limit': ['1'],
                          'resources': ['VCPU:4,MEMORY_MB:2048'],
                          'required': [xloud_traits.LIVE_ADJUST]}, query)
        self.assertEqual('1.17', client.get.call_args[1]['version'])
        client.get.return_value = _Response(200, {'allocation_requests': []})
        self.assertFalse(xloud_move.room_elsewhere(
            self.context, client, self.instance, {'vcpus': 4}))

    def test_room_elsewhere_placement_failure_is_a_409(self):
        client = mock.Mock()
        client.get.return_value = _Response(503, {})
        ex = self.assertRaises(xloud_errors.AdjustConflict,
                               xloud_move.room_elsewhere, self.context,
                               client, self.instance, {'vcpus': 4})
        self.assertIn('placement could not be read (503)',
                      ex.format_message())

    # the API's side
    @mock.patch('nova.conductor.api.ComputeTaskAPI.live_migrate_instance')
    @mock.patch.object(xloud_move, 'room_elsewhere', return_value=False)
    def test_start_without_room_anywhere_moves_nothing(self, room, migrate):
        ex = self.assertRaises(
            xloud_errors.AdjustConflict, xloud_move.start, self.context,
            self.instance, {'vcpus': 4}, True, 'VCPU: 2 more needed',
            self.placement)
        self.assertIn('no other host has room for vcpus=4 memory_mb=2048',
                      ex.format_message())
        self.assertIn('nothing was moved', ex.format_message())
        self.save.assert_not_called()
        migrate.assert_not_called()
        self.assertIsNone(self.instance.task_state)

    @mock.patch.object(objects.InstanceAction, 'action_start')
    @mock.patch.object(objects.RequestSpec, 'get_by_instance_uuid')
    @mock.patch('nova.conductor.api.ComputeTaskAPI.live_migrate_instance')
    @mock.patch.object(xloud_move, 'room_elsewhere', return_value=True)
    def test_start_takes_the_server_and_casts_the_move(
            self, room, migrate, get_spec, action_start):
        xloud_move.start(self.context, self.instance, {'vcpus': 4}, False,
                         'VCPU: 2 more needed', self.placement)
        self.assertEqual(
            [mock.call(expected_task_state=[None]),
             mock.call(expected_task_state=[task_states.MIGRATING])],
            self.save.call_args_list)
        self.assertEqual(task_states.MIGRATING, self.instance.task_state)
        self.assertEqual({'request_id': 'req-move', 'vcpus': 4,
                          'memory_mb': None, 'persist': False},
                         xloud_move.growth(self.instance))
        get_spec.return_value.reset_forced_destinations.assert_called_once()
        action_start.assert_called_once_with(
            self.context, uuids.server, xloud.ACTION, want_result=False)
        migrate.assert_called_once_with(
            self.context, self.instance, None, block_migration=None,
            disk_over_commit=None, request_spec=get_spec.return_value,
            async_=True)

    @mock.patch.object(objects.InstanceAction, 'action_start')
    @mock.patch.object(objects.RequestSpec, 'get_by_instance_uuid')
    @mock.patch('nova.conductor.api.ComputeTaskAPI.live_migrate_instance',
                side_effect=exception.NoValidHost(reason='none'))
    @mock.patch.object(xloud_move, 'room_elsewhere', return_value=True)
    def test_start_that_cannot_cast_gives_the_server_back(
            self, room, migrate, get_spec, action_start):
        ex = self.assertRaises(
            xloud_errors.AdjustConflict, xloud_move.start, self.context,
            self.instance, {'vcpus': 4}, True, 'short', self.placement)
        self.assertIn('could not be started', ex.format_message())
        self.assertIsNone(self.instance.task_state)
        self.assertIsNone(xloud_move.growth(self.instance))
        self.save.assert_called_with(
            expected_task_state=[task_states.MIGRATING])

    def test_start_loses_to_another_task(self):
        self.save.side_effect = exception.UnexpectedTaskStateError(
            instance_uuid=uuids.server, expected=[None],
            actual={'task_state': 'rebooting'})
        with mock.patch.object(xloud_move, 'room_elsewhere',
                               return_value=True), mock.patch.object(
                objects.RequestSpec, 'get_by_instance_uuid'):
            ex = self.assertRaises(
                xloud_errors.AdjustInProgress, xloud_move.start,
                self.context, self.instance, {'vcpus': 4}, True, 'short',
                self.placement)
        self.assertIn('rebooting', ex.format_message())
        self.assertIsNone(self.instance.task_state)

    # the destination's side
    def test_after_live_migration_without_growth_does_nothing(self):
        xloud_move.after_live_migration(self.manager, self.context,
                                        self.instance)
        self.save.assert_not_called()
        self.cast.assert_not_called()

    def test_after_live_migration_takes_the_server_and_casts_it(self):
        self._wait_for(vcpus=4)
        xloud_move.after_live_migration(self.manager, self.context,
                                        self.instance)
        self.save.assert_called_once_with(expected_task_state=[None])
        self.assertEqual(xloud.TASK_STATE, self.instance.task_state)
        self.assertEqual('req-move', xloud.adjusting(self.instance))
        self.assertIsNone(xloud_move.growth(self.instance))
        self.cast.assert_called_once_with(
            self.context, self.instance, 4, None, True, 'req-move')

    def test_after_another_live_migration_the_growth_is_dropped(self):
        self._wait_for(request_id='req-failed-move')
        xloud_move.after_live_migration(self.manager, self.context,
                                        self.instance)
        self.save.assert_called_once_with()
        self.assertIsNone(self.instance.task_state)
        self.assertIsNone(xloud_move.growth(self.instance))
        self.cast.assert_not_called()

    @mock.patch('nova.compute.xloud_events.fail')
    def test_after_live_migration_loses_to_another_task(self, fail):
        self._wait_for(vcpus=4)
        # the destination's claim holds the growth
        self.placement.resources['VCPU'] = 4
        self.save.side_effect = exception.UnexpectedTaskStateError(
            instance_uuid=uuids.server, expected=[None],
            actual={'task_state': 'powering-off'})
        with mock.patch('nova.compute.xloud_placement.follow') as follow:
            xloud_move.after_live_migration(self.manager, self.context,
                                            self.instance)
        self.cast.assert_not_called()
        fail.assert_called_once_with(
            self.context, self.instance, 'req-move', mock.ANY, 'compute2')
        self.assertIn('another task took it before it grew',
                      fail.call_args[0][3])
        follow.assert_called_once_with(self.context, self.placement,
                                       self.instance, 2, 2048)

    def test_manager_calls_the_hook_after_the_live_migration(self):
        # the patch's hook: the last thing post_live_migration_at_
        # destination does
        mgr = compute_manager.ComputeManager()
        with test.nested(
            mock.patch.object(mgr, 'network_api'),
            mock.patch.object(mgr, 'driver'),
            mock.patch.object(mgr, 'rt'),
            mock.patch.object(mgr, '_notify_about_instance_usage'),
            mock.patch('nova.compute.utils.notify_about_instance_action'),
            mock.patch.object(mgr, '_get_instance_block_device_info'),
            mock.patch.object(mgr, '_get_power_state', return_value=1),
            mock.patch.object(mgr, '_get_compute_info',
                              return_value=objects.ComputeNode(
                                  id=7, hypervisor_hostname='node2')),
            mock.patch.object(self.instance, 'apply_migration_context'),
            mock.patch.object(self.instance, 'drop_migration_context'),
            mock.patch.object(objects.InstanceActionEvent, 'event_start'),
            mock.patch.object(objects.InstanceActionEvent,
                              'event_finish_with_failure'),
            mock.patch('nova.compute.xloud_move.after_live_migration'),
        ) as mocks:
            self.instance.task_state = task_states.MIGRATING
            mgr.post_live_migration_at_destination(
                self.context, self.instance, False)
        mocks[-1].assert_called_once_with(mgr, self.context, self.instance)
