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

"""Functional tests of the live adjust, with Nova's fake libvirt and real
placement (PlacementFixture).

Nova's fake libvirt domain gets libvirt's vCPU and balloon calls from
``nova.tests.fixtures.xloud_libvirt.FakeLiveGuest`` (a stand-in with the
rules of libvirt's own test driver); a domain starts running the current
values of the XML the driver defined it from.
"""

import threading
import time
from unittest import mock

import fixtures
from oslo_utils.fixture import uuidsentinel as uuids
import sqlalchemy as sa

from nova.compute import utils as compute_utils
from nova.compute import xloud
from nova.compute import xloud_endpoint
from nova.compute import xloud_placement
from nova.compute import xloud_traits
from nova.db.main import api as db_api
from nova import objects
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.fixtures import xloud_libvirt
from nova.tests.functional.api import client
from nova.tests.functional.libvirt import xloud_base

LIVE = fakelibvirt.VIR_DOMAIN_AFFECT_LIVE
CONFIG = fakelibvirt.VIR_DOMAIN_AFFECT_CONFIG


class XloudAdjustTest(xloud_base.XloudServerTestBase):

    # helpers
    def _guest_config(self):
        dom = self._dom()
        dom.vcpusFlags(LIVE)
        return (dom._xloud[CONFIG]['vcpus'],
                dom._xloud[CONFIG]['kib'] // 1024)

    def _set_guest(self, vcpus, memory_mb):
        dom = self._dom()
        dom.vcpusFlags(LIVE)
        for f in (LIVE, CONFIG):
            dom._xloud[f].update(vcpus=vcpus, kib=memory_mb * 1024)

    def _persisted(self):
        return xloud.current(self._instance())

    def _last_event(self):
        actions = [a for a in self.admin_api.get_instance_actions(
            self.server['id']) if a['action'] == 'xloud_adjust']
        events = self.admin_api.get_instance_action_details(
            self.server['id'], actions[0]['request_id'])['events']
        return xloud_base.adjust_events(events)[0]

    # tests
    def test_get(self):
        self.assertEqual({
            'server_id': self.server['id'],
            'vcpus': {'minimum': 1, 'current': 1, 'maximum': 4},
            'memory_mb': {'minimum': 1024, 'current': 1024,
                          'maximum': 4096},
            # no adjust yet, and the compute's periodic read has not run
            'guest': {'confirmed': False, 'vcpus_online': None,
                      'memory_mb': None, 'usable_mb': None, 'read_at': None,
                      'reason': 'the compute has not read the guest yet'},
            'cpu_cap': None,
            'autoscale': {'enabled': False, 'last_decision': None,
                          'reason': 'its flavor does not opt in '
                                    '(xloud:autoscale)'}}, self._get())
        self.assertEqual(self._get(), self._get(alias=True))
        self._assert_consistent(1, 1024)

    def test_up_and_down_both_routes(self):
        for alias in (False, True):
            self._post({'current_vcpus': 3}, alias=alias)
            self._assert_consistent(3, 1024)
            self._post({'current_memory_mb': 3072}, alias=alias)
            self._assert_consistent(3, 3072)
            self._post({'current_vcpus': 2, 'current_memory_mb': 2048},
                       alias=alias)
            self._assert_consistent(2, 2048)
            self._post({'current_vcpus': 1}, alias=alias)
            self._post({'current_memory_mb': 1024}, alias=alias)
            self._assert_consistent(1, 1024)
        self.assertEqual('Success', self._last_event()['result'])
        self.assertEqual('compute_xloud_adjust',
                         self._last_event()['event'])

    def test_range(self):
        ex = self._post({'current_vcpus': 5}, status=400)
        self.assertIn('from 1', str(ex))
        self._post({'current_memory_mb': 512}, status=400)
        self._post({'current_vcpus': '2'}, status=400)
        self._post({'current_vcpus': 2.0}, status=400)
        self._post({}, status=400)
        self._assert_consistent(1, 1024)

    def test_not_found(self):
        self.server['id'] = uuids.missing
        self._post({'current_vcpus': 2}, status=404)

    def test_persist_true_survives_hard_reboot(self):
        self._post({'current_vcpus': 3, 'current_memory_mb': 2048})
        self.assertEqual((3, 2048), self._guest_config())
        self.assertEqual((3, 2048), self._persisted())
        self._reboot_server(self.server, hard=True)
        self.assertEqual((3, 2048), self._persisted())
        # the regenerated guest runs the persisted values
        self._assert_consistent(3, 2048)

    def test_persist_false_is_live_only(self):
        self._post({'current_vcpus': 3, 'persist': False})
        self._assert_consistent(3, 1024)
        self.assertEqual((1, 1024), self._guest_config())
        self.assertEqual((1, 1024), self._persisted())
        self.assertTrue(xloud.has_live(self._instance()))
        self._reboot_server(self.server, hard=True)
        # regenerated: the live value is gone, placement follows the guest
        self.assertEqual((1, 1024), self._persisted())
        self.assertFalse(xloud.has_live(self._instance()))
        self._assert_consistent(1, 1024)

    def test_failed_regeneration_placement_follows(self):
        """Issue 13 #3: after a failed hard reboot GET and placement
        disagreed: the live-only values were dropped when the XML was
        built, placement kept them.

        The truth is what the guest will run the next time it is defined:
        the persisted values.
        """
        self._post({'current_vcpus': 2, 'current_memory_mb': 2048,
                    'persist': False})
        self._assert_consistent(2, 2048)
        with mock.patch('nova.virt.libvirt.driver.LibvirtDriver.'
                        '_create_guest_with_network',
                        side_effect=FileNotFoundError('disk')):
            # the functional tests' casts are calls: the error comes back
            self.assertRaises(client.OpenStackApiException,
                              self.api.post_server_action, self.server['id'],
                              {'reboot': {'type': 'HARD'}})
            self._wait_for_state_change(self.server, 'ERROR')
        self.assertEqual((1, 1024), self._current())
        self.assertEqual((1, 1024), self._placement())
        self.assertIsNone(self._instance().task_state)
        # and the next definition runs just that
        self.admin_api.post_server_action(
            self.server['id'], {'os-resetState': {'state': 'active'}})
        self._reboot_server(self.server, hard=True)
        self._assert_consistent(1, 1024)

    def test_stop_start_keeps_persisted(self):
        self._post({'current_memory_mb': 3072})
        self._stop_server(self.server)
        self._start_server(self.server)
        self._wait_for_state_change(self.server, 'ACTIVE')
        self.assertEqual((1, 3072), self._persisted())
        self._assert_consistent(1, 3072)

    def test_no_capacity(self):
        inv = self.placement.get(
            '/resource_providers/%s/inventories' % self.rp).body[
            'inventories']['VCPU']
        free = (int((inv['total'] - inv['reserved']) *
                    inv['allocation_ratio']) -
                self._get_provider_usages(self.rp)['VCPU'])
        self.assertLess(free, 17, 'the test needs a smaller host')
        # another server leaves one vCPU free
        self._create_server(flavor_id=self._create_flavor(
            vcpu=free - 1, memory_mb=512, disk=1), networks='none')
        usages = self._get_provider_usages(self.rp)
        ex = self._post({'current_vcpus': 3}, status=409)
        self.assertIn('no room', str(ex))
        self.assertEqual(usages, self._get_provider_usages(self.rp))
        self._assert_consistent(1, 1024)
        self.assertEqual([], [a for a in self.admin_api.get_instance_actions(
            self.server['id']) if a['action'] == 'xloud_adjust'])
        # what fits is accepted
        self._post({'current_vcpus': 2})
        self._assert_consistent(2, 1024)

    def test_concurrent_adjusts(self):
        # hold the first adjust between its guard and its placement claim
        # stdlib primitives: green where the tests monkey patch (eventlet),
        # native where nova 33+ runs them on threads
        hold = threading.Event()
        claim = xloud_placement.claim

        def held_claim(*args, **kwargs):
            hold.wait()
            return claim(*args, **kwargs)
        self.useFixture(fixtures.MockPatch(
            'nova.compute.xloud_placement.claim', side_effect=held_claim))
        failures = []

        def first_post():
            try:
                self._post({'current_vcpus': 3})
            except Exception as e:
                failures.append(e)
        first = threading.Thread(target=first_post)
        first.start()
        # wait (not a fixed sleep: CI machines are slow) for its guard
        for _ in range(200):
            if self._instance().task_state == xloud.TASK_STATE:
                break
            time.sleep(0.05)
        self.assertEqual(xloud.TASK_STATE,
                         self._instance().task_state)
        ex = self._post({'current_vcpus': 2}, status=409)
        self.assertIn('task in progress', str(ex))
        self._post({'current_memory_mb': 2048}, status=409)
        hold.set()
        first.join()
        self.assertEqual([], failures)
        self._assert_consistent(3, 1024)

    def test_request_racing_the_end_of_the_previous_adjust(self):
        """Issue 13 #1: such a request answered 500 (StaleDataError).

        The request loads the server while it is free; while it asks the
        compute, another adjust takes the server; that adjust ends (its
        compute's save, which deletes the marker row, commits) after this
        request's guard transaction read the server and before it wrote.
        The guard then found the task state free but the marker row gone.
        """
        uuid = self.server['id']
        race = {'armed': False, 'fired': False}

        def probe(*args, **kwargs):
            other = self._instance()
            other.task_state = xloud.TASK_STATE
            other.system_metadata[xloud.SYSMETA_ADJUSTING] = 'req-prev'
            other.save(expected_task_state=[None])
            race['armed'] = True
        self.useFixture(fixtures.MockPatch(
            'nova.compute.xloud_api.XloudAdjustAPI.check_compute',
            side_effect=probe))
        real_update = db_api._instance_update

        def racing_update(context, instance_uuid, values, expected,
                          original=None):
            if race['armed'] and not race['fired']:
                race['fired'] = True
                context.session.execute(sa.text(
                    'UPDATE instances SET task_state = NULL '
                    'WHERE uuid = :u'), {'u': uuid})
                context.session.execute(sa.text(
                    'DELETE FROM instance_system_metadata '
                    'WHERE instance_uuid = :u AND "key" = :k'),
                    {'u': uuid, 'k': xloud.SYSMETA_ADJUSTING})
            return real_update(context, instance_uuid, values, expected,
                               original=original)
        self.useFixture(fixtures.MockPatch(
            'nova.db.main.api._instance_update', side_effect=racing_update))
        # the previous adjust is over by the time the guard writes: this
        # one goes through, whole
        self._post({'current_vcpus': 3})
        self.assertTrue(race['fired'])
        self._assert_consistent(3, 1024)
        self.assertEqual('Success', self._last_event()['result'])

    def test_request_losing_the_guard_to_a_running_adjust(self):
        """The loser of the guard: 409 naming the task state plainly."""
        def probe(*args, **kwargs):
            other = self._instance()
            other.task_state = xloud.TASK_STATE
            other.save(expected_task_state=[None])
        self.useFixture(fixtures.MockPatch(
            'nova.compute.xloud_api.XloudAdjustAPI.check_compute',
            side_effect=probe))
        usages = self._get_provider_usages(self.rp)
        ex = self._post({'current_vcpus': 3}, status=409)
        self.assertIn('task state resize_prep', str(ex))
        self.assertIn('wait for it to finish', str(ex))
        self.assertNotIn("{'task_state'", str(ex))
        self.assertEqual(usages, self._get_provider_usages(self.rp))
        self.assertEqual([], [a for a in self.admin_api.get_instance_actions(
            self.server['id']) if a['action'] == 'xloud_adjust'])
        self.assertNotIn(xloud.SYSMETA_ADJUSTING,
                         self._instance().system_metadata)

    def test_locked(self):
        self.admin_api.post_server_action(self.server['id'], {'lock': {}})
        self.policy.set_rules({'os_compute_api:os-xloud-adjust:adjust':
                               'rule:project_member_or_admin'},
                              overwrite=False)
        self._post({'current_vcpus': 2}, api=self.api, status=409)
        self._post({'current_vcpus': 2})   # an admin may
        self._assert_consistent(2, 1024)

    def test_not_active(self):
        self._stop_server(self.server)
        ex = self._post({'current_vcpus': 2}, status=409)
        self.assertIn('SHUTOFF'.lower(), str(ex).lower().replace(
            'stopped', 'shutoff'))

    def test_policy(self):
        other = client.TestOpenStackClient(
            'other', self.api.base_url, project_id=uuids.other_project,
            roles=['reader', 'member'])
        # another project does not see the server at all: 404, as for
        # every server API of Nova
        for api, status in ((self.api, 403),
                            (self.api_fixture.reader_api, 403),
                            (other, 404)):
            self._post({'current_vcpus': 2}, api=api, status=status)
            ex = self.assertRaises(client.OpenStackApiException,
                                   api.api_get,
                                   '/servers/%s/os-xloud-adjust' %
                                   self.server['id'])
            self.assertEqual(status, ex.response.status_code)
        self._assert_consistent(1, 1024)
        # opened to project members as documented
        self.policy.set_rules({'os_compute_api:os-xloud-adjust:adjust':
                               'rule:project_member_or_admin'},
                              overwrite=False)
        self._post({'current_vcpus': 2}, api=self.api)
        self._post({'current_vcpus': 3}, api=other, status=404)
        self._assert_consistent(2, 1024)

    def test_compute_reports_its_traits(self):
        traits = self._get_provider_traits(self.rp)
        self.assertIn(xloud_traits.LIVE_ADJUST, traits)
        self.assertIn(xloud_traits.RPC_1_0, traits)

    def test_old_compute(self):
        # a compute without XLoud, as during an upgrade: no endpoint, and
        # its provider never had the traits
        self.useFixture(fixtures.MockPatch(
            'nova.compute.xloud_manager.endpoints', return_value=[]))
        self.useFixture(fixtures.MockPatch(
            'nova.compute.xloud_traits.of_driver', return_value={}))
        self._set_provider_traits(self.rp, [
            t for t in self._get_provider_traits(self.rp)
            if not t.startswith('CUSTOM_XLOUD_')])
        self.restart_compute_service('compute1')
        ex = self._post({'current_vcpus': 3}, status=409)
        self.assertIn('predates', str(ex))
        self._assert_consistent(1, 1024)

    def test_driver_without_support(self):
        self.flags(virt_type='lxc', group='libvirt')
        self._update_resources()
        self.assertNotIn(xloud_traits.LIVE_ADJUST,
                         self._get_provider_traits(self.rp))
        ex = self._post({'current_vcpus': 3}, status=409)
        self.assertIn('cannot adjust', str(ex))
        self._assert_consistent(1, 1024)
        # back to a virt type that can: the next update says so
        self.flags(virt_type='kvm', group='libvirt')
        self._update_resources()
        self._post({'current_vcpus': 3})
        self._assert_consistent(3, 1024)

    def _failing(self, what, flags, body, expected):
        self.guest.fail[(what, flags)] = xloud_libvirt.libvirt_error(
            'Timed out during operation: vcpu unplug request timed out. '
            'Unplug result must be manually inspected in the domain'
            if what == 'vcpus' else 'balloon failed',
            code=68 if what == 'vcpus' else 1)
        self._post(body)
        event = self._last_event()
        self.assertEqual('Error', event['result'])
        self._assert_consistent(*expected)
        # as every failed action of the compute (wrap_instance_fault): an
        # instance fault saying what failed, its traceback through ours
        fault = objects.InstanceFault.get_latest_for_instance(
            self.ctxt, self.server['id'])
        self.assertTrue(fault.message.startswith(
            'The hypervisor did not apply all of the adjust: '),
            fault.message)
        self.assertIn('nova/compute/xloud_endpoint.py', fault.details)
        return event

    def test_unplug_timeout(self):
        # a host told to unplug ([xloud] vcpu_unplug=always) where libvirt
        # does not confirm it: the host caps the guest at what was asked
        self.flags(vcpu_unplug='always', group='xloud')
        self._set_guest(3, 1024)
        self._post({'current_vcpus': 3})     # recorded and claimed
        event = self._failing('vcpus', LIVE, {'current_vcpus': 1}, (1, 1024))
        self.assertIn('vcpu unplug request timed out', event['details'])
        self.assertEqual((1, 1024), self._persisted())
        cap = self._get()['cpu_cap']
        self.assertEqual((3, 1), (cap['vcpus_plugged'],
                                  cap['vcpus_allowed']))
        self.assertIn('the vCPU unplug was not confirmed', cap['reason'])

    def test_vcpu_plug_fails(self):
        self._failing('vcpus', LIVE, {'current_vcpus': 4}, (1, 1024))
        self.assertEqual((1, 1024), self._persisted())

    def test_memory_fails(self):
        self._failing('memory', LIVE,
                      {'current_vcpus': 2, 'current_memory_mb': 4096},
                      (2, 1024))

    def test_config_fails(self):
        self._failing('vcpus', CONFIG, {'current_vcpus': 2}, (2, 1024))
        self.assertEqual((1, 1024), self._guest_config())

    def test_memory_config_fails(self):
        self._failing('memory', CONFIG, {'current_memory_mb': 2048},
                      (1, 2048))

    def test_compute_restart_mid_adjust(self):
        # the API claimed and set the task state; the compute died before
        # doing anything
        self.useFixture(fixtures.MockPatchObject(
            xloud_endpoint.XloudComputeEndpoint, 'adjust'))
        self._post({'current_vcpus': 3})
        self.assertEqual(3, self._placement()[0])
        self.assertEqual(xloud.TASK_STATE,
                         self._instance().task_state)
        self.restart_compute_service('compute1', keep_hypervisor_state=True)
        self._assert_consistent(1, 1024)
        self.assertEqual('Error', self._last_event()['result'])

    def _adjust_then_die_before_the_event_ends(self, body):
        """The compute saves the adjust's values, then is killed.

        Killed before it made placement follow and before it ended the
        instance action's event: the task state and the marker are gone
        (cleared by that save), the event is still open.
        """
        with mock.patch.object(compute_utils.EventReporter, '__exit__',
                               return_value=False), \
                mock.patch.object(xloud_placement, 'follow',
                                  return_value=True):
            self._post(body)
        self.assertIsNone(self._instance().task_state)
        self.assertNotIn(xloud.SYSMETA_ADJUSTING,
                         self._instance().system_metadata)
        self.assertIsNone(self._last_event()['finish_time'])

    def test_compute_restart_after_the_save_ends_the_event(self):
        """Issue 13 #2: the event stayed unfinished forever."""
        self._adjust_then_die_before_the_event_ends(
            {'current_vcpus': 1, 'current_memory_mb': 2048})
        self.restart_compute_service('compute1', keep_hypervisor_state=True)
        # the values were recorded and the guest runs them: a success
        event = self._last_event()
        self.assertIsNotNone(event['finish_time'])
        self.assertEqual('Success', event['result'])
        self._assert_consistent(1, 2048)

    def test_compute_restart_after_the_save_guest_differs(self):
        self._adjust_then_die_before_the_event_ends({'current_vcpus': 3})
        # not what was recorded (e.g. a vCPU the guest gave up since)
        self._set_guest(2, 1024)
        self.restart_compute_service('compute1', keep_hypervisor_state=True)
        event = self._last_event()
        self.assertEqual('Error', event['result'])
        self.assertIn('compute service restarted', event['details'])
        self.assertIn('runs vcpus=2 memory_mb=1024', event['details'])
        self._assert_consistent(2, 1024)
