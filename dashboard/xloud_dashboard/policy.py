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

"""Our Nova policy rules' defaults, for Horizon's own policy checks.

Horizon checks a rule against the defaults of its copy of Nova's policy
(``DEFAULT_POLICY_FILES['compute']``) and the operator's overrides
(``POLICY_FILES['compute']`` and ``POLICY_DIRS``). Its copy is upstream
Nova's, without our rules; oslo.policy denies a rule it does not know, so
the action would be hidden from everybody. We register Nova's own
defaults of our rules (``nova/policies/xloud_adjust.py``: admin) as
defaults, so that the operator's Nova policy file, given to Horizon as
for any other rule, overrides them exactly as it does in nova-api
(``doc/self-service-policy.yaml`` lets members adjust their servers).

Horizon builds its enforcers with oslo.policy's ``enforce_new_defaults``
off, which ORs each default with its deprecated one: Nova's
``project_member_or_admin`` then lets a project's *reader* pass
(``admin_or_owner``), where Nova itself (new defaults enforced, its
default since 2023.1) answers 403. Horizon would show a reader an action
Nova refuses. The compute enforcer therefore follows Nova's own setting,
``XLOUD_NOVA_ENFORCE_NEW_DEFAULTS`` (True unless a cloud's Nova still runs
with ``[oslo_policy] enforce_new_defaults = False``).
"""

from django.conf import settings
from oslo_policy import policy as oslo_policy

ADJUST = 'os_compute_api:os-xloud-adjust:adjust'
SHOW = 'os_compute_api:os-xloud-adjust:show'

# as nova/policies/xloud_adjust.py (base.ADMIN)
DEFAULTS = (
    oslo_policy.RuleDefault(ADJUST, 'rule:context_is_admin',
                            description='Adjust a server live.'),
    oslo_policy.RuleDefault(SHOW, 'rule:context_is_admin',
                            description="Show a server's range."),
)

_registered = False


def register_defaults():
    """Wrap openstack_auth's loading of the compute defaults so that ours
    join them in every enforcer it builds (it builds them lazily, and
    again after ``policy.reset()``).
    """
    global _registered
    if _registered:
        return
    from openstack_auth import policy as auth_policy
    original = auth_policy._load_default_rules

    def load_default_rules(service, enforcer):
        original(service, enforcer)
        if service == 'compute':
            enforcer.register_defaults(DEFAULTS)
            enforcer.conf.set_override(
                'enforce_new_defaults', getattr(
                    settings, 'XLOUD_NOVA_ENFORCE_NEW_DEFAULTS', True),
                group='oslo_policy')

    auth_policy._load_default_rules = load_default_rules
    auth_policy.reset()
    _registered = True
