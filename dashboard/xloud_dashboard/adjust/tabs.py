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

"""The "Resources" tab of an instance's detail page: GET's minimum,
current and maximum, and what the guest and the autoscaler say when Nova
tells.
"""

from django.utils.translation import gettext_lazy as _

from horizon import exceptions
from horizon import tabs

from xloud_dashboard import api
from xloud_dashboard import policy


class ResourcesTab(tabs.Tab):
    name = _("Resources")
    slug = 'xloud_resources'
    template_name = 'xloud_dashboard/_detail_resources.html'
    policy_rules = (('compute', policy.SHOW),)

    def get_context_data(self, request):
        instance = self.tab_group.kwargs['instance']
        context = {'instance': instance, 'range': None, 'error': None}
        try:
            context['range'] = api.show(request, instance.id)
        except api.AdjustError as e:
            context['error'] = e.message
        except Exception:
            exceptions.handle(request, ignore=True)
            context['error'] = _('Unable to show the resources.')
        return context
