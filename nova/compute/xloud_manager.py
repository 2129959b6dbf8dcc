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

"""The compute side of a live adjust.

``XloudComputeEndpoint`` is an extra oslo.messaging endpoint of the compute
service (namespace ``xloud``, version 1.0; see ``xloud_rpcapi``), so the
live adjust never touches upstream's compute RPC versions. The compute
manager registers it (``endpoints()``) and calls two more hooks:
``init_host()`` after a restart, and ``after_regeneration()`` after a
reboot, a start, a rebuild (evacuation included) and a resize revert, when
the driver has defined the guest again from its persisted values.

The rule everywhere: after asking the hypervisor, read back what the guest
really runs, record *that* in system metadata and make placement hold
*that*, whatever the hypervisor said. The memory read back is what the
host lets the guest use (its memory cgroup limit, see
``nova.virt.libvirt.xloud_memory``), not what the guest reports.
"""

from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_utils import excutils

from nova.compute import power_state
from nova.compute import utils as compute_utils
from nova.compute import xloud
from nova.compute import xloud_errors
from nova.compute import xloud_placement
from nova.compute import xloud_rpcapi
from nova import exception
from nova.notifications.objects import xloud_adjust as xloud_notification
from nova import objects
from nova.objects import fields

LOG = logging.getLogger(__name__)


def driver_supports(driver):
    """True when the virt driver can adjust its guests live."""
    try:
        return bool(driver.xloud_can_adjust())
    except (AttributeError, NotImplementedError):
        return False


def endpoints(manager):
    """The endpoints the compute manager adds to its RPC server."""
    return [XloudComputeEndpoint(manager)]


def _concerned(instance):
    meta = instance.system_metadata or {}
    return (xloud.has_minimum(instance.flavor) or
            xloud.SYSMETA_FLAVOR in meta or xloud.has_live(instance) or
            xloud.SYSMETA_ADJUSTING in meta)


def _read(manager, instance, enforce=False):
    """(vcpus, memory_mb) the guest runs, or None if it cannot be read.

    The memory is what the host lets the guest use (its memory limit, or
    all its memory when it has none), never the balloon size its driver
    reports alone. With ``enforce``, a guest that should run under a
    memory limit and has none (started before the limit existed) is put
    under one at the memory it was recorded to run, if the host sees it
    within that; otherwise it keeps running unlimited and what it may use
    (its maximum) is what is recorded and claimed.
    """
    try:
        real = manager.driver.xloud_read(instance)
        if enforce and 'limit_mb' in real and real['limit_mb'] is None:
            memory_mb = xloud.live(instance)[1]
            LOG.warning('The guest runs without its memory limit: putting '
                        'it under one for %d MiB', memory_mb,
                        instance=instance)
            real = manager.driver.xloud_adjust(
                instance, memory_mb=memory_mb, persist=False)
            for message in real.get('errors') or []:
                LOG.warning('Could not limit the guest\'s memory: %s',
                            message, instance=instance)
    except NotImplementedError:
        return None
    except Exception as e:
        LOG.info('Could not read the running vCPUs and memory: %s', e,
                 instance=instance)
        return None
    return real['vcpus'], real['memory_mb']


def reconcile(manager, context, instance, running=True):
    """Make system metadata and placement tell what the guest runs.

    Used where the guest may run something else than recorded: after a
    restart of the compute in the middle of an adjust, and after the guest
    was regenerated (reboot, start). A guest that is not running will be
    regenerated from the persisted values, so those are what counts.
    """
    real = _read(manager, instance, enforce=True) if running else None
    if real is None:
        if not running or not driver_supports(manager.driver):
            xloud.clear_live(instance)
        real = xloud.live(instance)
    else:
        xloud.record(instance, real[0], real[1], persist=False)
    instance.save()
    xloud_placement.follow(context, manager.reportclient, instance, *real,
                           host=manager.host)
    return real


class XloudComputeEndpoint(object):
    """Server side of ``nova.compute.xloud_rpcapi``."""

    target = messaging.Target(namespace=xloud_rpcapi.NAMESPACE,
                              version=xloud_rpcapi.VERSION)

    def __init__(self, manager):
        self.manager = manager

    def capabilities(self, context):
        if driver_supports(self.manager.driver):
            return {'adjust': True, 'reason': None}
        return {'adjust': False,
                'reason': 'the %s virt driver cannot adjust a server live' %
                          type(self.manager.driver).__name__}

    def adjust(self, context, instance, vcpus, memory_mb, persist,
               request_id):
        try:
            # The message carries the server as it was when the API sent
            # it. One delivered late (it waited in the queue of a compute
            # that died, and init_host has since closed its adjust) must
            # be judged on what the database says now, or it would change
            # the guest again with nobody to record it.
            instance.refresh()
        except exception.InstanceNotFound:
            LOG.info('Instance was deleted before its adjust began',
                     instance=instance)
            return
        if (instance.task_state != xloud.TASK_STATE or
                xloud.adjusting(instance) != request_id):
            # A restart of this compute already closed this adjust
            # (init_host): the request is stale.
            LOG.warning('Dropping stale adjust request %s', request_id,
                        instance=instance)
            return
        try:
            with compute_utils.EventReporter(
                    context, xloud.EVENT, self.manager.host,
                    instance.uuid, graceful_exit=True):
                self._adjust(context, instance, vcpus, memory_mb, persist)
        except xloud_errors.AdjustGuestError as e:
            LOG.warning('Live adjust ended in error: %s', e,
                        instance=instance)
        except exception.InstanceNotFound:
            LOG.info('Instance was deleted during its adjust',
                     instance=instance)
        except Exception:
            LOG.exception('Live adjust failed', instance=instance)

    def _adjust(self, context, instance, vcpus, memory_mb, persist):
        requested = list(xloud.given(vcpus, memory_mb))
        before = xloud.live(instance)
        asked = (before[0] if vcpus is None else vcpus,
                 before[1] if memory_mb is None else memory_mb)
        asked_persist = persist

        def notify(phase, after, exc=None):
            xloud_notification.notify(
                context, instance, self.manager.host, phase, before, after,
                asked_persist, exception=exc)

        notify(fields.NotificationPhase.START, asked)
        try:
            real = self._change(context, instance, vcpus, memory_mb,
                                persist, requested, before)
        except xloud_errors.AdjustGuestError as e:
            notify(fields.NotificationPhase.ERROR,
                   (e.kwargs['vcpus'], e.kwargs['memory_mb']), e)
            raise
        except Exception as e:
            with excutils.save_and_reraise_exception():
                notify(fields.NotificationPhase.ERROR,
                       xloud.live(instance), e)
        notify(fields.NotificationPhase.END, real)

    def _change(self, context, instance, vcpus, memory_mb, persist,
                requested, before):
        """Change the guest, record and claim what it runs; return that."""
        error = None
        real = None
        try:
            result = self.manager.driver.xloud_adjust(
                instance, vcpus=vcpus, memory_mb=memory_mb, persist=persist)
            real = (result['vcpus'], result['memory_mb'])
            error = '; '.join(result.get('errors') or []) or None
        except Exception as e:
            LOG.exception('The virt driver failed to adjust the guest',
                          instance=instance)
            error = str(e) or type(e).__name__
            real = _read(self.manager, instance)
            # The driver stopped half-way: its persistent definition is
            # unknown, only what runs is; the persisted values stay.
            persist = False
        if real is None:
            # Nothing could be read back: the guest was not (or could not
            # be seen to be) changed, keep what was last confirmed.
            real = before
        xloud.record(instance, real[0], real[1], persist,
                           requested=requested)
        instance.task_state = None
        instance.system_metadata.pop(xloud.SYSMETA_ADJUSTING, None)
        instance.save(expected_task_state=[xloud.TASK_STATE])
        # Releases a decrease, returns an increase that did not happen.
        xloud_placement.follow(context, self.manager.reportclient, instance,
                               real[0], real[1])
        LOG.info('Live adjust: the guest runs vcpus=%d memory_mb=%d',
                 real[0], real[1], instance=instance)
        if error:
            raise xloud_errors.AdjustGuestError(
                reason=error, vcpus=real[0], memory_mb=real[1])
        return real


def init_host(manager, context):
    """After a compute restart: reconcile the live-adjustable servers.

    No server stays in our task state, and the allocation of every one
    holds what it runs.
    """
    try:
        # Not get_by_host: upstream's init_host has just made that query,
        # without the attributes needed here.
        instances = objects.InstanceList.get_by_filters(
            context, {'host': manager.host, 'deleted': False},
            expected_attrs=['system_metadata', 'flavor'])
    except Exception:
        LOG.exception('Could not list the instances to reconcile')
        return
    for instance in instances:
        try:
            if instance.host != manager.host or not _concerned(instance):
                continue
            _recover(manager, context, instance)
        except Exception:
            LOG.exception('Could not reconcile the adjust state',
                          instance=instance)


def _recover(manager, context, instance):
    request_id = xloud.adjusting(instance)
    running = instance.power_state == power_state.RUNNING
    # What the last adjust recorded, before reconcile() replaces it with
    # what the guest runs.
    recorded = xloud.live(instance)
    if request_id:
        LOG.info('Finishing the adjust %s interrupted by a restart',
                 request_id, instance=instance)
        instance.system_metadata.pop(xloud.SYSMETA_ADJUSTING, None)
        if instance.task_state == xloud.TASK_STATE:
            instance.task_state = None
    real = reconcile(manager, context, instance, running=running)
    if request_id:
        _fail_event(context, instance, request_id,
                    'The compute service restarted during the adjust; the '
                    'guest runs vcpus=%d memory_mb=%d.' % real,
                    manager.host)
    _close_events(context, instance, request_id, tuple(recorded),
                  tuple(real), manager.host)


def _close_events(context, instance, request_id, recorded, real, host):
    """End every unfinished adjust event of the server with the truth.

    An adjust whose marker is gone recorded its values: its compute saved
    them (and cleared the task state) in one save, and only then ended the
    event. A compute killed between that save and the end of the event
    leaves the event unfinished, with no marker to tell: so the events
    themselves are looked at. Such an event ends as a success when the
    guest runs what was recorded, else as an error saying the compute
    restarted and what the guest runs (which is now recorded). The
    marker's own adjust is ended by _fail_event().
    """
    try:
        unfinished = _unfinished_events(context, instance)
    except Exception:
        LOG.exception('Could not list the adjust events to finish',
                      instance=instance)
        return
    for action_request_id in unfinished:
        if action_request_id == request_id:
            continue
        if recorded == real:
            LOG.info('Ending the event of adjust %s, left open by a '
                     'restart after its values were recorded',
                     action_request_id, instance=instance)
            _finish_event(context, instance, action_request_id)
        else:
            _fail_event(context, instance, action_request_id,
                        'The compute service restarted before this adjust '
                        'was finished; it had recorded vcpus=%d '
                        'memory_mb=%d, the guest runs vcpus=%d '
                        'memory_mb=%d, and that is recorded now.' %
                        (recorded + real), host)


def _unfinished_events(context, instance):
    """Request ids of the server's adjusts whose event never ended."""
    found = []
    actions = objects.InstanceActionList.get_by_instance_uuid(
        context, instance.uuid)
    for action in actions:
        if action.action != xloud.ACTION:
            continue
        events = objects.InstanceActionEventList.get_by_action(
            context, action.id)
        if any(e.event == xloud.EVENT and e.finish_time is None
               for e in events):
            found.append(action.request_id)
    return found


def _finish_event(context, instance, request_id):
    ctxt = context.elevated()
    ctxt.request_id = request_id
    try:
        objects.InstanceActionEvent.event_finish(
            ctxt, instance.uuid, xloud.EVENT, want_result=False)
    except (exception.InstanceActionNotFound,
            exception.InstanceActionEventNotFound):
        pass


def _fail_event(context, instance, request_id, message, host):
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


def after_regeneration(manager, context, instance):
    """The guest was regenerated: follow what it runs.

    After a reboot, a start, a rebuild or a resize revert the driver has
    defined the guest from its persisted values: the live-only values of
    an adjust made with persist=false are gone, while the allocation may
    still hold them (a rebuild keeps its allocation, a revert gets back
    the one held before the resize). System metadata and placement follow
    what the guest runs now.
    """
    try:
        if _concerned(instance):
            reconcile(manager, context, instance,
                      running=instance.power_state == power_state.RUNNING)
    except Exception:
        LOG.exception('Could not reconcile a regenerated guest',
                      instance=instance)
