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

"""Grow by moving: ``"allow_migration": true`` (``nova.compute.xloud_move``).

Hosts of 8 vCPUs (allocation ratio 1.0). The server boots on compute1 at 2
of its flavor's 4 vCPUs, beside another server of 5 (``_fill``): growing
it to 4 does not fit there. With ``allow_migration`` the server is
live-migrated to a host the scheduler picks for the new size and grown
there, as one ``xloud_adjust`` action; without it, or when no host has
room, 409 and nothing moves.

Nova's fake libvirt (a stand-in) with ``FakeLiveGuest`` (a stand-in for
libvirt's vCPU and balloon calls) and the stand-in live migration of
``test_xloud_adjust_moves``; placement, the scheduler, the conductor and
both computes are Nova's own.
"""

import time

from nova.compute import xloud_move
from nova.tests.functional.api import client
from nova.tests.functional.libvirt import test_xloud_adjust_moves


class XloudGrowByMovingTest(test_xloud_adjust_moves._MovesBase):
    # Casts are casts, as in a cloud: the adjust's answer never waits on
    # the conductor or a compute.
    CAST_AS_CALL = False

    def setUp(self):
        super().setUp()
        self.flags(cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0)
        self.filler = self._create_flavor(name='filler', vcpu=5,
                                          memory_mb=512, disk=1, ephemeral=0)
        # the source, where the server boots (the only host then)
        self._start('compute1')
        self.server = self._create_server(flavor_id=self.flavor_min,
                                          networks='none')
        self.source, self.other = 'compute1', 'compute2'
        self.assertEqual(self.source, self.server['OS-EXT-SRV-ATTR:host'])
        self._fill(self.source)

    def _fill(self, host):
        """Another server of 5 vCPUs on ``host``: 3 left of its 8 when
        nothing else runs there, 1 beside the server.
        """
        self._create_server(flavor_id=self.filler, networks='none',
                            host=host)

    def _post(self, body, status):
        return self.admin_api.api_post(
            '/servers/%s/os-xloud-adjust' % self.server['id'], body,
            check_response_status=[status])

    def _events(self, request_id):
        details = self.admin_api.get_instance_action_details(
            self.server['id'], request_id)
        return {e['event']: e['result'] for e in details['events']}

    def _action(self):
        actions = [a for a in self.admin_api.get_instance_actions(
            self.server['id']) if a['action'] == 'xloud_adjust']
        self.assertEqual(1, len(actions))
        return actions[0]

    def test_growth_that_does_not_fit_moves_then_grows(self):
        self._start('compute2')
        before = self.admin_api.get_instance_actions(self.server['id'])
        # the dry run says it would move, and why
        answer = self._post({'current_vcpus': 4, 'dry_run': True,
                             'allow_migration': True}, 200).body
        self.assertTrue(answer['fits'])
        self.assertTrue(answer['moves'])
        self.assertIn('VCPU: 2 more needed, 1 free on the host',
                      answer['reason'])

        self._post({'current_vcpus': 4, 'allow_migration': True}, 202)
        action = self._action()
        self._wait_for_instance_action_event(
            self.server, 'xloud_adjust', 'compute_xloud_adjust', 'Success')
        server = self._wait_for_state_change(self.server, 'ACTIVE')
        self.assertTrue(self.migrate_stub_ran)
        self.assertEqual(self.other, server['OS-EXT-SRV-ATTR:host'])
        self.assertIsNone(server['OS-EXT-STS:task_state'])
        # the guest, GET and placement: the new size, on the destination
        self._assert_all(4, 2048, live_only=False)
        self.assertEqual({'VCPU': 4, 'MEMORY_MB': 2048, 'DISK_GB': 1},
                         self._usage(self.other))
        # the source keeps only the other server, once its own end of the
        # migration dropped the migration's allocation (it goes on after
        # the destination's post_live_migration_at_destination, which
        # casts the growth: the growth may finish first)
        for _ in range(100):
            if self._usage(self.source)['VCPU'] == 5:
                break
            time.sleep(0.1)
        self.assertEqual({'VCPU': 5, 'MEMORY_MB': 512, 'DISK_GB': 1},
                         self._usage(self.source))
        # one action, the move's events and the growth's in it, and no
        # live-migration action of its own
        events = self._events(action['request_id'])
        self.assertEqual('Success',
                         events['conductor_live_migrate_instance'])
        self.assertEqual('Success', events['compute_live_migration'])
        self.assertEqual(
            'Success', events['compute_post_live_migration_at_destination'])
        self.assertEqual('Success', events['compute_xloud_adjust'])
        after = self.admin_api.get_instance_actions(self.server['id'])
        self.assertEqual(len(before) + 1, len(after))
        self.assertNotIn(xloud_move.SYSMETA_GROWTH,
                         self._instance().system_metadata)
        # the migration is a live migration that completed
        migrations = self.admin_api.api_get(
            '/os-migrations?instance_uuid=%s' % self.server['id']
        ).body['migrations']
        self.assertEqual([('live-migration', 'completed', 'compute1',
                           'compute2')],
                         [(m['migration_type'], m['status'],
                           m['source_compute'], m['dest_compute'])
                          for m in migrations])

    def test_no_host_with_room_answers_409_and_nothing_moves(self):
        self._start('compute2')
        self._fill(self.other)
        answer = self._post({'current_vcpus': 4, 'dry_run': True,
                             'allow_migration': True}, 200).body
        self.assertFalse(answer['fits'])
        self.assertNotIn('moves', answer)
        self.assertIn('no other host has room for it either',
                      answer['reason'])
        error = self.assertRaises(
            client.OpenStackApiException, self._post,
            {'current_vcpus': 4, 'allow_migration': True}, 202)
        self.assertEqual(409, error.response.status_code)
        self.assertIn('no other host has room for vcpus=4 memory_mb=2048',
                      error.response.text)
        self.assertIn('nothing was moved', error.response.text)
        server = self.api.get_server(self.server['id'])
        self.assertEqual(self.source, server['OS-EXT-SRV-ATTR:host'])
        self.assertIsNone(server['OS-EXT-STS:task_state'])
        self.assertFalse(hasattr(self, 'migrate_stub_ran') and
                         self.migrate_stub_ran)
        self._assert_all(2, 2048, live_only=False)
        self.assertEqual([], [a for a in self.admin_api.get_instance_actions(
            self.server['id']) if a['action'] != 'create'])

    def test_without_allow_migration_it_stays_409(self):
        self._start('compute2')
        error = self.assertRaises(
            client.OpenStackApiException, self._post,
            {'current_vcpus': 4}, 202)
        self.assertEqual(409, error.response.status_code)
        server = self.api.get_server(self.server['id'])
        self.assertEqual(self.source, server['OS-EXT-SRV-ATTR:host'])
        self._assert_all(2, 2048, live_only=False)

    def test_growth_that_fits_does_not_move(self):
        self._start('compute2')
        self._post({'current_vcpus': 3, 'allow_migration': True}, 202)
        self._wait_for_instance_action_event(
            self.server, 'xloud_adjust', 'compute_xloud_adjust', 'Success')
        server = self.api.get_server(self.server['id'])
        self.assertEqual(self.source, server['OS-EXT-SRV-ATTR:host'])
        self._assert_all(3, 2048, live_only=False)
        events = self._events(self._action()['request_id'])
        self.assertNotIn('conductor_live_migrate_instance', events)

    def test_scheduler_refusal_leaves_the_server_where_it_was(self):
        # placement has room on compute2, the scheduler refuses it (its
        # service is disabled): the move fails, nothing moved, the action
        # says why
        self._start('compute2')
        service = [s for s in self.admin_api.get_services(
            binary='nova-compute', host='compute2')][0]
        self.admin_api.put_service(service['id'], {'status': 'disabled'})
        self._post({'current_vcpus': 4, 'allow_migration': True}, 202)
        action = self._action()
        self._wait_for_instance_action_event(
            self.server, 'xloud_adjust', 'conductor_live_migrate_instance',
            'Error')
        server = self._wait_for_server_parameter(
            self.server, {'OS-EXT-STS:task_state': None,
                          'status': 'ACTIVE'})
        self.assertEqual(self.source, server['OS-EXT-SRV-ATTR:host'])
        self._assert_all(2, 2048, live_only=False)
        self.assertEqual({'VCPU': 0, 'MEMORY_MB': 0, 'DISK_GB': 0},
                         self._usage(self.other))
        self.assertNotIn('compute_xloud_adjust',
                         self._events(action['request_id']))
        # what it left behind never grows a later move: an ordinary live
        # migration (compute2 enabled again) claims what the guest runs
        self.admin_api.put_service(service['id'], {'status': 'enabled'})
        server = self._live_migrate(self.server)
        self.assertEqual(self.other, server['OS-EXT-SRV-ATTR:host'])
        self._assert_all(2, 2048, live_only=False)
        self.assertNotIn(xloud_move.SYSMETA_GROWTH,
                         self._instance().system_metadata)

    def test_allow_migration_has_its_own_policy_rule(self):
        self._start('compute2')
        self.policy.set_rules({
            'os_compute_api:os-xloud-adjust:adjust': '@',
            'os_compute_api:os-xloud-adjust:allow_migration': '!'},
            overwrite=False)
        error = self.assertRaises(
            client.OpenStackApiException, self._post,
            {'current_vcpus': 4, 'allow_migration': True}, 202)
        self.assertEqual(403, error.response.status_code)
        self.assertIn('os_compute_api:os-xloud-adjust:allow_migration',
                      error.response.text)
        server = self.api.get_server(self.server['id'])
        self.assertEqual(self.source, server['OS-EXT-SRV-ATTR:host'])
        self._assert_all(2, 2048, live_only=False)
