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

"""Claims of minimum-resource servers, through the scheduler's own code."""

from unittest import mock

from oslo_serialization import jsonutils
from oslo_utils.fixture import uuidsentinel as uuids

from nova.compute import task_states
from nova.compute import xloud
from nova.compute import xloud_move
from nova import context as nova_context
from nova import objects
from nova.scheduler import utils
from nova.scheduler import xloud_claims
from nova import test


def _flavor(flavorid='f1', vcpus=4, memory_mb=4096, **specs):
    return objects.Flavor(vcpus=vcpus, memory_mb=memory_mb, root_gb=10,
                          ephemeral_gb=0, swap=0, flavorid=flavorid,
                          extra_specs=specs)


class TestClaims(test.NoDBTestCase):

    def setUp(self):
        super().setUp()
        self.ctxt = nova_context.get_admin_context()
        self.minimum = _flavor(minimum_cpu='1', minimum_memory='1024')

    def _claim(self, flavor, instance=None):
        spec = objects.RequestSpec(flavor=flavor, is_bfv=False,
                                   instance_uuid=uuids.instance,
                                   image=objects.ImageMeta(
                                       properties=objects.ImageMetaProps()))
        with mock.patch('nova.scheduler.xloud_claims._instance',
                        return_value=instance) as lookup:
            res_req = utils.resources_from_request_spec(
                self.ctxt, spec, mock.Mock())
        if xloud.has_minimum(flavor):
            lookup.assert_called_once_with(self.ctxt, uuids.instance)
        else:
            lookup.assert_not_called()
        return res_req.merged_resources()

    def test_flavor_without_specs_claims_the_flavor(self):
        self.assertEqual({'VCPU': 4, 'MEMORY_MB': 4096, 'DISK_GB': 10},
                         self._claim(_flavor()))

    def test_boot_claims_the_minimums(self):
        # while a server is built, its cell has no instance yet
        self.assertEqual({'VCPU': 1, 'MEMORY_MB': 1024, 'DISK_GB': 10},
                         self._claim(self.minimum))

    def test_move_claims_the_current_values(self):
        instance = objects.Instance(flavor=self.minimum, system_metadata={},
                                    task_state=None)
        xloud.set_current(instance, 3, 2048)
        self.assertEqual({'VCPU': 3, 'MEMORY_MB': 2048, 'DISK_GB': 10},
                         self._claim(self.minimum, instance))

    def _adjusted_live_only(self, task_state):
        """A server whose guest runs 4/3072 live, persisted at 3/2048."""
        instance = objects.Instance(flavor=self.minimum, system_metadata={},
                                    task_state=task_state)
        xloud.set_current(instance, 3, 2048)
        xloud.record(instance, 4, 3072, persist=False)
        return instance

    def test_live_migration_claims_what_the_guest_runs(self):
        # The running guest moves as it is, live-only values included.
        instance = self._adjusted_live_only(task_states.MIGRATING)
        self.assertEqual({'VCPU': 4, 'MEMORY_MB': 3072, 'DISK_GB': 10},
                         self._claim(self.minimum, instance))

    def test_move_to_grow_claims_the_new_size_for_its_request_only(self):
        # xloud_move: the live migration of a growth that did not fit its
        # host claims the new size; the growth of another request (left
        # by a move that failed) claims nothing more
        instance = self._adjusted_live_only(task_states.MIGRATING)
        instance.system_metadata[xloud_move.SYSMETA_GROWTH] = (
            jsonutils.dumps({'request_id': self.ctxt.request_id,
                             'vcpus': 4, 'memory_mb': 2048,
                             'persist': True}))
        # the memory asked is below what the guest runs: the claim still
        # covers the guest until the growth shrinks it
        self.assertEqual({'VCPU': 4, 'MEMORY_MB': 3072, 'DISK_GB': 10},
                         self._claim(self.minimum, instance))
        instance.system_metadata[xloud_move.SYSMETA_GROWTH] = (
            jsonutils.dumps({'request_id': 'req-another', 'vcpus': 4,
                             'memory_mb': 4096, 'persist': True}))
        self.assertEqual({'VCPU': 4, 'MEMORY_MB': 3072, 'DISK_GB': 10},
                         self._claim(self.minimum, instance))
        instance.system_metadata[xloud_move.SYSMETA_GROWTH] = 'not json'
        self.assertEqual({'VCPU': 4, 'MEMORY_MB': 3072, 'DISK_GB': 10},
                         self._claim(self.minimum, instance))

    def test_other_moves_claim_the_persisted_values(self):
        # A cold migration, evacuation or unshelve defines the guest again
        # from its persisted values.
        for task_state in (task_states.RESIZE_PREP, task_states.REBUILDING,
                           task_states.UNSHELVING):
            instance = self._adjusted_live_only(task_state)
            self.assertEqual({'VCPU': 3, 'MEMORY_MB': 2048, 'DISK_GB': 10},
                             self._claim(self.minimum, instance))

    def test_resize_claims_the_new_minimums(self):
        instance = objects.Instance(flavor=self.minimum, system_metadata={},
                                    task_state=None)
        xloud.set_current(instance, 3, 2048)
        new = _flavor('f2', 8, 8192, minimum_cpu='2', minimum_memory='4096')
        self.assertEqual({'VCPU': 2, 'MEMORY_MB': 4096, 'DISK_GB': 10},
                         self._claim(new, instance))

    def test_instance_lookup_through_its_cell(self):
        mapping = objects.InstanceMapping(
            cell_mapping=objects.CellMapping(uuid=uuids.cell))
        with test.nested(
            mock.patch.object(objects.InstanceMapping,
                              'get_by_instance_uuid', return_value=mapping),
            mock.patch.object(objects.Instance, 'get_by_uuid',
                              return_value=mock.sentinel.instance),
            mock.patch.object(nova_context, 'target_cell'),
        ) as (get_mapping, get_instance, target_cell):
            self.assertEqual(mock.sentinel.instance,
                             xloud_claims._instance(self.ctxt, uuids.inst))
        target_cell.assert_called_once_with(self.ctxt, mapping.cell_mapping)
        get_instance.assert_called_once_with(
            target_cell.return_value.__enter__.return_value, uuids.inst,
            expected_attrs=['system_metadata', 'flavor'])

    def test_heal_allocations_claims_the_current_values(self):
        instance = objects.Instance(self.ctxt, flavor=self.minimum,
                                    system_metadata={})
        xloud.set_current(instance, 2, 3000)
        with mock.patch('nova.compute.utils.is_volume_backed_instance',
                        return_value=False):
            self.assertEqual(
                {'VCPU': 2, 'MEMORY_MB': 3000, 'DISK_GB': 10},
                utils.resources_from_flavor(instance, self.minimum))

    def test_heal_allocations_claims_what_the_guest_runs(self):
        instance = objects.Instance(self.ctxt, flavor=self.minimum,
                                    system_metadata={})
        xloud.set_current(instance, 2, 3000)
        xloud.record(instance, 3, 3000, persist=False)
        with mock.patch('nova.compute.utils.is_volume_backed_instance',
                        return_value=False):
            self.assertEqual(
                {'VCPU': 3, 'MEMORY_MB': 3000, 'DISK_GB': 10},
                utils.resources_from_flavor(instance, self.minimum))
