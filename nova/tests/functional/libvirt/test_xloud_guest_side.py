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

"""The guest's side of a live adjust, through Nova's API and services.

Nova's fake libvirt is the stand-in hypervisor (``FakeLiveGuest``: the CPU
cap, a guest agent, the balloon's statistics); placement is real. Its
hypervisor confirms a vCPU unplug no more than libvirt 9.0 with QEMU 7.2
or 10.0 does (``[xloud] vcpu_unplug=auto`` knows no host that does), so a
vCPU shrink keeps the vCPUs plugged and caps the CPU time; the guest agent,
where the image has one, takes them offline. What is checked each time:
what the host lets the guest use = GET's current = placement, and what GET
says the guest confirmed and why the host caps it.
"""

from nova.compute import xloud
from nova.tests.fixtures import xloud_libvirt
from nova.tests.functional.libvirt import xloud_base

LIVE = xloud_libvirt.LIVE


class XloudGuestSideTest(xloud_base.XloudServerTestBase):

    def _plugged(self):
        dom = self._dom()
        dom.vcpusFlags(LIVE)
        return dom._xloud[LIVE]['vcpus']

    def _events(self):
        """The event names of the last adjust's action."""
        actions = [a for a in self.admin_api.get_instance_actions(
            self.server['id']) if a['action'] == xloud.ACTION]
        return sorted(e['event'] for e in
                      self.admin_api.get_instance_action_details(
                          self.server['id'],
                          actions[0]['request_id'])['events'])

    def _agent_server(self):
        """A server of an image with hw_qemu_guest_agent=yes.

        Nova gives its guest the agent's channel.
        """
        image = dict(self.glance.show(
            None, '155d900f-4e14-4e4c-a73d-069cbf4541e6'))
        image.pop('id')
        image['name'] = 'with-agent'
        image['properties'] = dict(image.get('properties', {}),
                                   hw_qemu_guest_agent='yes')
        image_id = self.glance.create(None, image)['id']
        self._delete_server(self.server)
        self.server = self._create_server(
            flavor_id=self.flavor, networks='none', image_uuid=image_id)
        self.assertIn(xloud_libvirt.AGENT_CHANNEL, self._dom()._xloud_xml)

    def _report(self):
        """The compute's periodic read of its guests."""
        self.computes['compute1'].manager._xloud_report_guests(self.ctxt)

    # vCPUs: the host's cap, no unplug
    def test_shrink_caps_and_the_next_adjusts_work(self):
        self._post({'current_vcpus': 3})
        self._assert_consistent(3, 1024)
        self._post({'current_vcpus': 1})
        self._assert_consistent(1, 1024)
        # libvirt's count is still right: 3 plugged, no unplug asked
        self.assertEqual(3, self._plugged())
        self.assertEqual(['compute_xloud_adjust', 'compute_xloud_cpu_capped',
                          'compute_xloud_guest_unconfirmed'], self._events())
        got = self._get()
        self.assertEqual((3, 1, None), (got['cpu_cap']['vcpus_plugged'],
                                        got['cpu_cap']['vcpus_allowed'],
                                        got['cpu_cap']['vcpus_online']))
        self.assertIn('do not confirm a vCPU unplug',
                      got['cpu_cap']['reason'])
        self.assertIn('may keep all 3 online', got['cpu_cap']['reason'])
        self.assertFalse(got['guest']['confirmed'])
        self.assertIn('hw_qemu_guest_agent=yes', got['guest']['reason'])
        # a second adjust right after: within the plugged, the cap moves
        self._post({'current_vcpus': 2})
        self._assert_consistent(2, 1024)
        self.assertEqual(3, self._plugged())
        self.assertEqual(2, self._get()['cpu_cap']['vcpus_allowed'])
        # past the plugged: one more plugged, the cap lifted
        self._post({'current_vcpus': 4})
        self._assert_consistent(4, 1024)
        self.assertEqual(4, self._plugged())
        self.assertIsNone(self._get()['cpu_cap'])
        self.assertEqual(['compute_xloud_adjust',
                          'compute_xloud_guest_unconfirmed'], self._events())

    def test_persisted_shrink_boots_with_its_vcpus(self):
        # the cap is live only: the guest defined again boots with the
        # claimed vCPUs plugged, and needs none
        self._post({'current_vcpus': 3})
        self._post({'current_vcpus': 1})
        self.assertEqual(3, self._plugged())
        self._reboot_server(self.server, hard=True)
        self._assert_consistent(1, 1024)
        self.assertEqual(1, self._plugged())
        self.assertIsNone(self._get()['cpu_cap'])
        # and grows again by a hotplug
        self._post({'current_vcpus': 2})
        self._assert_consistent(2, 1024)

    def test_live_only_shrink_is_undone_by_a_stop_and_start(self):
        self._post({'current_vcpus': 3})
        self._post({'current_vcpus': 1, 'persist': False})
        self._assert_consistent(1, 1024)
        self._stop_server(self.server)
        self._start_server(self.server)
        # the persisted 3, plugged, no cap: what it runs is claimed
        self._assert_consistent(3, 1024)
        self.assertEqual(3, self._plugged())
        self.assertIsNone(self._get()['cpu_cap'])

    def test_compute_restart_keeps_the_capped_claim(self):
        self._post({'current_vcpus': 3})
        self._post({'current_vcpus': 1})
        self.restart_compute_service('compute1')
        self._assert_consistent(1, 1024)
        self.assertEqual(3, self._get()['cpu_cap']['vcpus_plugged'])

    # the guest agent
    def test_agent_takes_the_vcpus_offline_and_back(self):
        self._agent_server()
        self._post({'current_vcpus': 3})
        self._post({'current_vcpus': 1})
        self._assert_consistent(1, 1024)
        self.assertEqual(1, self._dom()._xloud['online'])
        self.assertEqual(['compute_xloud_adjust', 'compute_xloud_cpu_capped',
                          'compute_xloud_guest_confirmed'], self._events())
        got = self._get()
        self.assertTrue(got['guest']['confirmed'])
        self.assertEqual(1, got['guest']['vcpus_online'])
        self.assertIsNone(got['guest']['reason'])
        self.assertIn('the guest agent took the others offline',
                      got['cpu_cap']['reason'])
        # grown past what was plugged: the offline ones and the new one
        self._post({'current_vcpus': 4})
        self._assert_consistent(4, 1024)
        self.assertEqual(4, self._dom()._xloud['online'])
        self.assertEqual(4, self._get()['guest']['vcpus_online'])

    def test_silent_agent(self):
        self._agent_server()
        self.guest.agents[self.server['id']] = 'silent'
        self._post({'current_vcpus': 3})
        self._post({'current_vcpus': 1})
        # the host holds the guest whatever its agent does
        self._assert_consistent(1, 1024)
        self.assertEqual('Success', xloud_base.adjust_events(
            self.admin_api.get_instance_action_details(
                self.server['id'], self.admin_api.get_instance_actions(
                    self.server['id'])[0]['request_id'])['events'])[0][
                        'result'])
        got = self._get()
        self.assertFalse(got['guest']['confirmed'])
        self.assertEqual('the guest agent does not answer',
                         got['guest']['reason'])
        self.assertIn('does not answer, so the guest may keep all 3 online',
                      got['cpu_cap']['reason'])

    def test_refusing_agent(self):
        self._agent_server()
        self.guest.agents[self.server['id']] = 'refused'
        self._post({'current_vcpus': 2})
        self._post({'current_vcpus': 1})
        self._assert_consistent(1, 1024)
        self.assertEqual('the guest agent answered with an error',
                         self._get()['guest']['reason'])

    # the guest's report and its consent to a memory shrink
    def test_periodic_report(self):
        self._post({'current_memory_mb': 3072})
        self._report()
        first = self._get()['guest']
        self.assertEqual(3072 - xloud_libvirt.KERNEL_RESERVE_MB,
                         first['memory_mb'])
        self.assertEqual(
            3072 - xloud_libvirt.KERNEL_RESERVE_MB -
            xloud_libvirt.GUEST_USED_MB, first['usable_mb'])
        self.assertIsNotNone(first['read_at'])
        # a guest whose figures barely moved is not written again
        self.guest.guest_used[self.server['id']] = (
            xloud_libvirt.GUEST_USED_MB + 8)
        self._report()
        self.assertEqual(first, self._get()['guest'])
        # one that moved is
        self.guest.guest_used[self.server['id']] = 2000
        self._report()
        self.assertEqual(3072 - xloud_libvirt.KERNEL_RESERVE_MB - 2000,
                         self._get()['guest']['usable_mb'])

    def test_shrink_the_guest_cannot_give_is_refused_at_once(self):
        self.flags(memory_shrink_margin_mb=128, group='xloud')
        self._post({'current_memory_mb': 4096})
        self.guest.guest_used[self.server['id']] = 2500
        self._report()
        # 4096 MiB, usable 4096 - 40 - 2500 = 1556: at least 2668
        ex = self._post({'current_memory_mb': 1024}, status=409)
        self.assertIn('it uses 2540 MiB of its 4096 MiB', str(ex))
        self.assertIn('the guest cannot shrink below 2668 MiB now',
                      str(ex))
        self._assert_consistent(1, 4096)
        dry = self.admin_api.api_post(
            self._path(), {'current_memory_mb': 1024, 'dry_run': True},
            check_response_status=[200]).body
        self.assertFalse(dry['fits'])
        self.assertIn('2668 MiB', dry['reason'])
        # what it can give, it gives
        self._post({'current_memory_mb': 2668})
        self._assert_consistent(1, 2668)

    def test_compute_refuses_it_without_a_report(self):
        # no report yet (or one too old): the compute asks the guest's
        # statistics before the balloon moves, and ends the adjust at once
        self.flags(memory_shrink_margin_mb=128, group='xloud')
        self._post({'current_memory_mb': 4096})
        self.guest.guest_used[self.server['id']] = 2500
        self.flags(guest_report_interval=0, group='xloud')
        self._post({'current_memory_mb': 1024})
        event = xloud_base.adjust_events(
            self.admin_api.get_instance_action_details(
                self.server['id'], self.admin_api.get_instance_actions(
                    self.server['id'])[0]['request_id'])['events'])[0]
        self.assertEqual('Error', event['result'])
        self.assertIn('the guest cannot shrink below 2668 MiB now',
                      event['details'])
        # nothing changed: the balloon, the limit, the claim
        self._assert_consistent(1, 4096)
