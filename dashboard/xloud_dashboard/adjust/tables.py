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

"""What the adjust adds to the project's Instances table.

``AdjustResources``: the row action opening the form, shown only where
Horizon's policy check of our rule passes (Nova's policy file, given to
Horizon, decides as nova-api does). ``AdjustColumn``: the last adjust
started from this session, read from its instance action. It is one of
the table's status columns, so a row whose adjust is waiting or running
is a "warning" row that Horizon's ajax update re-reads every poll
interval, like a resizing server, until the action ends.
"""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from horizon import exceptions
from horizon import tables

from xloud_dashboard import api
from xloud_dashboard import policy

COLUMN = 'xloud_adjust'


class AdjustResources(tables.LinkAction):
    name = 'xloud_adjust'
    verbose_name = _("Adjust resources")
    url = 'horizon:project:xloud_adjust:adjust'
    classes = ('ajax-modal',)
    icon = 'arrows-v'
    policy_rules = (('compute', policy.ADJUST),)

    def get_policy_target(self, request, datum=None):
        # Nova checks the server's project (rule:project_member_or_admin)
        return {'project_id': getattr(datum, 'tenant_id', None)}

    def get_link_url(self, datum):
        return reverse(self.url, args=[self.table.get_object_id(datum)])

    def allowed(self, request, instance=None):
        # a live adjust needs a running guest
        return instance is None or instance.status in ('ACTIVE',)


STATE_TEXT = {
    'waiting': _("Adjusting (waiting)"),
    'running': _("Adjusting"),
    'done': _("Adjusted"),
    'failed': _("Adjust failed"),
}


class AdjustColumn(tables.Column):
    """State of the row's server's last adjust started here, and what."""

    # waiting and running keep the row polled; the end stops it (a failed
    # adjust leaves the server as it was, not in error)
    STATUS_CHOICES = (('waiting', None), ('running', None),
                      ('done', True), ('failed', True), ('', True),
                      ('none', True))

    def __init__(self, **kwargs):
        super().__init__(self.progress, verbose_name=_("Adjust"),
                         status=True, status_choices=self.STATUS_CHOICES,
                         empty_value='', sortable=False, **kwargs)

    def progress(self, instance):
        """(state, text) of the server's adjust, read once per table (a
        request): kept on the table, since each table gets a shallow copy
        of the class's column, whose own attributes every request shares.
        """
        cache = self.table.__dict__.setdefault('_xloud_adjust_progress', {})
        if instance.id not in cache:
            request = self.table.request
            try:
                cache[instance.id] = api.progress(request, instance.id)
            except Exception:
                exceptions.handle(request, ignore=True)
                cache[instance.id] = None
        return cache[instance.id]

    def get_raw_data(self, datum):
        state = self.progress(datum)
        return state[0] if state else ''

    def get_data(self, datum):
        state = self.progress(datum)
        if not state:
            return ''
        label = STATE_TEXT.get(state[0], state[0])
        if state[0] == 'done':
            return '%s: %s' % (label, _current(self.table.request, datum))
        if state[1] and state[1] != state[0]:
            return '%s: %s' % (label, state[1])
        return label


def _current(request, instance):
    """What the server runs now, from GET (the row's "new size")."""
    try:
        rng = api.show(request, instance.id)
    except api.AdjustError as e:
        return e.message
    return _("%(vcpus)s vCPUs, %(mem)s MiB") % {
        'vcpus': rng['vcpus']['current'], 'mem': rng['memory_mb']['current']}
