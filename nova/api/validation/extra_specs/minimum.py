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

With them, those of the autoscaler's opt-in (``xloud:autoscale`` and its
tuning, ``nova.compute.xloud_autoscale``): the same flavors, the same
entry point. What needs the whole flavor (a minimum for each resource
autoscaled) and their values (so that the error names the spec, which
the generic checks of ``base`` do not) are checked by
``nova.compute.xloud.validate_flavor``.

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
    base.ExtraSpecValidator(
        name='xloud:autoscale',
        description=(
            'Let the compute\'s autoscaler size the servers of this flavor '
            'by their load, live, within [minimum, flavor]: ``cpu``, '
            '``memory`` or ``cpu,memory``. Each needs its minimum spec '
            '(``minimum_cpu``, ``minimum_memory``). A server\'s metadata '
            '``xloud:autoscale=off`` turns it off for that server.'
        ),
        # its values are checked with the flavor's minimums, by
        # nova.compute.xloud.validate_flavor: its error names the spec
        value={
            'type': str,
            'description': 'The resources the autoscaler sizes: cpu, '
                           'memory or cpu,memory.',
        },
    ),
    base.ExtraSpecValidator(
        name='xloud:autoscale_cpu_target',
        description=(
            'The share (percent) of its current vCPUs\' time a server may '
            'use before the autoscaler grows it; it shrinks it to the vCPUs '
            'that keep its peak under this share. Default 70.'
        ),
        value={'type': str,
               'description': 'Percent of the current vCPUs, 10 to 95.'},
    ),
    base.ExtraSpecValidator(
        name='xloud:autoscale_memory_headroom_mb',
        description=(
            'Free memory (MiB, by the guest\'s balloon statistics) a server '
            'keeps: under it the autoscaler grows the server to its use '
            'plus twice this. Default 256.'
        ),
        value={'type': str,
               'description': 'MiB kept free in the guest, at least 64.'},
    ),
    base.ExtraSpecValidator(
        name='xloud:autoscale_cooldown',
        description=(
            'Seconds a server stays at its size after a growth or a manual '
            'adjust before the autoscaler may shrink it (a manual adjust '
            'holds it off the server for this long). Default 300.'
        ),
        value={'type': str,
               'description': 'Seconds, 0 or more.'},
    ),
]


def register():
    return EXTRA_SPEC_VALIDATORS
