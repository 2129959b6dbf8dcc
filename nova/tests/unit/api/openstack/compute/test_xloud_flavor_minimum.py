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

"""The flavor extra specs API checks minimums against their flavor."""

from nova.api.openstack.compute import flavors_extraspecs
from nova import context as nova_context
from nova import exception
from nova import objects
from nova import test
from nova.tests.unit.api.openstack import fakes


class FlavorMinimumSpecsTest(test.TestCase):

    def setUp(self):
        super().setUp()
        self.controller = flavors_extraspecs.FlavorExtraSpecsController()
        self.flavor = objects.Flavor(
            nova_context.get_admin_context(), name='m1.scalable', vcpus=4,
            memory_mb=4096, root_gb=1, ephemeral_gb=0, swap=0,
            flavorid='scalable', rxtx_factor=1.0, vcpu_weight=0,
            disabled=False, is_public=True, description=None,
            extra_specs={})
        self.flavor.create()

    def _req(self, version='2.86'):
        return fakes.HTTPRequest.blank(
            '/v2/%s/flavors/scalable/os-extra_specs' % fakes.FAKE_PROJECT_ID,
            use_admin_context=True, version=version)

    def _saved_specs(self):
        return objects.Flavor.get_by_flavor_id(
            nova_context.get_admin_context(), 'scalable').extra_specs

    def test_create_within_the_flavor(self):
        body = {'extra_specs': {'minimum_cpu': '2', 'minimum_memory': '2048'}}
        self.controller.create(self._req(), 'scalable', body=body)
        self.assertEqual({'minimum_cpu': '2', 'minimum_memory': '2048'},
                         self._saved_specs())

    def test_create_above_the_flavor_is_refused(self):
        for version in ('2.1', '2.86'):
            body = {'extra_specs': {'minimum_cpu': '8'}}
            ex = self.assertRaises(exception.ValidationError,
                                   self.controller.create,
                                   self._req(version), 'scalable', body=body)
            self.assertIn("is above the flavor's vcpus (4)", str(ex))
        self.assertEqual({}, self._saved_specs())

    def test_update_to_a_conflict_is_refused(self):
        body = {'extra_specs': {'minimum_memory': '1024'}}
        self.controller.create(self._req(), 'scalable', body=body)
        ex = self.assertRaises(
            exception.ValidationError, self.controller.update, self._req(),
            'scalable', 'hw:mem_page_size', body={'hw:mem_page_size': 'large'})
        self.assertIn("'hw:mem_page_size=large' cannot be combined", str(ex))
        self.assertEqual({'minimum_memory': '1024'}, self._saved_specs())

    def test_invalid_value_at_2_86(self):
        body = {'extra_specs': {'minimum_cpu': '0'}}
        ex = self.assertRaises(exception.ValidationError,
                               self.controller.create, self._req(),
                               'scalable', body=body)
        self.assertIn('less than the min value', str(ex))
