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

"""A panel without a menu entry: it only gives the adjust form its URLs
under the project dashboard (``/project/xloud_adjust/<id>/``); people
reach it from the Instances table's row action.
"""

from django.utils.translation import gettext_lazy as _

import horizon


class AdjustPanel(horizon.Panel):
    name = _("Adjust resources")
    slug = 'xloud_adjust'
    nav = False
