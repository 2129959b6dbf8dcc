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

"""Validators for the XLoud minimum-resources extra specs.

A flavor with ``minimum_cpu`` and/or ``minimum_memory`` boots its servers
with that many vCPUs online and that much memory outside the balloon; the
flavor's ``vcpus`` and ``memory_mb`` stay the maximum the server can be
grown to live. The specs carry no namespace, like ``group_policy``, because
operators already set them under these names.
"""

from nova.api.validation.extra_specs import base


EXTRA_SPEC_VALIDATORS = [
    base.ExtraSpecValidator(
        name='minimum_cpu',
        description=(
            'The number of vCPUs a server of this flavor boots with online '
            'and is claimed for in placement. The flavor\'s ``vcpus`` stays '
            'the maximum the server can be grown to without a reboot. Must '
            'not exceed the flavor\'s ``vcpus``. Only supported by the '
            'libvirt virt driver.'
        ),
        value={
            'type': int,
            'min': 1,
            'description': 'The minimum number of online vCPUs.',
        },
    ),
    base.ExtraSpecValidator(
        name='minimum_memory',
        description=(
            'The memory in MiB a server of this flavor boots with (the rest '
            'up to the flavor\'s ``memory_mb`` is held by the balloon) and '
            'is claimed for in placement. Must not exceed the flavor\'s '
            '``memory_mb``. Only supported by the libvirt virt driver.'
        ),
        value={
            'type': int,
            'min': 1,
            'description': 'The minimum memory, in MiB.',
        },
    ),
]


def register():
    return EXTRA_SPEC_VALIDATORS
