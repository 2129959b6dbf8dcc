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

"""Request body of ``POST /servers/{server_id}/os-xloud-adjust``.

Both counts are JSON integers of at least 1 (Nova's Draft 4 validator
takes no string, float (not even ``2.0``) or boolean for ``integer``), at
least one of them is given, ``persist`` and ``dry_run`` are JSON booleans,
and nothing else is accepted.
"""

_count = {'type': 'integer', 'minimum': 1}

adjust = {
    'type': 'object',
    'properties': {
        'current_vcpus': _count,
        'current_memory_mb': _count,
        'persist': {'type': 'boolean'},
        'dry_run': {'type': 'boolean'},
    },
    'anyOf': [
        {'required': ['current_vcpus']},
        {'required': ['current_memory_mb']},
    ],
    'additionalProperties': False,
}
