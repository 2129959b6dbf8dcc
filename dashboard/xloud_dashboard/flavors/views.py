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

"""The flavor's minimum form's view: the current specs as initial."""

from django.urls import reverse
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from horizon import exceptions
from horizon import forms

from openstack_dashboard import api

from xloud_dashboard.flavors import forms as minimum_forms

INDEX_URL = 'horizon:admin:flavors:index'


class MinimumView(forms.ModalFormView):
    form_class = minimum_forms.MinimumForm
    form_id = 'xloud_minimum_form'
    modal_id = 'xloud_minimum_modal'
    template_name = 'xloud_dashboard/minimum.html'
    page_title = _("Minimum resources")
    submit_label = _("Save")
    success_url = reverse_lazy(INDEX_URL)

    def get_initial(self):
        flavor_id = self.kwargs['flavor_id']
        try:
            flavor = api.nova.flavor_get(self.request, flavor_id)
            specs = api.nova.flavor_get_extras(self.request, flavor_id,
                                               raw=True)
        except Exception:
            exceptions.handle(self.request,
                              _('Unable to retrieve the flavor.'),
                              redirect=reverse(INDEX_URL))
        self.flavor = flavor
        initial = {'flavor_id': flavor_id,
                   'present': [k for k, _ in minimum_forms.SPECS
                               if k in specs]}
        for field, key in minimum_forms.SPECS:
            initial[field] = specs.get(key, '')
        return initial

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context['flavor'] = getattr(self, 'flavor', None)
        context['submit_url'] = reverse(
            'horizon:admin:xloud_flavor_minimum:minimum',
            args=[self.kwargs['flavor_id']])
        return context
