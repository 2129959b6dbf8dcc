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

"""The adjust form's view: the server's range from GET, then the form."""

from django.urls import reverse
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from horizon import exceptions
from horizon import forms
from horizon.utils import memoized

from xloud_dashboard.adjust import forms as adjust_forms
from xloud_dashboard import api

INDEX_URL = 'horizon:project:instances:index'


class AdjustView(forms.ModalFormView):
    form_class = adjust_forms.AdjustForm
    form_id = 'xloud_adjust_form'
    modal_id = 'xloud_adjust_modal'
    template_name = 'xloud_dashboard/adjust.html'
    page_title = _("Adjust resources")
    submit_label = _("Adjust")
    success_url = reverse_lazy(INDEX_URL)

    @memoized.memoized_method
    def get_range(self):
        """GET os-xloud-adjust; a refusal (403 under the default policy
        for a member) goes back to the Instances page with Horizon's
        error message.
        """
        instance_id = self.kwargs['instance_id']
        try:
            return api.show(self.request, instance_id)
        except api.AdjustError as e:
            exceptions.handle(
                self.request,
                _('Unable to show the resources of the server: %s')
                % e.message, redirect=reverse(INDEX_URL))

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs['range'] = self.get_range()
        return kwargs

    def get_initial(self):
        rng = self.get_range()
        return {'instance_id': self.kwargs['instance_id'],
                'vcpus': rng['vcpus']['current'],
                'memory_mb': rng['memory_mb']['current'],
                'persist': True, 'dry_run': False}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context['range'] = self.get_range()
        context['submit_url'] = reverse('horizon:project:xloud_adjust:adjust',
                                        args=[self.kwargs['instance_id']])
        return context
