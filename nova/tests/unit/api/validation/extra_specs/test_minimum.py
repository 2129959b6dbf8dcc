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

import importlib.metadata

from nova.api.validation.extra_specs import minimum
from nova.api.validation.extra_specs import validators
from nova import exception
from nova import test


class TestMinimumValidators(test.NoDBTestCase):

    def test_registered_through_the_entry_point(self):
        # The validator is found by stevedore from the installed metadata,
        # so this fails if the patched setup.cfg did not reach the install.
        eps = importlib.metadata.entry_points(
            group='nova.api.extra_spec_validators')
        self.assertEqual(
            'nova.api.validation.extra_specs.minimum',
            {ep.name: ep.value for ep in eps}.get('minimum'))
        self.assertIn('minimum_cpu', validators.VALIDATORS)
        self.assertIn('minimum_memory', validators.VALIDATORS)

    def test_valid_values(self):
        for name, value in (
            ('minimum_cpu', '1'), ('minimum_cpu', '64'),
            ('minimum_memory', '1'), ('minimum_memory', '2048'),
        ):
            validators.validate(name, value)

    def test_invalid_values(self):
        for name, value, message in (
            ('minimum_cpu', '0', 'less than the min value'),
            ('minimum_cpu', '-2', 'less than the min value'),
            ('minimum_cpu', 'two', 'not a valid integer'),
            ('minimum_cpu', '1.5', 'not a valid integer'),
            ('minimum_memory', '0', 'less than the min value'),
            ('minimum_memory', '2G', 'not a valid integer'),
        ):
            ex = self.assertRaises(
                exception.ValidationError, validators.validate, name, value)
            self.assertIn(message, str(ex))

    def test_descriptions_for_the_docs(self):
        for validator in minimum.register():
            self.assertTrue(validator.description)
            self.assertIn('description', validator.value)
