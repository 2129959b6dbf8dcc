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

"""An adjust whose cast never reaches its compute, or a compute that hangs.

The API never waits on a compute (issue 23): it decides from the service
group and the compute's traits, claims, and casts. A cast can then be lost
(RabbitMQ restarted with it in its queue) or wait on a compute that hangs.
The compute's periodic task ends such an adjust at ``[xloud]
adjust_timeout``; a request that comes after that is stale and dropped;
an evacuation ends the adjust of a compute that never came back.

Nova's fake libvirt (a stand-in) with ``FakeLiveGuest``; placement is
real; the lost cast is one the test drops on its way to the compute.
"""

from unittest import mock

import fixtures
from oslo_db import exception as db_exc
from oslo_utils import timeutils

from nova.compute import xloud
from nova.compute import xloud_endpoint
from nova.compute import xloud_events
from nova.compute import xloud_manager
from nova import objects
from nova.tests.functional.libvirt import test_xloud_adjust_moves
from nova.tests.functional.libvirt import xloud_base


class _LostCast(object):
    """Drop the adjust's casts; keep them to deliver late."""

    def _lose_casts(self):
        """Until ``self.losing`` is False: then they arrive at once."""
        self.lost = []
        self.losing = True
        self.useFixture(fixtures.MockPatch(
            'nova.compute.xloud_rpcapi.XloudComputeAPI.adjust',
            side_effect=self._cast))

    def _cast(self, ctxt, instance, *args):
        if self.losing:
            self.lost.append((ctxt, instance, args))
        else:
            xloud_endpoint.XloudComputeEndpoint(
                self.computes[instance.host].manager).adjust(
                ctxt, instance, *args)

    def _deliver_late(self, host):
        """The lost cast reaches the compute after all."""
        endpoint = xloud_endpoint.XloudComputeEndpoint(
            self.computes[host].manager)
        for ctxt, instance, args in self.lost:
            endpoint.adjust(ctxt, instance, *args)

    def _freeze_clock(self):
        """Nova's clock stops here (the action's start time included): a
        slow machine cannot add its own seconds to the ones a test counts.
        """
        timeutils.set_time_override()
        self.addCleanup(timeutils.clear_time_override)
        self._frozen = True

    def _expire(self, host, after):
        """The compute's periodic task, ``after`` seconds from now."""
        # (oslo.utils 9 keeps no override_time on utcnow to ask)
        if not getattr(self, '_frozen', False):
            self._freeze_clock()
        timeutils.advance_time_seconds(after)
        self.computes[host].manager._xloud_expire_adjusts(self.ctxt)

    def _adjust_events(self, server_id):
        found = []
        for action in self.admin_api.get_instance_actions(server_id):
            if action['action'] == xloud.ACTION:
                found.append(xloud_base.adjust_events(
                    self.admin_api.get_instance_action_details(
                        server_id, action['request_id'])['events']))
        return found


class XloudLostCastTest(_LostCast, xloud_base.XloudServerTestBase):

    def setUp(self):
        super().setUp()
        # no heartbeats in the functional fixtures: "up" by the clock
        self.flags(service_down_time=3600)

    def test_lost_cast_ends_at_the_timeout(self):
        self._lose_casts()
        self._freeze_clock()
        self._post({'current_vcpus': 3, 'current_memory_mb': 2048})
        self.assertEqual(1, len(self.lost))
        # taken and claimed, never begun
        self.assertEqual(xloud.TASK_STATE, self._instance().task_state)
        self.assertEqual((3, 2048), self._placement())
        self.assertEqual((1, 1024), self._guest())
        # before the timeout the periodic task leaves it
        self._expire('compute1', after=299)
        self.assertEqual(xloud.TASK_STATE, self._instance().task_state)
        # after it, the adjust ends in Error and everything agrees again
        timeutils.advance_time_seconds(2)
        self.computes['compute1'].manager._xloud_expire_adjusts(self.ctxt)
        self._assert_consistent(1, 1024)
        self.assertNotIn(xloud.SYSMETA_ADJUSTING,
                         self._instance().system_metadata)
        [[event]] = self._adjust_events(self.server['id'])
        self.assertEqual('Error', event['result'])
        self.assertEqual('compute1', event['host'])
        self.assertIn('did not begin within 300 s', event['traceback'])
        # the request comes after all: stale, dropped
        self._deliver_late('compute1')
        self._assert_consistent(1, 1024)
        # and the server adjusts again
        timeutils.clear_time_override()
        self.losing = False
        self._post({'current_vcpus': 2})
        self._assert_consistent(2, 1024)

    def test_the_periodic_task_never_holds_a_young_adjust(self):
        """An adjust beginning while the periodic task reads its age.

        The cast (or the autoscaler's own run) is not dropped as "already
        handled": the task claims an adjust only once it is too old.
        """
        self._lose_casts()
        self._post({'current_vcpus': 3})
        ages = []

        def age(context, instance, request_id):
            # the cast arrives while the age is read
            ages.append(request_id in xloud_manager.HANDLING)
            self.losing = False
            self._deliver_late('compute1')
            return 1

        with mock.patch('nova.compute.xloud_events.age', side_effect=age):
            self.computes['compute1'].manager._xloud_expire_adjusts(
                self.ctxt)
        self.assertEqual([False], ages)
        self._assert_consistent(3, 1024)
        [[event]] = self._adjust_events(self.server['id'])
        self.assertEqual('Success', event['result'])

    def test_timeout_zero_never_ends_it(self):
        self.flags(adjust_timeout=0, group='xloud')
        self._lose_casts()
        self._post({'current_vcpus': 3})
        self._expire('compute1', after=10 ** 6)
        self.assertEqual(xloud.TASK_STATE, self._instance().task_state)

    def test_compute_down_answers_at_once(self):
        self._lose_casts()
        service = self.computes['compute1'].service_ref.uuid
        self.admin_api.put_service(service, {'forced_down': True})
        ex = self._post({'current_vcpus': 3}, status=409)
        self.assertIn('the compute service is down', str(ex))
        ex = self._post({'current_vcpus': 3, 'dry_run': True}, status=409)
        self.assertIn('the compute service is down', str(ex))
        self.assertEqual([], self.lost)
        self.assertEqual([], self._adjust_events(self.server['id']))
        self._assert_consistent(1, 1024)

    def test_a_running_adjust_is_not_cut_short(self):
        # the periodic task runs while the compute is in the middle of it
        seen = []
        real_read = self.computes['compute1'].driver.xloud_adjust

        def slow_adjust(*args, **kwargs):
            timeutils.set_time_override()
            timeutils.advance_time_seconds(10 ** 4)
            self.computes['compute1'].manager._xloud_expire_adjusts(
                self.ctxt)
            timeutils.clear_time_override()
            seen.append(self._instance().task_state)
            return real_read(*args, **kwargs)
        self.useFixture(fixtures.MockPatchObject(
            self.computes['compute1'].driver, 'xloud_adjust', slow_adjust))
        self._post({'current_vcpus': 3})
        self.assertEqual([xloud.TASK_STATE], seen)
        self._assert_consistent(3, 1024)
        [[event]] = self._adjust_events(self.server['id'])
        self.assertEqual('Success', event['result'])
        self.assertEqual(set(), xloud_manager.HANDLING)

    # the database or the conductor stops answering in the middle
    def _outage_at_the_end_of(self, event_names):
        """The first end of one of ``event_names`` fails as a database
        restart would fail it.
        """
        real_finish = objects.InstanceActionEvent.event_finish
        failed = []

        def finish(ctxt, uuid, event, *args, **kwargs):
            if event in event_names and not failed:
                failed.append(event)
                raise db_exc.DBConnectionError('the database restarts')
            return real_finish(ctxt, uuid, event, *args, **kwargs)
        self.useFixture(fixtures.MockPatchObject(
            objects.InstanceActionEvent, 'event_finish',
            side_effect=finish))
        self.addCleanup(xloud_events._NOTES_TO_FINISH.clear)
        return failed

    def _open_events(self):
        return [e['event'] for a in self.admin_api.get_instance_actions(
            self.server['id']) for e in self.admin_api.
            get_instance_action_details(self.server['id'],
                                        a['request_id'])['events']
            if not e['finish_time']]

    def test_a_note_an_outage_left_open_is_ended_by_the_next_pass(self):
        failed = self._outage_at_the_end_of(xloud_events.NOTE_EVENTS)
        self._post({'current_vcpus': 3})
        self._assert_consistent(3, 1024)
        self.assertEqual(1, len(failed))
        self.assertEqual(failed, self._open_events())
        self.computes['compute1'].manager._xloud_expire_adjusts(self.ctxt)
        self.assertEqual([], self._open_events())
        self.assertEqual([], xloud_events._NOTES_TO_FINISH)

    def test_a_note_left_open_is_ended_when_the_compute_restarts(self):
        failed = self._outage_at_the_end_of(xloud_events.NOTE_EVENTS)
        self._post({'current_vcpus': 3})
        self.assertEqual(failed, self._open_events())
        # a restart loses the list of notes to end: the events tell
        xloud_events._NOTES_TO_FINISH.clear()
        self.restart_compute_service('compute1', keep_hypervisor_state=True)
        self.assertEqual([], self._open_events())
        self._assert_consistent(3, 1024)

    def test_the_timeout_tells_a_lost_cast_from_an_unrecorded_end(self):
        # what expire_adjusts says depends on whether the compute began
        self._lose_casts()
        self._post({'current_vcpus': 3})
        request_id = xloud.adjusting(self._instance())
        self.assertFalse(xloud_events.began(self.ctxt, self._instance(),
                                            request_id))
        self._deliver_late('compute1')
        self._assert_consistent(3, 1024)
        self.assertTrue(xloud_events.began(self.ctxt, self._instance(),
                                           request_id))


class XloudEvacuatedBeforeItsAdjustTest(
        _LostCast, test_xloud_adjust_moves.XloudAdjustMoveTest):
    """Its compute died with the adjust in its queue; it is evacuated."""

    def test_evacuation_ends_the_adjust(self):
        self._lose_casts()
        self._adjust(3, 3072, persist=True)
        self.computes[self.source].stop()
        service = self.computes[self.source].service_ref.uuid
        self.api.put_service(service, {'forced_down': True})
        # as in test_evacuate_returns_to_the_persisted_values
        self.flags(host=self.other)
        self._evacuate_server(self.server, expected_host=self.other)
        instance = self._instance()
        self.assertIsNone(instance.task_state)
        self.assertNotIn(xloud.SYSMETA_ADJUSTING, instance.system_metadata)
        [[event]] = self._adjust_events(self.server['id'])
        self.assertEqual('Error', event['result'])
        self.assertIn('evacuated', event['traceback'])
        # what was recorded before the adjust stays: 2 / 2048
        self.assertEqual((2, 2048), self._shown())
        self.assertEqual({'VCPU': 2, 'MEMORY_MB': 2048, 'DISK_GB': 1},
                         self._usage(self.other))
        # the lost request reaches the old compute when it comes back
        self._deliver_late(self.source)
        self.assertEqual((2, 2048), self._shown())
        self.assertIsNone(self._instance().task_state)

    # the parent's tests run in their own module
    test_boot_runs_the_xml_current_values = None
    test_live_migration_keeps_the_live_values = None
    test_cold_migration_returns_to_the_persisted_values = None
    test_rebuild_returns_to_the_persisted_values = None
    test_resize_revert_returns_to_the_persisted_values = None
    test_evacuate_returns_to_the_persisted_values = None
    test_unshelve_returns_to_the_persisted_values = None
