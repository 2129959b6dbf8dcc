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

"""The compute's autoscaler, through Nova's services and real placement.

The loop (``xloud_autoscaler.Autoscaler``) is driven pass by pass on a
clock of the test's, and runs each change in the pass that decided it, so
every rule is checked at the second it should act. The guest's load is
the stand-in's (``FakeLiveGuest.burn``: CPU time; ``guest_used``: the
memory its balloon statistics say it uses). After every change the guest,
GET and placement must agree, as after an API adjust.
"""

import fixtures

from nova.compute import xloud
from nova.compute import xloud_autoscaler
from nova import objects
from nova.tests.fixtures import xloud_libvirt
from nova.tests.functional.api import client
from nova.tests.functional.libvirt import xloud_base


class XloudAutoscaleTest(xloud_base.XloudServerTestBase):

    SPECS = {'minimum_cpu': '1', 'minimum_memory': '1024',
             'xloud:autoscale': 'cpu,memory',
             'xloud:autoscale_cooldown': '60'}

    def setUp(self):
        super().setUp()
        self.now = 1000.0
        self.loop = self._loop()

    def _loop(self, host='compute1'):
        loop = xloud_autoscaler.Autoscaler(self.computes[host].manager)
        loop.clock = lambda: self.now
        loop.spawn = lambda func, *args: func(*args)
        self.useFixture(fixtures.MockPatch(
            'nova.compute.xloud_autoscaler._LOOP', loop))
        return loop

    def _run(self, seconds, cpus=0.0, server=None):
        """``seconds`` passes of the loop, the guest busy on ``cpus``
        vCPUs (at most those the host lets it use).
        """
        conn = self.computes['compute1'].driver._host.get_connection()
        dom = conn.lookupByUUIDString((server or self.server)['id'])
        for _ in range(seconds):
            self.now += 1
            dom.vcpusFlags(xloud_libvirt.LIVE)
            self.guest.burn(dom, min(cpus, xloud_libvirt.vcpus_allowed(dom)))
            self.loop.tick()

    def _uses(self, mib, server=None):
        self.guest.guest_used[(server or self.server)['id']] = mib

    def _actions(self, server=None):
        return [a for a in self.admin_api.get_instance_actions(
            (server or self.server)['id'])
            if a['action'] == xloud.AUTOSCALE_ACTION]

    def _events(self, action, server=None):
        return sorted((e['event'], e['result']) for e in
                      self.admin_api.get_instance_action_details(
                          (server or self.server)['id'],
                          action['request_id'])['events'])

    def _decision(self):
        return self._get()['autoscale']['last_decision']

    def _assert_refused_once(self, reason_starts):
        """One action whose one event failed, and the decision saying
        why: what a refusal leaves, whatever refused.
        """
        (action,) = self._actions()
        self.assertEqual([('compute_xloud_autoscale_refused', 'Error')],
                         self._events(action))
        decision = self._decision()
        self.assertEqual('refused', decision['action'])
        self.assertTrue(decision['reason'].startswith(reason_starts),
                        decision['reason'])

    # CPU
    def test_cpu_load_grows_it_and_idle_shrinks_it_after_the_cooldown(self):
        self._uses(100)
        self._run(3)
        self.assertEqual([], self._actions())
        # one vCPU, all of it: grows at the second pass, to twice (its
        # need is unknown while it uses all it has)
        self._run(1, cpus=1)
        self.assertEqual([], self._actions())
        self._run(1, cpus=1)
        self._assert_consistent(2, 1024)
        (action,) = self._actions()
        self.assertIn((xloud.EVENT, 'Success'), self._events(action))
        decision = self._decision()
        self.assertEqual('grow', decision['action'])
        self.assertEqual('CPU 100% of 1 vCPU for 2 s', decision['reason'])
        # still all of it: 4 (the flavor's maximum), never more
        self._run(2, cpus=4)
        self._assert_consistent(4, 1024)
        self._run(5, cpus=4)
        self._assert_consistent(4, 1024)
        self.assertEqual(2, len(self._actions()))
        # idle: nothing before the cooldown (60 s after the last growth)
        self._run(53, cpus=0.1)
        self._assert_consistent(4, 1024)
        self.assertEqual('grow', self._decision()['action'])
        # then down to the vCPUs its peak needs (the minimum), in one step
        self._run(6, cpus=0.1)
        self._assert_consistent(1, 1024)
        decision = self._decision()
        self.assertEqual('shrink', decision['action'])
        self.assertEqual('CPU at most 2% of 4 vCPUs for 30 s',
                         decision['reason'])
        # a load under the target leaves it alone
        self._run(40, cpus=0.5)
        self._assert_consistent(1, 1024)
        self.assertEqual(3, len(self._actions()))

    def test_a_load_that_comes_and_goes_does_not_flap(self):
        """20 s on, 20 s off for 10 minutes: one growth, no reversal."""
        self._uses(100)
        for _ in range(15):
            self._run(20, cpus=1.2)
            self._run(20, cpus=0)
        self._assert_consistent(2, 1024)
        self.assertEqual(1, len(self._actions()))

    # memory
    def test_memory_grows_under_its_headroom_and_shrinks_in_steps(self):
        # 1024 MiB: 40 for the kernel, 900 used, 84 free < 256
        self._uses(900)
        self._run(1)
        # to its use (940) plus twice the headroom, in 128 MiB steps
        self._assert_consistent(1, 1536)
        self.assertIn('memory 84 MiB free of 1024, under the headroom of '
                      '256 MiB', self._decision()['reason'])
        self._uses(1400)
        self._run(1)
        self._assert_consistent(1, 2048)
        # it says it has nothing free at 2048: a growth each pass (to its
        # balloon plus two headrooms) until it has the headroom, never
        # past the flavor
        self._uses(3600)
        self._run(5)
        self._assert_consistent(1, 4096)
        # it lets go: after the cooldown, to no less than half its size a
        # step, one step every 10 s at most, down to the minimum
        self._uses(100)
        self._run(58)
        self._assert_consistent(1, 4096)
        sizes = []
        for _ in range(3):
            self._run(10)
            sizes.append(self._current()[1])
        self.assertEqual([2048, 1024, 1024], sizes)
        self._assert_consistent(1, 1024)
        self.assertTrue(self._decision()['reason'].startswith(
            'memory at least'))
        # every change was an action of the autoscaler's: 6 growths, 2
        # shrinks
        self.assertEqual(8, len(self._actions()))

    def test_the_guest_must_show_the_memory_free_to_shrink(self):
        # it says it has nothing free: to its balloon plus two headrooms,
        # then, as it still has too little, to its use plus two headrooms
        self._uses(1400)
        self._run(1)
        self._assert_consistent(1, 1536)
        self._run(1)
        self._assert_consistent(1, 2048)
        # uses 1440 of 2048 (608 free): after the cooldown, trimmed in
        # steps to its use plus 1.25 headrooms (1792), where it stays
        self._run(120)
        self._assert_consistent(1, 1792)
        # no fresh statistics (the guest stopped reporting): it stays
        self._uses(100)
        self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.xloud_stats.STATS_MAX_AGE', -10))
        self._run(60)
        self._assert_consistent(1, 1792)

    # who else decides
    def test_a_flavor_without_the_opt_in_never_changes(self):
        plain = self._create_flavor(
            vcpu=4, memory_mb=4096, disk=1,
            extra_spec={'minimum_cpu': '1', 'minimum_memory': '1024'})
        other = self._create_server(flavor_id=plain, networks='none')
        self._uses(1000, other)
        self._run(30, cpus=4, server=other)
        self.assertEqual([], self._actions(other))
        got = self.admin_api.api_get(
            '/servers/%s/os-xloud-adjust' % other['id']).body
        self.assertEqual((1, 1024), (got['vcpus']['current'],
                                     got['memory_mb']['current']))
        self.assertEqual({'enabled': False, 'last_decision': None,
                          'reason': 'its flavor does not opt in '
                                    '(xloud:autoscale)'},
                         got['autoscale'])

    def test_server_metadata_turns_it_off_for_one_server(self):
        self.admin_api.post_server_metadata(self.server['id'],
                                            {'xloud:autoscale': 'off'})
        self.now += 20
        self._run(10, cpus=1)
        self._assert_consistent(1, 1024)
        self.assertEqual([], self._actions())
        got = self._get()['autoscale']
        self.assertFalse(got['enabled'])
        self.assertEqual('turned off for this server (metadata '
                         'xloud:autoscale=off)', got['reason'])
        # and on again
        self.admin_api.post_server_metadata(self.server['id'],
                                            {'xloud:autoscale': 'on'})
        self.now += 20
        self._run(3, cpus=1)
        self._assert_consistent(2, 1024)

    def test_a_host_where_it_is_off_says_so(self):
        self.flags(autoscale=False, group='xloud')
        xloud_autoscaler.ensure_running(self.computes['compute1'].manager)
        got = self._get()['autoscale']
        self.assertFalse(got['enabled'])
        self.assertEqual('autoscaling is turned off on host compute1 '
                         '([xloud] autoscale)', got['reason'])
        self.assertEqual('off', got['last_decision']['action'])

    def test_a_manual_adjust_wins_for_its_cooldown(self):
        self._post({'current_vcpus': 3})
        self._assert_consistent(3, 1024)
        self.assertEqual('manual', self._decision()['action'])
        # idle, then busy: the loop leaves it alone for the cooldown
        self._run(40, cpus=0)
        self._run(15, cpus=3)
        self._assert_consistent(3, 1024)
        self.assertEqual([], self._actions())
        self.assertEqual('cooldown after a manual adjust: left alone for '
                         '60 s', self._decision()['reason'])
        # after it, the load decides again
        self._run(10, cpus=3)
        self._assert_consistent(4, 1024)

    def test_an_adjust_in_progress_is_never_raced(self):
        instance = self._instance()
        instance.task_state = xloud.TASK_STATE
        instance.save()
        self.loop.listed = None
        self._run(5, cpus=1)
        self.assertEqual([], self._actions())
        instance.task_state = None
        instance.save()
        self.loop.listed = None
        self._run(2, cpus=1)
        self._assert_consistent(2, 1024)

    # refusals: recorded once, not retried in a tight loop
    def test_quota_cores_exhausted(self):
        self.flags(count_usage_from_placement=True, group='quota')
        self.flags(cores=1, group='quota')
        self.notifier.reset()
        self._run(10, cpus=1)
        self._assert_consistent(1, 1024)
        self._assert_refused_once('quota cores exhausted')
        errors = [n for n in self.notifier.versioned_notifications
                  if n['event_type'] == 'instance.xloud_adjust.error']
        self.assertEqual(1, len(errors))
        self.assertEqual('autoscaler',
                         errors[0]['payload']['nova_object.data']['initiator'])
        # tried again after the backoff, and refused quietly
        self._run(60, cpus=1)
        self._assert_refused_once('quota cores exhausted')
        # room in the quota: it grows
        self.flags(cores=4, group='quota')
        self._run(60, cpus=1)
        self._assert_consistent(2, 1024)

    def test_host_full(self):
        # another server takes every other vCPU of the host
        total = self.placement.get('/resource_providers/%s/inventories' %
                                   self.rp).body['inventories']['VCPU']
        big = self._create_flavor(vcpu=total['total'] - 1, memory_mb=512,
                                  disk=1)
        self._create_server(flavor_id=big, networks='none')
        self._run(5, cpus=1)
        self._assert_consistent(1, 1024)
        self._assert_refused_once('host full: ')
        # retried after each backoff, and not recorded again
        self._run(120, cpus=1)
        self._assert_refused_once('host full: ')

    def test_the_host_bounds_its_changes_a_minute(self):
        self.flags(autoscale_max_changes_per_minute=1, group='xloud')
        other = self._create_server(flavor_id=self.flavor, networks='none')
        self.loop.listed = None
        self._uses(100)
        self._uses(100, other)
        for _ in range(3):
            self.now += 1
            for server in (self.server, other):
                conn = self.computes['compute1'].driver._host.get_connection()
                dom = conn.lookupByUUIDString(server['id'])
                dom.vcpusFlags(xloud_libvirt.LIVE)
                self.guest.burn(dom, 1)
            self.loop.tick()
        grown = [s for s in (self.server, other) if self._actions(s)]
        self.assertEqual(1, len(grown))

    def test_notifications_say_the_autoscaler(self):
        self.notifier.reset()
        self._run(3, cpus=1)
        self._assert_consistent(2, 1024)
        adjusts = [n for n in self.notifier.versioned_notifications
                   if n['event_type'].startswith('instance.xloud_adjust')]
        self.assertEqual(['instance.xloud_adjust.start',
                          'instance.xloud_adjust.end'],
                         [n['event_type'] for n in adjusts])
        for n in adjusts:
            data = n['payload']['nova_object.data']
            self.assertEqual('autoscaler', data['initiator'])
            self.assertFalse(data['persist'])

    # a compute killed between the claim and the change
    def test_compute_killed_after_the_claim(self):
        self.useFixture(fixtures.MockPatch(
            'nova.compute.xloud_endpoint.run'))
        self._run(3, cpus=1)
        # claimed, the action started, the change never ran
        self.assertEqual((2, 1024), self._placement())
        self.assertEqual(xloud.TASK_STATE, self._instance().task_state)
        self.restart_compute_service('compute1', keep_hypervisor_state=True)
        self._assert_consistent(1, 1024)
        (action,) = self._actions()
        self.assertEqual([('compute_xloud_adjust', 'Error')],
                         self._events(action))


class XloudAutoscaleSpecsTest(xloud_base.XloudServerTestBase):
    """The opt-in is validated like the minimum specs: a 400 that names
    the spec and the rule.
    """

    def _spec(self, specs):
        flavor = self._create_flavor(vcpu=2, memory_mb=2048, disk=1)
        return self.assertRaises(
            client.OpenStackApiException, self.admin_api.post_extra_spec,
            flavor, {'extra_specs': specs})

    def test_refused(self):
        for specs, words in (
                ({'xloud:autoscale': 'disk'}, 'xloud:autoscale'),
                ({'minimum_cpu': '1', 'xloud:autoscale': 'memory'},
                 "needs 'minimum_memory'"),
                ({'minimum_memory': '512', 'xloud:autoscale': 'cpu'},
                 "needs 'minimum_cpu'"),
                ({'xloud:autoscale_cooldown': '60'},
                 "needs 'xloud:autoscale'"),
                ({'minimum_cpu': '1', 'xloud:autoscale': 'cpu',
                  'xloud:autoscale_cpu_target': '200'},
                 'xloud:autoscale_cpu_target'),
                ({'minimum_cpu': '1', 'xloud:autoscale': 'cpu',
                  'xloud:autoscale_memory_headroom_mb': '1'},
                 'xloud:autoscale_memory_headroom_mb'),
                ({'minimum_cpu': '1', 'xloud:autoscale': 'cpu',
                  'xloud:autoscale_typo': '1'}, 'xloud:autoscale_typo')):
            ex = self._spec(specs)
            self.assertEqual(400, ex.response.status_code, specs)
            self.assertIn(words, str(ex), specs)

    def test_accepted(self):
        flavor = self._create_flavor(vcpu=2, memory_mb=2048, disk=1)
        specs = {'minimum_cpu': '1', 'minimum_memory': '512',
                 'xloud:autoscale': 'cpu,memory',
                 'xloud:autoscale_cpu_target': '80',
                 'xloud:autoscale_memory_headroom_mb': '128',
                 'xloud:autoscale_cooldown': '0'}
        self.admin_api.post_extra_spec(flavor, {'extra_specs': specs})
        got = self.admin_api.get_flavor(flavor)
        self.assertEqual(specs, got['extra_specs'])
        flavor_obj = objects.Flavor.get_by_flavor_id(self.ctxt, flavor)
        self.assertEqual('cpu,memory',
                         flavor_obj.extra_specs['xloud:autoscale'])
