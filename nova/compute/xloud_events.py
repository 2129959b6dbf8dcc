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

"""The live adjust's instance action events, ended on the adjust's behalf.

An adjust's event (``compute_xloud_adjust``) is started and ended by its
compute (``wrap_instance_event``). When that compute cannot end it (it
restarted in the middle, the request never reached it, it is gone), the
one who finds out ends it here with what happened: the compute after a
restart or a timeout, or the new host of an evacuated server
(``xloud_manager``), a destination that lost the server to another task
(``xloud_move``).
"""

from oslo_log import log as logging
from oslo_utils import timeutils

from nova.compute import xloud
from nova.compute import xloud_guest_view
from nova import exception
from nova import objects

LOG = logging.getLogger(__name__)


def unfinished(context, instance):
    """Request ids of the server's adjusts whose event never ended."""
    found = []
    actions = objects.InstanceActionList.get_by_instance_uuid(
        context, instance.uuid)
    for action in actions:
        if action.action not in (xloud.ACTION, xloud.AUTOSCALE_ACTION):
            continue
        events = objects.InstanceActionEventList.get_by_action(
            context, action.id)
        if any(e.event == xloud.EVENT and e.finish_time is None
               for e in events):
            found.append(action.request_id)
    return found


def finish(context, instance, request_id):
    """End the adjust's event as a success (its values were recorded)."""
    ctxt = context.elevated()
    ctxt.request_id = request_id
    try:
        objects.InstanceActionEvent.event_finish(
            ctxt, instance.uuid, xloud.EVENT, want_result=False)
    except (exception.InstanceActionNotFound,
            exception.InstanceActionEventNotFound):
        pass


def fail(context, instance, request_id, message, host):
    """End the adjust's event as an Error telling ``message``.

    A compute killed before it started the event (the cast lost, or
    received and not begun) leaves none: it is started here, on behalf of
    ``host``. An event without its host breaks the instance action API
    (its response schema wants a string).
    """
    ctxt = context.elevated()
    ctxt.request_id = request_id
    # A traceback makes the event an Error; there is none, the message is
    # the story.
    kw = {'exc_val': message, 'exc_tb': message, 'want_result': False}
    try:
        try:
            objects.InstanceActionEvent.event_finish_with_failure(
                ctxt, instance.uuid, xloud.EVENT, **kw)
        except exception.InstanceActionEventNotFound:
            objects.InstanceActionEvent.event_start(
                ctxt, instance.uuid, xloud.EVENT, want_result=False,
                host=host)
            objects.InstanceActionEvent.event_finish_with_failure(
                ctxt, instance.uuid, xloud.EVENT, **kw)
    except exception.InstanceActionNotFound:
        pass


# (instance uuid, request id, event) of notes whose end could not be
# written (the database or the conductor did not answer): ended by the next
# periodic pass, ``finish_notes``.
_NOTES_TO_FINISH = []
NOTE_EVENTS = (xloud_guest_view.EVENT_CONFIRMED,
               xloud_guest_view.EVENT_UNCONFIRMED,
               xloud_guest_view.EVENT_CAPPED)


def note(context, instance, event, host):
    """Add to the current adjust's action a successful event ``event``.

    Its name is the fact (the guest confirmed or not, the host caps the
    guest's CPU time); GET ``os-xloud-adjust`` says why. A successful
    event carries no words in Nova (only a failed one has details), and a
    failed one would mark the whole action failed: these are facts of a
    successful adjust. Started and ended in two writes: an outage between
    them leaves the end to ``finish_notes``, never an event open for good.
    """
    try:
        objects.InstanceActionEvent.event_start(
            context, instance.uuid, event, want_result=False, host=host)
    except (exception.InstanceActionNotFound,
            exception.InstanceActionEventNotFound):
        return
    except Exception as e:
        # nothing written: the adjust's own event tells the outcome
        LOG.warning('Could not add the event %s to the adjust: %s', event,
                    e, instance=instance)
        return
    try:
        objects.InstanceActionEvent.event_finish(
            context, instance.uuid, event, want_result=False)
    except (exception.InstanceActionNotFound,
            exception.InstanceActionEventNotFound):
        pass
    except Exception as e:
        LOG.warning('Could not end the event %s of the adjust (%s): it is '
                    'ended by the next periodic pass', event, e,
                    instance=instance)
        _NOTES_TO_FINISH.append((instance.uuid, context.request_id, event))


def finish_notes(context, instance=None):
    """End the notes left open: those ``note`` could not end, and, for
    ``instance`` (at a compute's start, which lost that list), every open
    note of its adjusts.
    """
    todo = list(_NOTES_TO_FINISH)
    if instance is not None:
        for action in objects.InstanceActionList.get_by_instance_uuid(
                context, instance.uuid):
            if action.action not in (xloud.ACTION, xloud.AUTOSCALE_ACTION):
                continue
            todo += [(instance.uuid, action.request_id, e.event)
                     for e in objects.InstanceActionEventList.get_by_action(
                         context, action.id)
                     if e.event in NOTE_EVENTS and e.finish_time is None]
    for item in todo:
        uuid, request_id, event = item
        ctxt = context.elevated()
        ctxt.request_id = request_id
        try:
            objects.InstanceActionEvent.event_finish(
                ctxt, uuid, event, want_result=False)
        except (exception.InstanceActionNotFound,
                exception.InstanceActionEventNotFound):
            pass
        except Exception as e:
            LOG.warning('Could not end the event %s of adjust %s yet: %s',
                        event, request_id, e)
            continue
        if item in _NOTES_TO_FINISH:
            _NOTES_TO_FINISH.remove(item)


def began(context, instance, request_id):
    """Whether the adjust's compute started its event."""
    action = objects.InstanceAction.get_by_request_id(
        context, instance.uuid, request_id)
    return bool(action) and any(
        e.event == xloud.EVENT for e in
        objects.InstanceActionEventList.get_by_action(context, action.id))


def age(context, instance, request_id):
    """Seconds since the adjust ``request_id`` began.

    From its instance action, which the API starts before the cast; an
    API that failed before that leaves none, and the server's last update
    (the task state the API took) tells.
    """
    action = objects.InstanceAction.get_by_request_id(
        context, instance.uuid, request_id)
    started = (action and action.start_time or instance.updated_at or
               instance.created_at)
    # the database's times carry their zone, utcnow() none
    return timeutils.delta_seconds(timeutils.normalize_time(started),
                                   timeutils.utcnow())
