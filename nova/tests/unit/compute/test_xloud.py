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

from nova.compute import xloud
from nova import exception
from nova import objects
from nova import test


def _flavor(vcpus=4, memory_mb=4096, flavorid='f1', **specs):
    return objects.Flavor(vcpus=vcpus, memory_mb=memory_mb,
                          flavorid=flavorid, extra_specs=specs)


def _instance(flavor, **sysmeta):
    return objects.Instance(flavor=flavor, system_metadata=sysmeta)


class TestMinimums(test.NoDBTestCase):

    def test_flavor_without_specs_is_its_own_minimum(self):
        flavor = _flavor()
        self.assertFalse(xloud.has_minimum(flavor))
        self.assertEqual((4, 4096), xloud.minimums(flavor))

    def test_minimums_from_specs(self):
        flavor = _flavor(minimum_cpu='2', minimum_memory='2048')
        self.assertTrue(xloud.has_minimum(flavor))
        self.assertEqual((2, 2048), xloud.minimums(flavor))

    def test_one_spec_only(self):
        self.assertEqual((1, 4096),
                         xloud.minimums(_flavor(minimum_cpu='1')))
        self.assertEqual((4, 512),
                         xloud.minimums(_flavor(minimum_memory='512')))


class TestValidateFlavor(test.NoDBTestCase):

    def test_valid(self):
        xloud.validate_flavor(_flavor(minimum_cpu='4', minimum_memory='1'))
        # no minimum: nothing is checked, upstream behaviour
        xloud.validate_flavor(_flavor(**{'hw:cpu_policy': 'dedicated'}))

    def test_above_the_flavor(self):
        ex = self.assertRaises(exception.ValidationError,
                               xloud.validate_flavor,
                               _flavor(minimum_cpu='5'))
        self.assertIn("'minimum_cpu' (5) is above the flavor's vcpus (4)",
                      str(ex))
        ex = self.assertRaises(exception.ValidationError,
                               xloud.validate_flavor,
                               _flavor(minimum_memory='4097'))
        self.assertIn("'minimum_memory' (4097) is above the flavor's "
                      "memory_mb (4096)", str(ex))

    def test_conflicting_flavor_specs(self):
        for spec, value in (
            ('hw:cpu_policy', 'dedicated'), ('hw:cpu_policy', 'mixed'),
            ('hw:numa_nodes', '2'), ('hw:mem_page_size', 'large'),
            ('hw:mem_encryption', 'true'), ('hw:pmem', '4GB'),
            ('hw:locked_memory', 'True'),
            ('pci_passthrough:alias', 'gpu:1'),
            ('resources:VCPU', '2'), ('resources:MEMORY_MB', '512'),
        ):
            flavor = _flavor(minimum_cpu='2', **{spec: value})
            ex = self.assertRaises(exception.ValidationError,
                                   xloud.validate_flavor, flavor)
            self.assertIn("'%s=%s' cannot be combined" % (spec, value),
                          str(ex))

    def test_harmless_values_of_those_specs(self):
        xloud.validate_flavor(_flavor(
            minimum_cpu='2', **{'hw:cpu_policy': 'shared',
                                'hw:numa_nodes': '1',
                                'hw:mem_encryption': 'false'}))

    def test_conflicting_image_property(self):
        ex = self.assertRaises(
            exception.ValidationError, xloud.validate_flavor,
            _flavor(minimum_memory='1024'),
            {'hw_mem_page_size': 'large'})
        self.assertIn("'image property hw_mem_page_size=large'", str(ex))
        # the flavor's own value wins over the image's
        xloud.validate_flavor(
            _flavor(minimum_cpu='1', **{'hw:cpu_policy': 'shared'}),
            {'hw_cpu_policy': 'dedicated'})


class TestCurrent(test.NoDBTestCase):

    def test_boot_values_are_the_minimums(self):
        flavor = _flavor(minimum_cpu='2', minimum_memory='2048')
        instance = _instance(flavor)
        xloud.record_boot_values(instance, flavor)
        self.assertEqual({xloud.SYSMETA_FLAVOR: 'f1',
                          xloud.SYSMETA_VCPUS: '2',
                          xloud.SYSMETA_MEMORY_MB: '2048'},
                         instance.system_metadata)
        self.assertEqual((2, 2048), xloud.current(instance))

    def test_flavor_without_specs_records_nothing(self):
        flavor = _flavor()
        instance = _instance(flavor)
        xloud.record_boot_values(instance, flavor)
        self.assertEqual({}, instance.system_metadata)
        self.assertEqual((4, 4096), xloud.current(instance))

    def test_set_current_one_resource(self):
        flavor = _flavor(minimum_cpu='2', minimum_memory='2048')
        instance = _instance(flavor)
        xloud.set_current(instance, vcpus=3)
        self.assertEqual((3, 2048), xloud.current(instance))
        xloud.set_current(instance, memory_mb=3000)
        self.assertEqual((3, 3000), xloud.current(instance))
        b = xloud.bounds(instance)
        self.assertEqual(xloud.Bounds(2, 3, 4), b['vcpus'])
        self.assertEqual(xloud.Bounds(2048, 3000, 4096), b['memory_mb'])

    def test_values_of_another_flavor_do_not_count(self):
        old = _flavor(minimum_cpu='2', minimum_memory='2048')
        new = _flavor(vcpus=8, memory_mb=8192, flavorid='f2',
                      minimum_cpu='3', minimum_memory='3072')
        instance = _instance(old)
        xloud.set_current(instance, 4, 4096)
        # resized to the new flavor: it starts at the new minimums
        self.assertEqual((3, 3072), xloud.current(instance, new))
        # reverted: the old values are found again
        self.assertEqual((4, 4096), xloud.current(instance, old))

    def test_out_of_range_values_are_clamped(self):
        flavor = _flavor(minimum_cpu='2', minimum_memory='2048')
        instance = _instance(flavor, **{
            xloud.SYSMETA_FLAVOR: 'f1', xloud.SYSMETA_VCPUS: '9',
            xloud.SYSMETA_MEMORY_MB: '1'})
        self.assertEqual((4, 2048), xloud.current(instance))
