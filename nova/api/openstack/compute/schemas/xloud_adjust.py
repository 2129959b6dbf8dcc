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

"""Schemas of ``/servers/{server_id}/os-xloud-adjust``.

The request body of ``POST``: both counts are JSON integers of at least 1
(no string, float or boolean; a float like ``2.0`` passes as an integer
under the JSON Schema draft of nova 31+, the controller refuses it on every
release), at least one of them is given, ``persist``, ``dry_run`` and
``allow_migration`` are JSON booleans,
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
        'allow_migration': {'type': 'boolean'},
    },
    'anyOf': [
        {'required': ['current_vcpus']},
        {'required': ['current_memory_mb']},
    ],
    'additionalProperties': False,
}

# POST answers 202 with no body; a dry run answers 200 with whether the
# adjust fits and, when it does not, what is short (with allow_migration,
# ``moves``: it fits once the server is live-migrated, and why).
adjust_response = {
    'oneOf': [
        {'type': 'null'},
        {
            'type': 'object',
            'properties': {
                'fits': {'type': 'boolean'},
                'moves': {'type': 'boolean'},
                'reason': {'type': 'string'},
            },
            'required': ['fits'],
            'additionalProperties': False,
        },
    ],
}

# GET takes no query parameters (any given are ignored, as before nova
# validated query strings).
show_query = {
    'type': 'object',
    'properties': {},
    'additionalProperties': True,
}

_bounds = {
    'type': 'object',
    'properties': {
        'minimum': {'type': 'integer', 'minimum': 1},
        'current': {'type': 'integer', 'minimum': 1},
        'maximum': {'type': 'integer', 'minimum': 1},
    },
    'required': ['minimum', 'current', 'maximum'],
    'additionalProperties': False,
}

_count_or_null = {'type': ['integer', 'null'], 'minimum': 0}
_text_or_null = {'type': ['string', 'null']}

# What the guest itself last said (its agent, its balloon statistics).
_guest = {
    'type': 'object',
    'properties': {
        'confirmed': {'type': 'boolean'},
        'vcpus_online': _count_or_null,
        'memory_mb': _count_or_null,
        'usable_mb': _count_or_null,
        'read_at': {'type': ['string', 'null'], 'format': 'date-time'},
        'reason': _text_or_null,
    },
    'required': ['confirmed', 'vcpus_online', 'memory_mb', 'usable_mb',
                 'read_at', 'reason'],
    'additionalProperties': False,
}

# More vCPUs plugged than the guest may use: the host's CPU cap, and why.
_cpu_cap = {
    'oneOf': [
        {'type': 'null'},
        {
            'type': 'object',
            'properties': {
                'vcpus_plugged': {'type': 'integer', 'minimum': 1},
                'vcpus_allowed': {'type': 'integer', 'minimum': 1},
                'vcpus_online': _count_or_null,
                'reason': {'type': 'string'},
            },
            'required': ['vcpus_plugged', 'vcpus_allowed', 'vcpus_online',
                         'reason'],
            'additionalProperties': False,
        },
    ],
}

# Whether the compute's autoscaler sizes the server, why not, its
# settings (from the flavor) and its last decision.
_autoscale = {
    'type': 'object',
    'properties': {
        'enabled': {'type': 'boolean'},
        'reason': {'type': 'string'},
        'settings': {
            'type': 'object',
            'properties': {
                'resources': {'type': 'array', 'items': {
                    'type': 'string', 'enum': ['cpu', 'memory']}},
                'cpu_target': {'type': 'integer'},
                'memory_headroom_mb': {'type': 'integer'},
                'cooldown': {'type': 'integer'},
            },
            'required': ['resources', 'cpu_target', 'memory_headroom_mb',
                         'cooldown'],
            'additionalProperties': False,
        },
        'last_decision': {
            'oneOf': [
                {'type': 'null'},
                {
                    'type': 'object',
                    'properties': {
                        'at': {'type': 'string', 'format': 'date-time'},
                        'action': {'type': 'string', 'enum': [
                            'grow', 'shrink', 'hold', 'refused', 'manual',
                            'off']},
                        'reason': {'type': 'string'},
                    },
                    'required': ['at', 'action', 'reason'],
                    'additionalProperties': False,
                },
            ],
        },
    },
    'required': ['enabled', 'last_decision'],
    'additionalProperties': False,
}

show_response = {
    'type': 'object',
    'properties': {
        'server_id': {'type': 'string', 'format': 'uuid'},
        'vcpus': _bounds,
        'memory_mb': _bounds,
        'guest': _guest,
        'cpu_cap': _cpu_cap,
        'autoscale': _autoscale,
    },
    'required': ['server_id', 'vcpus', 'memory_mb', 'guest', 'cpu_cap',
                 'autoscale'],
    'additionalProperties': False,
}
