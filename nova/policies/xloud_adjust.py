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

from oslo_policy import policy

from nova.policies import base


POLICY_ROOT = 'os_compute_api:os-xloud-adjust:%s'

_DOC = """

Admin only by default. To let the members of a server's project adjust
their own servers (within the flavor's minimum and maximum), set in the
policy file::

    "os_compute_api:os-xloud-adjust:%s": "rule:project_member_or_admin"

(``rule:project_reader_or_admin`` for the read-only rule)."""


def _operations(method):
    """Both paths of the API (``routes``), for ``method``."""
    return [{'path': path, 'method': method}
            for path in ('/servers/{server_id}/os-xloud-adjust',
                         '/os-xloud-adjust/{server_id}')]


xloud_adjust_policies = [
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'adjust',
        check_str=base.ADMIN,
        description="Adjust the vCPUs and memory of a running server live, "
                    "between its flavor's minimum and maximum." +
                    _DOC % 'adjust',
        operations=_operations('POST'),
        scope_types=['project']
    ),
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'allow_migration',
        check_str=base.ADMIN,
        description="Let an adjust whose growth does not fit the server's "
                    "host live-migrate the server to a host with room, then "
                    "grow it there (\"allow_migration\": true in the "
                    "body; the adjust rule is checked too). Admin only by "
                    "default: a live migration is felt by the server, the "
                    "network and the hosts it leaves and joins.",
        operations=_operations('POST'),
        scope_types=['project']
    ),
    policy.DocumentedRuleDefault(
        name=POLICY_ROOT % 'show',
        check_str=base.ADMIN,
        description="Show the minimum, current and maximum vCPUs and "
                    "memory of a server." + _DOC % 'show',
        operations=_operations('GET'),
        scope_types=['project']
    ),
]


def list_rules():
    return xloud_adjust_policies
