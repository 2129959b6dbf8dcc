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

"""The flavor's minimum form: sets or removes the two extra specs.

Nova validates them (its extra spec validator: an integer, within the
flavor, ...) and answers 400 naming the spec; that message is shown in
the form, where the admin can correct the value. Nothing is checked here
that Nova checks: one judge.
"""

from django.utils.translation import gettext_lazy as _

from horizon import exceptions
from horizon import forms
from horizon import messages

from openstack_dashboard import api

SPECS = (('minimum_cpu', 'minimum_cpu'),
         ('minimum_memory', 'minimum_memory'))


def _nova_message(exc):
    """novaclient's error message (Nova's own), or the exception's text."""
    return getattr(exc, 'message', None) or str(exc)


class MinimumForm(forms.SelfHandlingForm):
    flavor_id = forms.CharField(widget=forms.HiddenInput())
    # text, not integer: what Nova makes of the value is Nova's to say
    minimum_cpu = forms.CharField(
        label=_("Minimum vCPUs (minimum_cpu)"), required=False,
        help_text=_("Empty: the server runs the flavor's vCPUs."))
    minimum_memory = forms.CharField(
        label=_("Minimum memory in MiB (minimum_memory)"), required=False,
        help_text=_("Empty: the server runs the flavor's memory."))

    def handle(self, request, data):
        flavor_id = data['flavor_id']
        values = {key: (data[field] or '').strip()
                  for field, key in SPECS}
        to_set = {k: v for k, v in values.items() if v}
        to_unset = [k for k, v in values.items() if not v and
                    k in self.initial.get('present', ())]
        try:
            if to_set:
                api.nova.flavor_extra_set(request, flavor_id, to_set)
            if to_unset:
                api.nova.flavor_extra_delete(request, flavor_id, to_unset)
        except Exception as e:
            status = getattr(e, 'code', None)
            if status == 400:
                # the validator's message names the spec
                msg = _('Nova refused the minimum: %s') % _nova_message(e)
                self.api_error(msg)
                messages.error(request, msg)
                return False
            exceptions.handle(request, _('Unable to set the minimum of '
                                         'the flavor.'))
            return False
        messages.success(request, _('The minimum of the flavor is set.'))
        return True
