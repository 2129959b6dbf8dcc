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

"""The request filter that keeps minimum-resources servers where they can
run (nova.scheduler.xloud_filter)."""

from nova.compute import xloud_traits
from nova import objects
from nova.scheduler import request_filter
from nova.scheduler import xloud_filter
from nova import test


def _spec(extra_specs):
    flavor = objects.Flavor(vcpus=4, memory_mb=4096, extra_specs=extra_specs)
    return objects.RequestSpec(flavor=flavor)


class RequireLiveAdjustTest(test.NoDBTestCase):

    def test_minimum_flavor_requires_the_trait(self):
        for specs in ({'minimum_cpu': '1'}, {'minimum_memory': '1024'},
                      {'minimum_cpu': '1', 'minimum_memory': '1024'}):
            spec = _spec(specs)
            self.assertTrue(xloud_filter.require_live_adjust(None, spec))
            self.assertEqual({xloud_traits.LIVE_ADJUST}, spec.root_required)

    def test_other_flavors_are_left_alone(self):
        spec = _spec({'hw:cpu_policy': 'shared'})
        self.assertFalse(xloud_filter.require_live_adjust(None, spec))
        self.assertEqual(set(), spec.root_required)

    def test_it_is_one_of_the_scheduler_s_filters(self):
        self.assertIn(xloud_filter.require_live_adjust,
                      request_filter.ALL_REQUEST_FILTERS)
