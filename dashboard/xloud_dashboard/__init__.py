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

"""Horizon plugin of XLoud Nova: live adjust of a server's vCPUs and
memory, and a flavor's minimum resources.

What it adds to stock Horizon (each part in its own module):

- ``adjust``: the "Adjust resources" row action of the project's
  Instances table, its modal form (GET's range, Check = the dry run,
  Keep after reboot, submit), the row's "Adjust" column following the
  instance action, the "Resources" tab of an instance's detail page;
- ``flavors``: the admin Flavors table's "Minimum resources" action
  (``minimum_cpu``, ``minimum_memory``, Nova's validator answering);
- ``customization``: where these are hooked into Horizon's own tables
  and tab groups (Horizon has no plugin point for a row action of an
  existing table); ``policy``: our rules' defaults for Horizon's checks;
- ``api``: the adjust's HTTP, through ``xloud_sdk`` on an openstacksdk
  connection built from the user's token.
"""
