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

"""The admin Flavors table's "Minimum resources" row action."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from horizon import tables


class MinimumResources(tables.LinkAction):
    name = 'xloud_minimum'
    verbose_name = _("Minimum resources")
    url = 'horizon:admin:xloud_flavor_minimum:minimum'
    classes = ('ajax-modal',)
    icon = 'compress'
    # what Nova checks to set a flavor's extra specs
    policy_rules = (('compute',
                     'os_compute_api:os-flavor-extra-specs:create'),)

    def get_link_url(self, datum):
        return reverse(self.url, args=[self.table.get_object_id(datum)])
