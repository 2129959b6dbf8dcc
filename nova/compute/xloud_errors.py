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

"""Errors of the live adjust (``os-xloud-adjust``).

Kept apart from ``nova.exception`` so that no upstream file changes for
them; each carries the HTTP code the API answers with.
"""

from nova import exception
from nova.i18n import _


class AdjustOutOfRange(exception.Invalid):
    msg_fmt = _("%(resource)s=%(value)d is outside the range allowed for "
                "this server: from %(minimum)d (the flavor's minimum) to "
                "%(maximum)d (the flavor's value).")


class AdjustConflict(exception.NovaException):
    """Base of the 409 answers."""
    code = 409
    msg_fmt = _("The server cannot be adjusted now: %(reason)s")


class AdjustNoCapacity(AdjustConflict):
    msg_fmt = _("The host of server %(instance_uuid)s has no room for "
                "%(resources)s: nothing was changed.")


class AdjustNotSupported(AdjustConflict):
    msg_fmt = _("The compute service of server %(instance_uuid)s on host "
                "%(host)s cannot adjust it live: %(reason)s")


class AdjustInProgress(AdjustConflict):
    msg_fmt = _("Server %(instance_uuid)s has a task in progress (task "
                "state %(task_state)s): wait for it to finish, then try "
                "again.")


class AdjustGuestError(exception.NovaException):
    """The hypervisor did not do all that was asked (compute side)."""
    msg_fmt = _("The hypervisor did not apply all of the adjust: "
                "%(reason)s. The server runs with vcpus=%(vcpus)s "
                "memory_mb=%(memory_mb)s, and that is what is recorded.")


def actual_task_state(error):
    """The task state an UnexpectedTaskStateError found, as a plain name.

    Nova's database layer passes ``actual`` as a dict of the fields that
    did not match ({'task_state': 'resize_prep'}); older callers pass the
    value itself.
    """
    actual = error.kwargs.get('actual')
    if isinstance(actual, dict):
        actual = actual.get('task_state', actual)
    return actual if actual is not None else 'unknown'


def take_task_state(instance, task_state):
    """Set the server's task state if it has none, or raise a 409.

    A compare-and-swap on the instances row (``expected_task_state``):
    of two requests taking one server only one gets past it, and the
    other gets AdjustInProgress naming the task it lost to. The save
    carries the task state alone; the caller writes its markers in a
    second save (``xloud_api.take_guard`` says why).
    """
    instance.task_state = task_state
    try:
        instance.save(expected_task_state=[None])
    except exception.UnexpectedTaskStateError as e:
        instance.task_state = None
        raise AdjustInProgress(instance_uuid=instance.uuid,
                               task_state=actual_task_state(e))
