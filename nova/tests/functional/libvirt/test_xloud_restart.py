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

"""The compute killed at every step of a live adjust, then restarted.

A kill is simulated by raising ``Killed`` (a BaseException: no ``except
Exception`` of the compute runs, as none would in a dead process) right
after the step, and dropping it where the RPC server would have received
the cast, so the API still answers 202; the instance action's event is not
ended by the unwinding (EventReporter's exit does nothing while a kill is
in flight). The restart keeps the fake hypervisor's domains, as a real
restart keeps the running guests.

After the restart: no task state, no marker, the ``xloud_adjust`` event
ended with the truth (Success where the adjust had recorded its values
and the guest runs them; Error otherwise, saying what the guest runs),
guest = GET = placement, and a new adjust works.
"""

import time

import fixtures

from nova.compute import utils as compute_utils
from nova.compute import xloud
from nova.compute import xloud_endpoint
from nova.compute import xloud_placement
from nova.compute import xloud_rpcapi
from nova import objects
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.fixtures import xloud_libvirt
from nova.tests.functional.libvirt import xloud_base

# The adjust every kill interrupts: both resources up, persisted.
FROM = (1, 1024)
TO = (3, 2048)
# The hypervisor calls of that adjust, in order: vCPUs live (a hotplug,
# or lifting the CPU cap of a guest shrunk before without an unplug), the
# memory limit raised, the balloon, then the persistent definition of both.
HYPERVISOR_CALLS = 5
# Where the compute dies, and whether the adjust had recorded its values
# by then (its event then ends as a Success).
KILL_POINTS = (
    ('api-claim', False), ('cast', False), ('event-start', False)) + tuple(
    ('hypervisor-%d' % n, False) for n in range(1, HYPERVISOR_CALLS + 1)
) + (('record', True), ('placement', True), ('event-end', True))
HYPERVISOR_METHODS = ('setVcpusFlags', 'setMemoryFlags',
                      'setMemoryParameters', 'setSchedulerParametersFlags')


class Killed(BaseException):
    """The compute process dies here: nothing after this point runs."""


class KillAndRestart(object):
    """Kill the compute at one step of an adjust, restart it, check.

    For ``xloud_base.XloudServerTestBase`` tests whose setUp calls
    ``_kill_setup()``. Its ``_guest`` reads the guest back as the compute
    does after a restart (``xloud_read``), not from the fake domain.
    """

    def _kill_setup(self):
        # The functional fixtures send no service heartbeat: a compute is
        # "up" for service_down_time after its record was made, and the
        # restarts here make none. Tests that outlive a minute on a loaded
        # machine would find it "down" (a 409) by the clock alone.
        self.flags(service_down_time=3600)
        self._kill = {'point': None, 'in_compute': False, 'calls': {},
                      'fired': False, 'late_cast': None}
        kill = self._kill

        def after(point, real):
            """``real``, and the kill right after its nth call if armed."""
            def wrapper(*args, **kwargs):
                result = real(*args, **kwargs)
                name = point
                if point == 'hypervisor':
                    if not kill['in_compute']:
                        return result
                    kill['calls'][point] = kill['calls'].get(point, 0) + 1
                    name = 'hypervisor-%d' % kill['calls'][point]
                if kill['point'] == name and not kill['fired']:
                    kill['fired'] = True
                    raise Killed(name)
                return result
            return wrapper

        endpoint_adjust = xloud_endpoint.XloudComputeEndpoint.adjust

        def compute_receives(endpoint, *args, **kwargs):
            kill['in_compute'] = True
            try:
                if kill['point'] == 'cast' and not kill['fired']:
                    kill['fired'] = True
                    return
                endpoint_adjust(endpoint, *args, **kwargs)
            except Killed:
                pass
            finally:
                kill['in_compute'] = False
        self.useFixture(fixtures.MockPatchObject(
            xloud_endpoint.XloudComputeEndpoint, 'adjust',
            compute_receives))

        cast = xloud_rpcapi.XloudComputeAPI.adjust

        def send(rpcapi, *args, **kwargs):
            if kill['point'] == 'api-claim' and not kill['fired']:
                # the compute is dead: the message waits in its queue
                kill['fired'] = True
                kill['late_cast'] = (args, kwargs)
                return
            return cast(rpcapi, *args, **kwargs)
        self.useFixture(fixtures.MockPatchObject(
            xloud_rpcapi.XloudComputeAPI, 'adjust', send))

        reporter_enter = compute_utils.EventReporter.__enter__
        reporter_exit = compute_utils.EventReporter.__exit__

        def enter(reporter):
            result = reporter_enter(reporter)
            if kill['in_compute'] and kill['point'] == 'event-start':
                kill['fired'] = True
                raise Killed('event-start')
            return result

        def exit_(reporter, exc_type, exc_val, exc_tb):
            if exc_type is Killed:
                return False
            if kill['in_compute'] and kill['point'] == 'event-end':
                kill['fired'] = True
                raise Killed('event-end')
            return reporter_exit(reporter, exc_type, exc_val, exc_tb)
        self.useFixture(fixtures.MockPatchObject(
            compute_utils.EventReporter, '__enter__', enter))
        self.useFixture(fixtures.MockPatchObject(
            compute_utils.EventReporter, '__exit__', exit_))

        save = objects.Instance.save

        def record(instance, *args, **kwargs):
            result = save(instance, *args, **kwargs)
            if kill['in_compute'] and kill['point'] == 'record' and \
                    not kill['fired']:
                kill['fired'] = True
                raise Killed('record')
            return result
        self.useFixture(fixtures.MockPatchObject(
            objects.Instance, 'save', record))

        follow = xloud_placement.follow

        def placement(*args, **kwargs):
            result = follow(*args, **kwargs)
            if kill['in_compute'] and kill['point'] == 'placement' and \
                    not kill['fired']:
                kill['fired'] = True
                raise Killed('placement')
            return result
        self.useFixture(fixtures.MockPatch(
            'nova.compute.xloud_placement.follow', side_effect=placement))

        for name in HYPERVISOR_METHODS:
            self.useFixture(fixtures.MockPatchObject(
                fakelibvirt.Domain, name,
                after('hypervisor', getattr(fakelibvirt.Domain, name))))

    # what each side says
    def _guest(self):
        """What the guest runs, as the driver reads it back."""
        real = self.computes['compute1'].driver.xloud_read(self._instance())
        return real['vcpus'], real['memory_mb']

    def _balloon(self):
        dom = self._dom()
        dom.vcpusFlags(xloud_libvirt.LIVE)      # the state, from the XML
        return (xloud_libvirt.vcpus_allowed(dom), dom.info()[2] // 1024)

    def _adjust(self, vcpus, memory_mb):
        return self.admin_api.api_post(
            '/servers/%s/os-xloud-adjust' % self.server['id'],
            {'current_vcpus': vcpus, 'current_memory_mb': memory_mb},
            check_response_status=[202])

    def _events(self):
        """{request_id: event} of the server's adjusts."""
        found = {}
        for action in self.admin_api.get_instance_actions(
                self.server['id']):
            if action['action'] != xloud.ACTION:
                continue
            events = self.admin_api.get_instance_action_details(
                self.server['id'], action['request_id'])['events']
            found[action['request_id']] = xloud_base.adjust_events(events)
        return found

    def _assert_agree(self):
        """Guest = GET = placement, no task: return what the guest runs."""
        instance = self._instance()
        self.assertIsNone(instance.task_state)
        self.assertNotIn(xloud.SYSMETA_ADJUSTING,
                         instance.system_metadata)
        guest = self._guest()
        self.assertEqual(guest, self._current())
        self.assertEqual(guest, self._placement())
        return guest

    def _assert_events_ended(self):
        """Every adjust event ended; return the newest's result."""
        events = self._events()
        for request_id, evs in events.items():
            self.assertEqual(1, len(evs), request_id)
            self.assertIsNotNone(evs[0]['finish_time'], request_id)
            self.assertIsNotNone(evs[0]['result'], request_id)
        newest = self.admin_api.get_instance_actions(self.server['id'])
        newest = [a for a in newest if a['action'] == xloud.ACTION][0]
        return events[newest['request_id']][0]

    def _kill_and_restart(self, point, recorded, target=TO):
        """Kill the compute at ``point`` of an adjust to ``target``.

        :returns: the seconds the restart took (the recovery included)
        """
        before = self._guest()
        self._kill.update(point=point, fired=False, calls={},
                          late_cast=None)
        self._adjust(*target)
        self.assertTrue(self._kill['fired'], 'no kill at %s' % point)
        self._kill['point'] = None
        started = time.monotonic()
        self.restart_compute_service('compute1', keep_hypervisor_state=True)
        recovery = time.monotonic() - started
        if self._kill['late_cast']:
            # the message the dead compute never took, delivered to the
            # restarted one: stale, it changes nothing
            args, kwargs = self._kill['late_cast']
            cast = xloud_rpcapi.XloudComputeAPI()
            cast.adjust(*args, **kwargs)
        runs = self._assert_agree()
        event = self._assert_events_ended()
        if recorded:
            self.assertEqual(target, runs)
            self.assertEqual('Success', event['result'], event)
        else:
            self.assertEqual('Error', event['result'], event)
            self.assertIn('runs vcpus=%d memory_mb=%d' % runs,
                          event['details'])
            if point in ('api-claim', 'cast', 'event-start'):
                self.assertEqual(before, runs)
        return recovery

    def _adjust_works(self, target):
        self._adjust(*target)
        self.assertEqual(target, self._assert_agree())
        self.assertEqual('Success', self._assert_events_ended()['result'])


class XloudKillTest(KillAndRestart, xloud_base.XloudServerTestBase):
    """One test per kill point of an adjust from (1, 1024) to (3, 2048)."""

    def setUp(self):
        super(XloudKillTest, self).setUp()
        self._kill_setup()
        self.assertEqual(FROM, self._assert_agree())

    def _check(self, point):
        self._kill_and_restart(point, dict(KILL_POINTS)[point])
        self._adjust_works((2, 1536))

    def test_kill_after_the_api_claim(self):
        self._check('api-claim')

    def test_kill_after_the_cast(self):
        self._check('cast')

    def test_kill_after_the_event_start(self):
        self._check('event-start')

    def test_kill_after_hypervisor_call_1(self):
        self._check('hypervisor-1')

    def test_kill_after_hypervisor_call_2(self):
        self._check('hypervisor-2')

    def test_kill_after_hypervisor_call_3(self):
        self._check('hypervisor-3')

    def test_kill_after_hypervisor_call_4(self):
        self._check('hypervisor-4')

    def test_kill_after_hypervisor_call_5(self):
        self._check('hypervisor-5')

    def test_kill_after_the_record(self):
        self._check('record')

    def test_kill_after_the_placement_update(self):
        self._check('placement')

    def test_kill_before_the_event_ends(self):
        self._check('event-end')
