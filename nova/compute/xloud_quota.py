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

"""Quotas of a live adjust's increase (``cores``, ``ram``).

Which counting is in force decides whether an increase can go over quota:

``[quota]driver = nova.quota.UnifiedLimitsDriver``
    usage is counted from placement (``class:VCPU``, ``class:MEMORY_MB``):
    an increase claims more there, so it is checked with oslo.limit.
``[quota]count_usage_from_placement = True`` (the DB driver)
    ``cores`` and ``ram`` are counted from placement: checked with
    ``Quotas.check_deltas`` like an upsize of a resize.
the default counting
    ``cores`` and ``ram`` are counted from the instances' flavors, i.e.
    the maximum of a minimum-resources server, which an adjust never goes
    above: the usage counted does not change, no check is needed.

The API checks before it claims, then, after the claim, checks again
with a delta of 0 (usage now includes the claim), as Nova's own quota
recheck of a server create does: of two concurrent increases that fit
only one, at least one fails the recheck and its claim is rolled back.

Only interfaces that are the same in Nova 2024.1 and later are used:
``Quotas.check_deltas``, ``limit.utils.use_unified_limits``, the report
client's ``get_usages_counts_for_limits`` and ``oslo_limit.limit.Enforcer``.
"""

from oslo_limit import exception as limit_exceptions
from oslo_limit import limit
from oslo_log import log as logging

import nova.conf
from nova import exception
from nova.limit import utils as limit_utils
from nova import objects
from nova.objects import quotas as quotas_obj
from nova.scheduler.client import report

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

# our resource names -> (legacy quota name, unified limit name)
_NAMES = {'vcpus': ('cores', 'class:VCPU'),
          'memory_mb': ('ram', 'class:MEMORY_MB')}


def mode():
    """'unified', 'placement' or None (no check: the flavors are counted)."""
    if limit_utils.use_unified_limits():
        return 'unified'
    if CONF.quota.count_usage_from_placement:
        return 'placement'
    return None


def _unified(context, project_id, deltas, claimed):
    def usage(project_id, resource_names):
        counts = report.report_client_singleton(
        ).get_usages_counts_for_limits(context, project_id)
        return {name: counts.get(name[len('class:'):], 0)
                for name in resource_names}

    wanted = {_NAMES[name][1]: delta for name, delta in deltas.items()}
    try:
        limit.Enforcer(usage).enforce(project_id, wanted)
    except limit_exceptions.ProjectOverLimit as e:
        legacy = {v[1]: v[0] for v in _NAMES.values()}
        ours = {v[1]: k for k, v in _NAMES.items()}
        overs = []
        for o in e.over_limit_info_list:
            asked = claimed.get(ours.get(o.resource_name), o.delta)
            overs.append((legacy.get(o.resource_name, o.resource_name),
                          asked, o.current_usage + o.delta - asked, o.limit))
        raise _over(overs)


def _db(context, project_id, user_id, deltas, claimed):
    wanted = {_NAMES[name][0]: delta for name, delta in deltas.items()}
    try:
        objects.Quotas.check_deltas(
            context, wanted, project_id, user_id=user_id,
            check_project_id=project_id, check_user_id=user_id)
    except exception.OverQuota as e:
        quotas = e.kwargs.get('quotas') or {}
        headroom = e.kwargs.get('headroom') or {}
        ours = {v[0]: k for k, v in _NAMES.items()}
        overs = []
        for name in e.kwargs.get('overs') or []:
            allowed = quotas.get(name, headroom.get(name))
            asked = claimed.get(ours.get(name), wanted.get(name, 0))
            try:
                counted = objects.Quotas.count_as_dict(
                    context, name, project_id, user_id=user_id)
                used = counted['project'][name] + wanted.get(name, 0) - asked
            except Exception:
                used = '?'
            overs.append((name, asked, used, allowed))
        raise _over(overs)


def _over(overs):
    """Nova's own "Quota exceeded ..." (403) for [(name, req, used, max)]."""
    cols = list(zip(*sorted(overs))) or [(), (), (), ()]
    return exception.TooManyInstances(
        overs=', '.join(str(x) for x in cols[0]),
        req=', '.join(str(x) for x in cols[1]),
        used=', '.join(str(x) for x in cols[2]),
        allowed=', '.join(str(x) for x in cols[3]))


def check(context, instance, deltas, recheck=False):
    """Raise TooManyInstances when the increase does not fit the quota.

    :param deltas: {'vcpus': n, 'memory_mb': n}, the increases (n > 0)
    :param recheck: after the claim: check the usage (delta 0 each)
    """
    how = mode()
    claimed = {name: delta for name, delta in deltas.items() if delta > 0}
    if how is None or not claimed:
        return
    checked = {name: (0 if recheck else delta)
               for name, delta in claimed.items()}
    project_id, user_id = quotas_obj.ids_from_instance(context, instance)
    if how == 'unified':
        _unified(context, project_id, checked, claimed)
    else:
        _db(context, project_id, user_id, checked, claimed)
