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

"""The compute manager's hooks for live-scalable servers.

The compute manager calls: ``endpoints()`` for its RPC server (the live
adjust's own endpoint, ``nova.compute.xloud_endpoint``), ``init_host()``
after a restart, ``after_regeneration()`` after a reboot, a start, a
rebuild (evacuation included) and a resize revert, when the driver has
defined the guest again from its persisted values, ``report_guests()``
from a periodic task (what the guests say of themselves; it also starts
the autoscaler, ``xloud_autoscaler``), and
``after_live_migration()`` on the destination of a live migration (the
growth it made room for, ``xloud_move``), ``lifecycle_event()`` for every
event of its virt driver (a guest the host killed is recorded here, on
the compute side, as every fault is); and,
through its VirtAPI, ``guest_redefined()`` when the driver defines a guest
again from its persisted values. What the guest runs is read, recorded and
claimed by ``xloud_reconcile``.
"""

from oslo_log import log as logging

from nova.compute import power_state
from nova.compute import utils as compute_utils
from nova.compute import vm_states
from nova.compute import xloud
from nova.compute import xloud_autoscaler
from nova.compute import xloud_events
from nova.compute import xloud_guest_view
from nova.compute import xloud_move
from nova.compute import xloud_placement
from nova.compute import xloud_reconcile
import nova.conf
from nova.conf import xloud as xloud_conf
from nova import context as nova_context
from nova import exception
from nova import objects
from nova import xloud_compat

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF
xloud_conf.register_opts(CONF)

# Request ids of the adjusts this compute is handling now: running
# (xloud_endpoint) or being ended by expire_adjusts(). One claims a
# request id before it reads the server, in the same greenthread step, so
# the two never act on the same adjust; expire_adjusts() claims only an
# adjust older than the timeout, so an adjust that is just beginning is
# never refused by its own compute.
HANDLING = set()

# The action and event that say why the host stopped a guest.
KILL_ACTION = 'xloud_memory_limit'
KILL_EVENT = 'compute_xloud_memory_limit'


def endpoints(manager):
    """The endpoints the compute manager adds to its RPC server.

    Imported here: the endpoint is decorated with the manager module's own
    ``wrap_instance_fault``, and the manager module imports this one.
    """
    from nova.compute import xloud_endpoint
    return [xloud_endpoint.XloudComputeEndpoint(manager)]


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
            if instance.host != manager.host or not xloud.has_values(instance):
                continue
            _recover(manager, context, instance)
        except Exception:
            LOG.exception('Could not reconcile the adjust state',
                          instance=instance)


def expire_adjusts(manager, context):
    """End the adjusts of this host that never began, after the timeout.

    The compute manager's periodic task. A cast lost (RabbitMQ restarted
    with it in its queue) or one this compute never took (it was stopped
    or hung) would leave the server in the adjust's task state for good:
    after ``[xloud] adjust_timeout`` it is ended as a restart ends one
    (``_recover``): the guest read, recorded and claimed, the event an
    Error saying why, the task state released. The request, if it still
    comes, is stale and dropped (``xloud_endpoint``).
    """
    xloud_events.finish_notes(context)
    timeout = CONF.xloud.adjust_timeout
    if not timeout:
        return
    try:
        instances = objects.InstanceList.get_by_filters(
            context, {'host': manager.host, 'deleted': False,
                      'task_state': xloud.TASK_STATE},
            expected_attrs=['system_metadata', 'flavor'])
    except Exception:
        LOG.exception('Could not list the adjusts in progress')
        return
    for instance in instances:
        request_id = xloud.adjusting(instance)
        if not request_id or request_id in HANDLING:
            continue
        try:
            # Its age before it is claimed: a claim while the age is read
            # would make the endpoint drop an adjust that is beginning.
            waited = xloud_events.age(context, instance, request_id)
        except Exception:
            LOG.exception('Could not read when the adjust %s began',
                          request_id, instance=instance)
            continue
        if waited < timeout or request_id in HANDLING:
            continue
        HANDLING.add(request_id)
        try:
            # Read again now that it is ours: it may have ended meanwhile.
            instance.refresh()
            if (instance.host != manager.host or
                    xloud.adjusting(instance) != request_id):
                continue
            if xloud_events.began(context, instance, request_id):
                why = ('The adjust did not end within %d s ([xloud] '
                       'adjust_timeout): its compute could not record its '
                       'end (the database or the conductor did not answer)'
                       % timeout)
            else:
                why = ('The adjust did not begin within %d s ([xloud] '
                       'adjust_timeout): its request was lost or its '
                       'compute did not take it in time' % timeout)
            LOG.warning('%s: ending it', why, instance=instance)
            _recover(manager, context, instance, why)
        except exception.InstanceNotFound:
            pass
        except Exception:
            LOG.exception('Could not end the adjust %s', request_id,
                          instance=instance)
        finally:
            HANDLING.discard(request_id)


def report_guests(manager, context):
    """Record what the running guests of this host say of themselves.

    The compute manager's periodic task, every ``[xloud]
    guest_report_interval`` seconds: for each running server of a minimum
    flavor, the driver's read (``xloud_read``: what the host lets the
    guest use, and the guest's own report) is recorded in system metadata
    (``xloud_guest_view``), where ``GET os-xloud-adjust`` and the API's
    shrink check read it; a server in a task is left to its task. Saved
    only when the report moved (``xloud_guest_view.record``), and only if
    no task began meanwhile: Instance.save() writes the whole system
    metadata back, and a task's own record must win.
    """
    if not xloud_reconcile.driver_supports(manager.driver):
        return
    # the autoscaler's loop is started (once) from here
    xloud_autoscaler.ensure_running(manager)
    if not CONF.xloud.guest_report_interval:
        return
    try:
        instances = objects.InstanceList.get_by_filters(
            context, {'host': manager.host, 'deleted': False,
                      'vm_state': vm_states.ACTIVE, 'task_state': None},
            expected_attrs=['system_metadata', 'flavor'])
    except Exception:
        LOG.exception('Could not list the guests to read')
        return
    for instance in instances:
        if (instance.host != manager.host or
                not xloud.has_minimum(instance.flavor) or
                instance.power_state != power_state.RUNNING):
            continue
        try:
            real = manager.driver.xloud_read(instance)
            if xloud_guest_view.record(instance, real):
                instance.save(expected_task_state=[None])
        except (exception.InstanceNotFound,
                exception.InstanceNotRunning,
                exception.UnexpectedTaskStateError):
            pass
        except Exception as e:
            LOG.info('Could not read what the guest says: %s', e,
                     instance=instance)


def _recover(manager, context, instance,
             why='The compute service restarted during the adjust'):
    request_id = xloud.adjusting(instance)
    running = instance.power_state == power_state.RUNNING
    # What the last adjust recorded, before reconcile() replaces it with
    # what the guest runs.
    recorded = xloud.live(instance)
    if request_id:
        LOG.info('Finishing the adjust %s: %s', request_id, why,
                 instance=instance)
        instance.system_metadata.pop(xloud.SYSMETA_ADJUSTING, None)
        if instance.task_state == xloud.TASK_STATE:
            instance.task_state = None
    real = xloud_reconcile.reconcile(manager, context, instance,
                                    running=running)
    if request_id:
        xloud_events.fail(context, instance, request_id,
                          '%s; the guest runs vcpus=%d memory_mb=%d.' %
                          ((why,) + tuple(real)), manager.host)
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
    marker's own adjust is ended by xloud_events.fail().
    """
    try:
        unfinished = xloud_events.unfinished(context, instance)
        xloud_events.finish_notes(context, instance)
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
            xloud_events.finish(context, instance, action_request_id)
        else:
            xloud_events.fail(
                context, instance, action_request_id,
                'The compute service restarted before this adjust was '
                'finished; it had recorded vcpus=%d memory_mb=%d, the guest '
                'runs vcpus=%d memory_mb=%d, and that is recorded now.' %
                (recorded + real), host)


def after_live_migration(manager, context, instance):
    """On the destination of a live migration, once the guest runs here:
    the growth it was started for, if any (``xloud_move``).
    """
    xloud_move.after_live_migration(manager, context, instance)


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
        if xloud.has_values(instance):
            _end_overtaken_adjust(context, instance, manager.host)
            xloud_reconcile.reconcile(manager, context, instance,
                      running=instance.power_state == power_state.RUNNING)
    except Exception:
        LOG.exception('Could not reconcile a regenerated guest',
                      instance=instance)


def _end_overtaken_adjust(context, instance, host):
    """An adjust the server's regeneration overtook ends in error.

    Only an evacuation takes a server in the adjust's task state (its
    compute is down, the adjust never ran there): its request is stale
    from now on, its event would stay open and its marker would stay.
    """
    request_id = xloud.adjusting(instance)
    if not request_id or instance.task_state == xloud.TASK_STATE:
        return
    instance.system_metadata.pop(xloud.SYSMETA_ADJUSTING, None)
    instance.save()
    try:
        xloud_events.fail(context, instance, request_id,
                          'The server was rebuilt (evacuated) on host %s '
                          'before its compute began this adjust' % host,
                          host)
    except Exception:
        LOG.exception('Could not end the event of adjust %s', request_id,
                      instance=instance)


def guest_redefined(manager, instance, vcpus, memory_mb):
    """The driver defines the guest again, from its persisted values.

    Called by the virt driver through the manager's VirtAPI
    (``ComputeVirtAPI.xloud_guest_redefined``) when the guest drops the
    live-only values of an adjust (``nova.virt.libvirt.xloud_guest``):
    placement holds the persisted values from now on, whether or not the
    definition succeeds. The allocation entry is the one of this host's
    node (an evacuation holds two).
    """
    xloud_placement.follow(nova_context.get_admin_context(),
                           manager.reportclient, instance, vcpus, memory_mb,
                           host=manager.host)


def lifecycle_event(manager, event):
    """A guest the host stopped unasked is recorded, in the background.

    The virt driver marks such an event (``xloud_unasked_stop``, see
    ``nova.virt.libvirt.xloud_oom``) and hands it on at once; the compute
    records why, as it records every fault, without holding up the
    events behind it.
    """
    stop = getattr(event, 'xloud_unasked_stop', None)
    if stop is not None:
        xloud_compat.spawn(_record_unasked_stop, manager,
                           event.get_instance_uuid(), stop)


def _record_unasked_stop(manager, uuid, stop):
    """One ERROR line, an instance fault and an ``xloud_memory_limit``
    action whose event failed with the driver's explanation (the kernel's
    own line of the OOM kill as its traceback, where there is one).
    """
    ctxt = nova_context.get_admin_context()
    try:
        instance = objects.Instance.get_by_uuid(
            ctxt, uuid, expected_attrs=['flavor', 'system_metadata'])
    except exception.InstanceNotFound:
        return
    explained = stop.explain(instance)
    if explained is None:
        return
    exc, kernel_line = explained
    message = exc.format_message()
    LOG.error('xloud: %s%s', message,
              ' Kernel record: %s' % kernel_line if kernel_line else '',
              instance=instance)
    try:
        compute_utils.add_instance_fault_from_exc(ctxt, instance, exc)
        objects.InstanceAction.action_start(ctxt, uuid, KILL_ACTION,
                                            want_result=False)
        objects.InstanceActionEvent.event_start(ctxt, uuid, KILL_EVENT,
                                                want_result=False,
                                                host=manager.host)
        objects.InstanceActionEvent.event_finish_with_failure(
            ctxt, uuid, KILL_EVENT, exc_val=message,
            exc_tb=kernel_line or message, want_result=False)
    except Exception:
        LOG.exception('xloud: could not record why the guest stopped',
                      instance=instance)
