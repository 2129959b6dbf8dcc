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

"""The host-enforced memory limit, through Nova's API and compute service.

Nova's fake libvirt, with ``FakeLiveGuest`` keeping the memory cgroup hard
limit, the balloon and what the host sees QEMU use (``rss``). What is
checked: every start of the guest puts it under current + overhead; a
grow raises the limit before the balloon, a shrink lowers it only after
the host saw the memory back; a guest that keeps its memory keeps its
limit and claim and the adjust ends in Error saying so; limit, GET and
placement agree.
"""

import time

import fixtures

from nova.compute import xloud
from nova.compute import xloud_manager
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.fixtures import xloud_libvirt
from nova.tests.functional.libvirt import xloud_base
from nova.virt.libvirt import xloud_oom

LIVE = fakelibvirt.VIR_DOMAIN_AFFECT_LIVE
OVERHEAD = 100


class _LimitedServerTest(xloud_base.XloudServerTestBase):
    """A server of a minimum flavor, booted under its memory limit."""

    def _configure(self):
        self.flags(memory_overhead_mb=OVERHEAD, memory_release_timeout=1,
                   group='xloud')
        self.useFixture(fixtures.MonkeyPatch(
            'nova.virt.libvirt.xloud_memory.RELEASE_POLL', 0.05))
        self.log = []
        self.guest.changed = lambda dom: self.log.append(
            (dom._xloud['limit'] // 1024 - OVERHEAD,
             dom._xloud[LIVE]['kib'] // 1024))

    def _limit(self):
        """The memory the domain's hard limit allows the guest, in MiB."""
        kib = self._dom().memoryParameters(LIVE)['hard_limit']
        if kib >= xloud_libvirt.UNLIMITED_KIB:
            return None
        return kib // 1024 - OVERHEAD

    def _adjust(self, memory_mb, persist=True):
        self.log[:] = []
        self.admin_api.api_post(
            '/servers/%s/os-xloud-adjust' % self.server['id'],
            {'current_memory_mb': memory_mb, 'persist': persist},
            check_response_status=[202])
        return self._wait_event()

    def _wait_event(self):
        for _ in range(200):
            actions = [a for a in self.admin_api.get_instance_actions(
                self.server['id']) if a['action'] == xloud.ACTION]
            if actions:
                events = xloud_base.adjust_events(
                    self.admin_api.get_instance_action_details(
                        self.server['id'],
                        actions[0]['request_id'])['events'])
                if events and events[0].get('finish_time'):
                    return events[0]
            time.sleep(0.05)
        self.fail('the adjust did not finish')

    def _assert_agree(self, memory_mb):
        self.assertEqual(memory_mb, self._limit())
        self.assertEqual(memory_mb, self._current()[1])
        self.assertEqual(memory_mb, self._placement()[1])


class XloudMemoryLimitTest(_LimitedServerTest):

    def test_boot_is_limited(self):
        self._assert_agree(1024)
        # set live, never in the domain XML
        self.assertNotIn('memtune', self._dom().XMLDesc(0))

    def test_grow_raises_the_limit_first(self):
        event = self._adjust(2048)
        self.assertEqual('Success', event['result'])
        # limit up (balloon still 1024), then the balloon
        self.assertEqual([(2048, 1024), (2048, 2048)], self.log[:2])
        self._assert_agree(2048)

    def test_shrink_lowers_the_limit_last(self):
        self._adjust(3072)
        event = self._adjust(1536)
        self.assertEqual('Success', event['result'])
        # balloon down (limit still 3072), then the limit
        self.assertEqual([(3072, 1536), (1536, 1536)], self.log[:2])
        self._assert_agree(1536)

    def test_guest_that_keeps_its_memory(self):
        self._adjust(3072)
        self.guest.keep_memory.add(self.server['id'])
        event = self._adjust(1024)
        self.assertEqual('Error', event['result'])
        self.assertIn('did not give back its memory', event['details'])
        self.assertIn('keeps its memory, its limit and its claim',
                      event['details'])
        # the balloon was asked, then put back; the limit never moved
        self.assertEqual([(3072, 1024), (3072, 3072)], self.log[:2])
        self._assert_agree(3072)
        self.assertIsNone(self._wait_for_server_parameter(
            self.server, {'status': 'ACTIVE'}).get('OS-EXT-STS:task_state'))

    def test_limit_follows_every_start(self):
        self._adjust(2048)
        self._reboot_server(self.server, hard=True)
        self._assert_agree(2048)
        self._stop_server(self.server)
        self._start_server(self.server)
        self._assert_agree(2048)
        # live only: the next start runs (and limits) the persisted value
        self._adjust(3072, persist=False)
        self._assert_agree(3072)
        self._reboot_server(self.server, hard=True)
        self._assert_agree(2048)

    def test_rebuild_is_limited(self):
        self._adjust(2048)
        self._rebuild_server(self.server, self.server['image']['id'])
        self._assert_agree(2048)


class XloudHostKilledGuestTest(_LimitedServerTest):
    """The host's OOM killer ends a guest: Nova shows it, and says why."""

    def _kill(self, records):
        """QEMU ends unasked, as after an OOM kill: the domain is shut off
        and libvirt's STOPPED event (detail FAILED) reaches the Host.
        """
        self.useFixture(fixtures.MonkeyPatch(
            'nova.virt.libvirt.xloud_oom.kernel_records',
            lambda: records))
        host = self.computes['compute1'].driver._host
        # the event loop thread does not run here: dispatch directly
        self.useFixture(fixtures.MockPatchObject(
            getattr(host, '_event_handler', host), '_queue_event',
            side_effect=host._event_emit_delayed))
        dom = self._dom()
        dom._state = fakelibvirt.VIR_DOMAIN_SHUTOFF
        host._event_lifecycle_callback(
            host.get_connection(), dom, fakelibvirt.VIR_DOMAIN_EVENT_STOPPED,
            xloud_oom.STOPPED_FAILED, host)

    def _why(self):
        for _ in range(200):
            actions = [a for a in self.admin_api.get_instance_actions(
                self.server['id'])
                if a['action'] == xloud_manager.KILL_ACTION]
            if actions:
                events = self.admin_api.get_instance_action_details(
                    self.server['id'], actions[0]['request_id'])['events']
                if events and events[0].get('finish_time'):
                    return events
            time.sleep(0.05)
        self.fail('no finished %s action' % xloud_manager.KILL_ACTION)

    def test_oom_killed_guest_is_shut_off_with_the_reason(self):
        now = int(time.monotonic() * 1000000)
        line = ('oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),'
                'oom_memcg=/machine.slice/machine-qemu\\x2d1\\x2d%s.scope/'
                'libvirt,task_memcg=/x,task=qemu-system-x86,pid=42,'
                'uid=0' % self._dom().name())
        self._kill([(now - 1000000, line)])
        # not 15 s later: the unasked stop is handed on at once
        server = self._wait_for_state_change(self.server, 'SHUTOFF')
        self.assertEqual(4, server['OS-EXT-STS:power_state'])  # SHUTDOWN
        events = self._why()
        self.assertEqual([('compute_xloud_memory_limit', 'Error')],
                         [(e['event'], e['result']) for e in events])
        self.assertIn('exceeded its memory limit of %d MiB' % (
            1024 + OVERHEAD), events[0]['details'])
        self.assertIn('the host killed its QEMU (kernel: OOM kill of '
                      'qemu-system-x86 pid 42', events[0]['details'])

    def test_stop_without_a_kernel_record_says_so(self):
        self._kill([])
        self._wait_for_state_change(self.server, 'SHUTOFF')
        details = self._why()[0]['details']
        self.assertIn('stopped without being asked', details)
        self.assertIn('no record of an out-of-memory kill', details)
