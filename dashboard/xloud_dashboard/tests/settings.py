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

"""Horizon's own test settings, with our enabled files as an operator's
``local/enabled`` copy would add them, and Horizon's real policy files
(its copy of Nova's defaults, which ours join).
"""

import os

import openstack_dashboard
from openstack_dashboard import enabled
from openstack_dashboard.test.settings import *  # noqa: F401,F403
from openstack_dashboard.test.settings import HORIZON_CONFIG
from openstack_dashboard.test.settings import INSTALLED_APPS
from openstack_dashboard.utils import settings as settings_utils

from xloud_dashboard import enabled as xloud_enabled

# again with ours: it recomputes the panels and tabs from all the files
settings_utils.update_dashboards([enabled, xloud_enabled], HORIZON_CONFIG,
                                 INSTALLED_APPS)
INSTALLED_APPS = list(dict.fromkeys(INSTALLED_APPS))

POLICY_FILES_PATH = os.path.join(
    os.path.dirname(openstack_dashboard.__file__), 'conf')
POLICY_FILES = {'identity': 'keystone_policy.yaml',
                'compute': 'nova_policy.yaml'}
