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

"""The adjust form: a dry run ("Check") or the adjust itself.

One form, two buttons: Horizon's modal posts the form by AJAX without
saying which button was pressed, so the Check button sets the hidden
``dry_run`` field before the form is sent. A check answers in the form
(re-rendered with the answer, nothing changes); an adjust closes it and
the Instances table follows the instance action in the row.
"""

from django.utils.translation import gettext_lazy as _

from horizon import forms
from horizon import messages

from xloud_dashboard import api


class AdjustForm(forms.SelfHandlingForm):
    instance_id = forms.CharField(widget=forms.HiddenInput())
    dry_run = forms.BooleanField(widget=forms.HiddenInput(),
                                 required=False)
    vcpus = forms.IntegerField(label=_("vCPUs"), min_value=1)
    memory_mb = forms.IntegerField(label=_("Memory (MiB)"), min_value=1)
    persist = forms.BooleanField(
        label=_("Keep after reboot"), required=False, initial=True,
        help_text=_("Unchecked, the server comes back at its previous "
                    "size when it is rebooted or rebuilt."))

    def __init__(self, request, *args, **kwargs):
        self.range = kwargs.pop('range', None) or {}
        super().__init__(request, *args, **kwargs)
        # the answer of a dry run, shown by the template
        self.check_answer = None
        vcpus = self.range.get('vcpus') or {}
        memory = self.range.get('memory_mb') or {}
        # the browser keeps the value in the range; Nova is the judge
        for name, limits in (('vcpus', vcpus), ('memory_mb', memory)):
            field = self.fields[name]
            if limits.get('maximum'):
                field.widget.attrs['max'] = limits['maximum']
            if limits.get('minimum'):
                field.widget.attrs['min'] = limits['minimum']
            field.help_text = _("minimum %(min)s, maximum %(max)s") % {
                'min': limits.get('minimum', '?'),
                'max': limits.get('maximum', '?')}

    def _changes(self, data):
        """Only what differs from the current values goes to Nova."""
        changes = {}
        for name in ('vcpus', 'memory_mb'):
            current = (self.range.get(name) or {}).get('current')
            if data[name] != current:
                changes[name] = data[name]
        return changes

    def handle(self, request, data):
        server_id = data['instance_id']
        changes = self._changes(data)
        try:
            if data['dry_run']:
                self.check_answer = api.check(
                    request, server_id, persist=data['persist'], **changes)
                # nothing to redirect to: the form shows the answer
                return False
            api.adjust(request, server_id, persist=data['persist'],
                       **changes)
        except api.AdjustError as e:
            msg = _('Unable to adjust the server: %s') % e.message
            if data['dry_run']:
                msg = _('Unable to check the adjust: %s') % e.message
            self.api_error(msg)
            messages.error(request, msg)
            return False
        messages.info(request, _('The adjust of the server to %(vcpus)s '
                                 'vCPUs and %(mem)s MiB has started.') % {
                                     'vcpus': data['vcpus'],
                                     'mem': data['memory_mb']})
        return True
