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

"""Unit tests of the compute side of a live adjust."""

from unittest import mock

from oslo_utils.fixture import uuidsentinel as uuids

from nova.compute import power_state
from nova.compute import task_states
from nova.compute import vm_states
from nova.compute import xloud
from nova.compute import xloud_endpoint
from nova.compute import xloud_errors
from nova.compute import xloud_guest_view
from nova.compute import xloud_manager
from nova.compute import xloud_placement
from nova.compute import xloud_rpcapi
from nova.compute import xloud_traits
from nova import context as nova_context
from nova import exception
from nova import objects
from nova import test
from nova.tests.unit.api.openstack.compute import test_xloud_adjust as api
from nova.tests.unit import fake_instance
from nova.virt import fake as fake_virt


class FakeDriver(object):

    def __init__(self, vcpus=2, memory_mb=2048):
        self.vcpus, self.memory_mb = vcpus, memory_mb
        self.fail = {}
        self.calls = []
        self.limit = False
        # more of the libvirt driver's answer (the guest's report, a cap)
        self.extra = {}

    def xloud_can_adjust(self):
        return True

    def xloud_adjust(self, instance, vcpus=None, memory_mb=None,
                     persist=True):
        self.calls.append((vcpus, memory_mb, persist))
        if 'raise' in self.fail:
            raise self.fail['raise']
        errors = []
        if vcpus is not None:
            if 'vcpus' in self.fail:
                errors.append(self.fail['vcpus'])
            else:
                self.vcpus = vcpus
        if memory_mb is not None:
            if 'memory' in self.fail:
                errors.append(self.fail['memory'])
            else:
                self.memory_mb = memory_mb
        return dict(self.extra, vcpus=self.vcpus, memory_mb=self.memory_mb,
                    errors=errors)

    def xloud_read(self, instance):
        if 'read' in self.fail:
            raise self.fail['read']
        real = {'vcpus': self.vcpus, 'memory_mb': self.memory_mb}
        if self.limit is not False:
            # a guest of a minimum flavor under a memory limit (None: none)
            real['limit_mb'] = self.limit
        return real


class XloudManagerTest(test.NoDBTestCase):

    def setUp(self):
        super(XloudManagerTest, self).setUp()
        self.context = nova_context.get_admin_context()
        self.driver = FakeDriver()
        self.placement = api.FakePlacement()
        self.manager = mock.Mock(driver=self.driver, host='compute1',
                                 reportclient=self.placement)
        self.endpoint = xloud_endpoint.XloudComputeEndpoint(self.manager)
        self.instance = fake_instance.fake_instance_obj(
            self.context, uuid=uuids.server, vm_state=vm_states.ACTIVE,
            task_state=xloud.TASK_STATE, host='compute1',
            power_state=power_state.RUNNING,
            expected_attrs=['system_metadata', 'flavor'])
        self.instance.flavor = api._flavor()
        self.instance.system_metadata = {
            xloud.SYSMETA_ADJUSTING: 'req-1'}
        xloud.set_current(self.instance, 2, 2048)
        self.save = mock.patch.object(self.instance, 'save').start()
        # the endpoint reads the server again first (a late message)
        mock.patch.object(self.instance, 'refresh').start()
        self.addCleanup(mock.patch.stopall)
        self.events = []
        self.reporter = mock.patch(
            'nova.compute.utils.EventReporter', self._reporter).start()
        self.fault = mock.patch(
            'nova.compute.utils.add_instance_fault_from_exc').start()
        self.noted = mock.patch(
            'nova.compute.xloud_events.note').start()

    def _reporter(self, context, event, host, uuid, graceful_exit=False):
        test_case = self

        class Reporter(object):
            def __enter__(self):
                return self

            def __exit__(self, exc_type, exc_val, exc_tb):
                test_case.events.append((event, exc_val))
                return False
        return Reporter()

    def _adjust(self, vcpus=None, memory_mb=None, persist=True,
                request_id='req-1'):
        self.endpoint.adjust(self.context, self.instance, vcpus, memory_mb,
                             persist, request_id)

    def _sysmeta(self):
        return xloud.current(self.instance), xloud.live(self.instance)

    def test_traits(self):
        self.assertEqual(
            {xloud_traits.LIVE_ADJUST: True, xloud_traits.RPC_1_0: True},
            xloud_traits.of_driver(self.driver))
        self.driver.xloud_can_adjust = lambda: False
        # a driver without support still serves the endpoint: the API
        # tells the two reasons apart
        self.assertEqual(
            {xloud_traits.LIVE_ADJUST: False, xloud_traits.RPC_1_0: True},
            xloud_traits.of_driver(self.driver))
        self.assertEqual(xloud_rpcapi.TRAIT, xloud_traits.RPC_1_0)
        self.assertEqual('1.0', xloud_rpcapi.VERSION)

    def test_cast_takes_the_cell_s_transport(self):
        # a cell may have its own RabbitMQ: the context the API targeted
        # at the server's cell carries its transport (ClientRouter)
        rpcapi = xloud_rpcapi.XloudComputeAPI()
        cell_transport = mock.sentinel.cell_transport
        ctxt = nova_context.get_admin_context()
        ctxt.mq_connection = cell_transport
        with mock.patch('oslo_messaging.get_rpc_client') as get_client:
            rpcapi.adjust(ctxt, self.instance, 3, None, True, 'req-1')
        self.assertIs(cell_transport, get_client.call_args[0][0])
        cctxt = get_client.return_value.prepare.return_value
        # a broker that cannot be reached fails the cast in seconds, it
        # does not hold the API's request until it comes back
        get_client.return_value.prepare.assert_called_once_with(
            server='compute1', version='1.0', retry=xloud_rpcapi.CAST_RETRY)
        cctxt.cast.assert_called_once_with(
            ctxt, 'adjust', instance=self.instance, vcpus=3, memory_mb=None,
            persist=True, request_id='req-1')

    def test_driver_reports_the_traits(self):
        # with its capabilities, at every update of the compute's resources
        traits = fake_virt.FakeDriver(None).capabilities_as_traits()
        self.assertIs(False, traits[xloud_traits.LIVE_ADJUST])
        self.assertIs(True, traits[xloud_traits.RPC_1_0])
        self.assertIn('COMPUTE_DEVICE_TAGGING', traits)

    def test_capabilities(self):
        self.assertEqual({'adjust': True, 'reason': None},
                         self.endpoint.capabilities(self.context))
        self.driver.xloud_can_adjust = lambda: False
        caps = self.endpoint.capabilities(self.context)
        self.assertFalse(caps['adjust'])
        self.assertIn('FakeDriver', caps['reason'])

    def test_endpoint_target(self):
        self.assertEqual('xloud', self.endpoint.target.namespace)
        self.assertEqual('1.0', self.endpoint.target.version)
        self.assertIsInstance(xloud_manager.endpoints(self.manager)[0],
                              xloud_endpoint.XloudComputeEndpoint)

    def test_up_persist(self):
        self.placement.resources.update(VCPU=3, MEMORY_MB=3072)  # claimed
        self._adjust(3, 3072)
        self.assertEqual(((3, 3072), (3, 3072)), self._sysmeta())
        self.assertFalse(xloud.has_live(self.instance))
        self.assertIsNone(self.instance.task_state)
        self.assertNotIn(xloud.SYSMETA_ADJUSTING,
                         self.instance.system_metadata)
        self.save.assert_called_once_with(
            expected_task_state=[xloud.TASK_STATE])
        self.assertEqual(3, self.placement.resources['VCPU'])
        self.assertEqual([(xloud.EVENT, None)], self.events)
        self.fault.assert_not_called()

    def test_down_releases_after_the_guest(self):
        self._adjust(1, 1024)
        self.assertEqual((1, 1024), xloud.current(self.instance))
        self.assertEqual(1, self.placement.resources['VCPU'])
        self.assertEqual(1024, self.placement.resources['MEMORY_MB'])

    def test_persist_false_keeps_persisted_values(self):
        self._adjust(vcpus=1, persist=False)
        self.assertEqual(((2, 2048), (1, 2048)), self._sysmeta())
        self.assertTrue(xloud.has_live(self.instance))
        self.assertEqual(1, self.placement.resources['VCPU'])

    def test_persist_one_resource_keeps_the_other_live(self):
        self._adjust(vcpus=1, persist=False)
        self.instance.task_state = xloud.TASK_STATE
        self.instance.system_metadata[xloud.SYSMETA_ADJUSTING] = 'r2'
        self._adjust(memory_mb=3072, request_id='r2')
        self.assertEqual(((2, 3072), (1, 3072)), self._sysmeta())

    def _events_noted(self):
        return [c[0][2] for c in self.noted.call_args_list]

    def test_guest_events_and_report(self):
        # a host that caps instead of unplugging, a guest agent answering
        self.driver.extra = {
            'vcpus_plugged': 2, 'vcpus_kept': 'unplug-unconfirmed',
            'guest': {'agent': 'answered', 'vcpus_online': 1,
                      'memory_mb': 2000, 'usable_mb': 1200,
                      'balloon_mb': 2048, 'at': 1000}}
        self._adjust(vcpus=1)
        self.assertEqual(['compute_xloud_guest_confirmed',
                          'compute_xloud_cpu_capped'], self._events_noted())
        # recorded in the same save as the values (the API reads them)
        view = xloud_guest_view.view(self.instance)
        self.assertTrue(view['guest']['confirmed'])
        self.assertEqual(1, view['guest']['vcpus_online'])
        self.assertEqual((2, 1), (view['cpu_cap']['vcpus_plugged'],
                                  view['cpu_cap']['vcpus_allowed']))
        self.assertEqual(1, self.placement.resources['VCPU'])

    def test_guest_unconfirmed_event(self):
        self.driver.extra = {'vcpus_plugged': 3,
                             'guest': {'agent': 'none', 'at': 1000}}
        self._adjust(vcpus=3)
        self.assertEqual(['compute_xloud_guest_unconfirmed'],
                         self._events_noted())
        self.assertIsNone(xloud_guest_view.view(self.instance)['cpu_cap'])

    def test_unplug_timeout(self):
        self.driver.fail['vcpus'] = (
            'setting 1 vCPUs: vcpu unplug request timed out (libvirt '
            'error 68)')
        self._adjust(1, 1024)
        self.assertEqual(((2, 1024), (2, 1024)), self._sysmeta())
        self.assertEqual(2, self.placement.resources['VCPU'])
        self.assertEqual(1024, self.placement.resources['MEMORY_MB'])
        event, exc = self.events[0]
        self.assertIn('vcpu unplug request timed out', str(exc))
        self.assertIsNone(self.instance.task_state)
        # a failed adjust leaves an instance fault, as every action does
        # (upstream's wrap_instance_fault)
        self.fault.assert_called_once_with(
            self.context, self.instance, exc, mock.ANY)
        self.assertIsInstance(exc, xloud_errors.AdjustGuestError)

    def test_failed_increase_returns_the_claim(self):
        self.placement.resources.update(VCPU=4)
        self.driver.fail['vcpus'] = 'requested cpu amount exceeds maximum'
        self._adjust(4)
        self.assertEqual(2, self.placement.resources['VCPU'])
        self.assertEqual((2, 2048), xloud.current(self.instance))
        self.assertIsNotNone(self.events[0][1])

    def test_driver_raises_reads_back(self):
        self.placement.resources.update(VCPU=3)
        self.driver.fail['raise'] = exception.InstanceNotRunning(
            instance_id=uuids.server)
        self._adjust(3)
        self.assertEqual(2, self.placement.resources['VCPU'])
        self.assertIsNone(self.instance.task_state)
        self.assertIsInstance(self.events[0][1],
                              xloud_errors.AdjustGuestError)
        self.fault.assert_called_once_with(
            self.context, self.instance, self.events[0][1], mock.ANY)

    def test_driver_raises_unreadable_keeps_last_values(self):
        self.placement.resources.update(VCPU=3)
        self.driver.fail['raise'] = ValueError('boom')
        self.driver.fail['read'] = ValueError('boom')
        self._adjust(3)
        self.assertEqual(((2, 2048), (2, 2048)), self._sysmeta())
        self.assertEqual(2, self.placement.resources['VCPU'])

    def test_stale_request_is_dropped(self):
        self._adjust(3, request_id='req-other')
        self.assertEqual([], self.driver.calls)
        self.assertEqual([], self.events)
        self.instance.task_state = None
        self._adjust(3)
        self.assertEqual([], self.driver.calls)

    def test_instance_deleted(self):
        self.save.side_effect = exception.InstanceNotFound(
            instance_id=uuids.server)
        self._adjust(3)   # logged, not raised

    @mock.patch.object(objects.InstanceList, 'get_by_filters')
    @mock.patch.object(objects.InstanceActionEvent,
                       'event_finish_with_failure')
    def test_init_host_finishes_interrupted_adjust(self, finish, get):
        get.return_value = [self.instance]
        self.placement.resources.update(VCPU=4)   # claimed, never done
        xloud_manager.init_host(self.manager, self.context)
        self.assertIsNone(self.instance.task_state)
        self.assertNotIn(xloud.SYSMETA_ADJUSTING,
                         self.instance.system_metadata)
        self.assertEqual(2, self.placement.resources['VCPU'])
        finish.assert_called_once()
        self.assertEqual('req-1', finish.call_args[0][0].request_id)

    @mock.patch.object(objects.InstanceList, 'get_by_filters')
    def test_init_host_guest_changed_before_restart(self, get):
        get.return_value = [self.instance]
        del self.instance.system_metadata[xloud.SYSMETA_ADJUSTING]
        self.instance.task_state = None
        self.driver.vcpus = 3
        xloud_manager.init_host(self.manager, self.context)
        self.assertEqual(((2, 2048), (3, 2048)), self._sysmeta())
        self.assertEqual(3, self.placement.resources['VCPU'])

    @mock.patch.object(objects.InstanceList, 'get_by_filters')
    def test_init_host_limits_a_guest_running_without_limit(self, get):
        # started before the memory limit existed: what it may use is its
        # maximum; it is put under a limit at its recorded memory
        get.return_value = [self.instance]
        del self.instance.system_metadata[xloud.SYSMETA_ADJUSTING]
        self.instance.task_state = None
        self.driver.limit = None
        self.driver.memory_mb = 4096
        xloud_manager.init_host(self.manager, self.context)
        self.assertEqual([(None, 2048, False)], self.driver.calls)
        self.assertEqual(((2, 2048), (2, 2048)), self._sysmeta())
        self.assertEqual(2048, self.placement.resources['MEMORY_MB'])

    @mock.patch.object(objects.InstanceList, 'get_by_filters')
    def test_init_host_guest_that_cannot_be_limited_is_claimed(self, get):
        # it uses more than its recorded memory: it runs unlimited, so its
        # maximum is what is recorded and claimed
        get.return_value = [self.instance]
        del self.instance.system_metadata[xloud.SYSMETA_ADJUSTING]
        self.instance.task_state = None
        self.driver.limit = None
        self.driver.memory_mb = 4096
        self.driver.fail['memory'] = 'the guest did not give back its memory'
        xloud_manager.init_host(self.manager, self.context)
        self.assertEqual(((2, 2048), (2, 4096)), self._sysmeta())
        self.assertEqual(4096, self.placement.resources['MEMORY_MB'])

    @mock.patch.object(objects.InstanceList, 'get_by_filters')
    def test_init_host_skips_other_servers(self, get):
        self.instance.flavor.extra_specs = {}
        self.instance.system_metadata = {}
        get.return_value = [self.instance]
        self.driver.vcpus = 3
        xloud_manager.init_host(self.manager, self.context)
        self.assertEqual([], self.placement.puts)
        self.save.assert_not_called()

    def _expire(self, age, timeout=300, began=False):
        self.flags(adjust_timeout=timeout, group='xloud')
        with mock.patch.object(
                objects.InstanceList, 'get_by_filters',
                return_value=[self.instance]) as get, mock.patch(
                'nova.compute.xloud_events.age',
                return_value=age), mock.patch(
                'nova.compute.xloud_events.began',
                return_value=began), mock.patch.object(
                objects.InstanceActionEvent,
                'event_finish_with_failure') as finish:
            xloud_manager.expire_adjusts(self.manager, self.context)
        if get.called:
            self.assertEqual(
                {'host': 'compute1', 'deleted': False,
                 'task_state': xloud.TASK_STATE},
                get.call_args[0][1])
        return finish

    def test_expire_an_adjust_that_never_began(self):
        self.placement.resources.update(VCPU=4)   # claimed, never done
        finish = self._expire(age=301)
        self.assertIsNone(self.instance.task_state)
        self.assertNotIn(xloud.SYSMETA_ADJUSTING,
                         self.instance.system_metadata)
        # the claim follows what the guest runs
        self.assertEqual(2, self.placement.resources['VCPU'])
        finish.assert_called_once()
        self.assertEqual('req-1', finish.call_args[0][0].request_id)
        message = finish.call_args[1]['exc_val']
        self.assertIn('did not begin within 300 s', message)
        self.assertIn('adjust_timeout', message)
        self.assertIn('vcpus=2 memory_mb=2048', message)
        self.assertEqual(set(), xloud_manager.HANDLING)

    def test_expire_an_adjust_whose_end_was_not_recorded(self):
        # its compute began it (the event exists), and could not record
        # its end: the database or the conductor did not answer
        finish = self._expire(age=301, began=True)
        self.assertIsNone(self.instance.task_state)
        message = finish.call_args[1]['exc_val']
        self.assertIn('did not end within 300 s', message)
        self.assertIn('could not record its end', message)
        # the request, if it still comes, is stale
        self._adjust(3)
        self.assertEqual([], self.driver.calls)

    def test_expire_waits_for_the_timeout(self):
        finish = self._expire(age=299)
        self.assertEqual(xloud.TASK_STATE, self.instance.task_state)
        self.assertEqual('req-1', xloud.adjusting(self.instance))
        finish.assert_not_called()

    def test_expire_disabled(self):
        finish = self._expire(age=10 ** 6, timeout=0)
        self.assertEqual(xloud.TASK_STATE, self.instance.task_state)
        finish.assert_not_called()

    def test_expire_never_cuts_a_running_adjust_short(self):
        xloud_manager.HANDLING.add('req-1')
        self.addCleanup(xloud_manager.HANDLING.discard, 'req-1')
        finish = self._expire(age=10 ** 6)
        self.assertEqual(xloud.TASK_STATE, self.instance.task_state)
        finish.assert_not_called()

    def test_expire_rereads_the_server(self):
        # it ended between the list and the check: nothing to do
        def ended():
            self.instance.task_state = None
            self.instance.system_metadata.pop(xloud.SYSMETA_ADJUSTING)
        self.instance.refresh.side_effect = ended
        finish = self._expire(age=10 ** 6)
        finish.assert_not_called()
        self.save.assert_not_called()

    def test_request_being_expired_is_dropped(self):
        xloud_manager.HANDLING.add('req-1')
        self.addCleanup(xloud_manager.HANDLING.discard, 'req-1')
        self._adjust(3)
        self.assertEqual([], self.driver.calls)
        self.instance.refresh.assert_not_called()

    def test_running_adjust_is_handled(self):
        seen = []
        real = self.driver.xloud_adjust

        def adjust(*args, **kwargs):
            seen.append(set(xloud_manager.HANDLING))
            return real(*args, **kwargs)
        self.driver.xloud_adjust = adjust
        self._adjust(3)
        self.assertEqual([{'req-1'}], seen)
        self.assertEqual(set(), xloud_manager.HANDLING)

    @mock.patch.object(objects.InstanceActionEvent,
                       'event_finish_with_failure')
    def test_after_regeneration_ends_an_overtaken_adjust(self, finish):
        # evacuated while its compute was down: the adjust never ran
        self.instance.task_state = None
        xloud_manager.after_regeneration(self.manager, self.context,
                                        self.instance)
        self.assertNotIn(xloud.SYSMETA_ADJUSTING,
                         self.instance.system_metadata)
        finish.assert_called_once()
        self.assertEqual('req-1', finish.call_args[0][0].request_id)
        self.assertIn('evacuated', finish.call_args[1]['exc_val'])

    @mock.patch.object(objects.InstanceActionEvent,
                       'event_finish_with_failure')
    def test_after_regeneration_leaves_a_running_adjust(self, finish):
        xloud_manager.after_regeneration(self.manager, self.context,
                                        self.instance)
        self.assertEqual('req-1', xloud.adjusting(self.instance))
        finish.assert_not_called()

    def test_after_regeneration_returns_to_persisted(self):
        self.instance.task_state = None
        del self.instance.system_metadata[xloud.SYSMETA_ADJUSTING]
        xloud.record(self.instance, 1, 2048, persist=False)
        self.placement.resources.update(VCPU=1)
        # the regenerated guest runs the persisted values again
        self.driver.vcpus = 2
        xloud_manager.after_regeneration(self.manager, self.context,
                                        self.instance)
        self.assertFalse(xloud.has_live(self.instance))
        self.assertEqual(2, self.placement.resources['VCPU'])

    def test_after_regeneration_stopped_guest(self):
        xloud.record(self.instance, 1, 2048, persist=False)
        self.instance.power_state = power_state.SHUTDOWN
        xloud_manager.after_regeneration(self.manager, self.context,
                                        self.instance)
        self.assertFalse(xloud.has_live(self.instance))
        self.assertEqual(2, self.placement.resources['VCPU'])

    def test_after_regeneration_never_raises(self):
        self.save.side_effect = ValueError('db gone')
        xloud_manager.after_regeneration(self.manager, self.context,
                                        self.instance)


class XloudPlacementTest(test.NoDBTestCase):

    def setUp(self):
        super(XloudPlacementTest, self).setUp()
        self.context = nova_context.get_admin_context()
        self.instance = fake_instance.fake_instance_obj(
            self.context, uuid=uuids.server)
        self.placement = api.FakePlacement()

    def test_unchanged_is_not_written(self):
        self.assertTrue(xloud_placement.set_amounts(
            self.context, self.placement, self.instance, 2, 2048))
        self.assertEqual([], self.placement.puts)

    def test_consumer_generation_conflict_is_retried(self):
        put = self.placement.put_allocations
        calls = []

        def racy(context, consumer, payload):
            calls.append(payload)
            if len(calls) == 1:
                raise exception.AllocationUpdateFailed(
                    consumer_uuid=consumer, error='consumer generation')
            return put(context, consumer, payload)
        self.placement.put_allocations = racy
        self.assertTrue(xloud_placement.set_amounts(
            self.context, self.placement, self.instance, vcpus=3))
        self.assertEqual(2, len(calls))
        self.assertEqual(3, self.placement.resources['VCPU'])

    def test_no_room(self):
        self.placement.capacity['MEMORY_MB'] = 3000
        self.assertRaises(xloud_errors.AdjustNoCapacity,
                          xloud_placement.claim, self.context,
                          self.placement, self.instance, memory_mb=3072)
        self.assertEqual(2048, self.placement.resources['MEMORY_MB'])

    def _evacuated(self):
        """The allocation of a server evacuated from RP to RP2."""
        self.instance.host, self.instance.node = 'compute2', 'node2'
        get = self.placement.get_allocs_for_consumer

        def split(context, consumer):
            allocs = get(context, consumer)
            allocs['allocations'][uuids.old_node] = {
                'resources': {'VCPU': 4, 'MEMORY_MB': 4096, 'DISK_GB': 1},
                'generation': 2}
            return allocs
        self.placement.get_allocs_for_consumer = split

    def test_evacuated_server_adjusts_its_new_node(self):
        self._evacuated()
        with mock.patch.object(objects.ComputeNodeList, 'get_all_by_host',
                               return_value=[objects.ComputeNode(
                                   uuid=api.RP, hypervisor_hostname='node2')]
                               ) as get_nodes:
            self.assertTrue(xloud_placement.set_amounts(
                self.context, self.placement, self.instance, 3, 3072))
        get_nodes.assert_called_once_with(self.context, 'compute2')
        payload = self.placement.puts[0]['allocations']
        self.assertEqual({'VCPU': 3, 'MEMORY_MB': 3072, 'DISK_GB': 1},
                         payload[api.RP]['resources'])
        # the old node's part is left to its compute's clean-up
        self.assertEqual({'VCPU': 4, 'MEMORY_MB': 4096, 'DISK_GB': 1},
                         payload[uuids.old_node]['resources'])

    def test_evacuating_compute_names_its_own_host(self):
        # during the evacuation the server's host is still the old one
        self._evacuated()
        self.instance.host = 'compute1'
        with mock.patch.object(objects.ComputeNodeList, 'get_all_by_host',
                               return_value=[objects.ComputeNode(
                                   uuid=api.RP, hypervisor_hostname='node2')]
                               ) as get_nodes:
            self.assertTrue(xloud_placement.follow(
                self.context, self.placement, self.instance, 3, 3072,
                host='compute2'))
        get_nodes.assert_called_once_with(self.context, 'compute2')
        self.assertEqual(
            {'VCPU': 3, 'MEMORY_MB': 3072, 'DISK_GB': 1},
            self.placement.puts[0]['allocations'][api.RP]['resources'])

    def test_split_allocation_without_its_node_is_left_alone(self):
        self._evacuated()
        with mock.patch.object(objects.ComputeNodeList, 'get_all_by_host',
                               side_effect=exception.ComputeHostNotFound(
                                   host='compute2')):
            self.assertTrue(xloud_placement.set_amounts(
                self.context, self.placement, self.instance, 3, 3072))
        self.assertEqual([], self.placement.puts)

    def test_amounts(self):
        self.assertEqual({'vcpus': 2, 'memory_mb': 2048},
                         xloud_placement.amounts(self.context,
                                                 self.placement,
                                                 self.instance))

    def test_follow_never_raises(self):
        self.placement.get_allocs_for_consumer = mock.Mock(
            side_effect=exception.ConsumerAllocationRetrievalFailed(
                consumer_uuid=uuids.server, error='down'))
        self.assertFalse(xloud_placement.follow(
            self.context, self.placement, self.instance, 1, 1024))


class XloudStateTest(test.NoDBTestCase):

    def test_task_state_is_upstream(self):
        self.assertIn(xloud.TASK_STATE,
                      objects.fields.InstanceTaskState.ALL)
        self.assertEqual(task_states.RESIZE_PREP, xloud.TASK_STATE)

    def test_live_values_belong_to_the_flavor(self):
        ctxt = nova_context.get_admin_context()
        inst = fake_instance.fake_instance_obj(
            ctxt, expected_attrs=['system_metadata', 'flavor'])
        inst.flavor = api._flavor()
        inst.system_metadata = {}
        xloud.set_current(inst, 2, 2048)
        xloud.record(inst, 3, 2048, persist=False)
        self.assertEqual((3, 2048), xloud.live(inst))
        inst.flavor.flavorid = 'other'
        self.assertEqual((1, 1024), xloud.live(inst))
