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

"""The compute side of a live adjust: its RPC endpoint.

``XloudComputeEndpoint`` is an extra oslo.messaging endpoint of the compute
service (namespace ``xloud``, version 1.0; see ``xloud_rpcapi``), so the
live adjust never touches upstream's compute RPC versions; the compute
manager registers it through ``xloud_manager.endpoints()``.

After asking the hypervisor it reads back what the guest really runs,
and records and claims *that* (``xloud_reconcile``). The change runs
under upstream's ``wrap_instance_event`` and ``wrap_instance_fault``, as
every action of the compute manager does: its event is
``compute_xloud_adjust``, and a failed adjust leaves an instance fault.
"""

from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_utils import excutils

from nova.compute import manager as compute_manager
from nova.compute import utils as compute_utils
from nova.compute import xloud
from nova.compute import xloud_autoscaler
from nova.compute import xloud_errors
from nova.compute import xloud_events
from nova.compute import xloud_guest_view
from nova.compute import xloud_manager
from nova.compute import xloud_placement
from nova.compute import xloud_reconcile
from nova.compute import xloud_rpcapi
from nova import exception
from nova.notifications.objects import xloud_adjust as xloud_notification
from nova.objects import fields

LOG = logging.getLogger(__name__)


class XloudComputeEndpoint(object):
    """Server side of ``nova.compute.xloud_rpcapi``."""

    target = messaging.Target(namespace=xloud_rpcapi.NAMESPACE,
                              version=xloud_rpcapi.VERSION)

    def __init__(self, manager):
        self.manager = manager

    def capabilities(self, context):
        """Whether this compute can adjust, for a previous release's API.

        Kept for a rolling upgrade: this release's API reads the compute's
        traits instead (``xloud_traits``).
        """
        if xloud_reconcile.driver_supports(self.manager.driver):
            return {'adjust': True, 'reason': None}
        return {'adjust': False,
                'reason': 'the %s virt driver cannot adjust a server live' %
                          type(self.manager.driver).__name__}

    def adjust(self, context, instance, vcpus, memory_mb, persist,
               request_id):
        run(self.manager, context, instance, vcpus, memory_mb, persist,
            request_id)


def run(manager, context, instance, vcpus, memory_mb, persist, request_id,
        decision=None):
    """Carry out the adjust ``request_id``, whose guard is taken.

    For the API's cast (``XloudComputeEndpoint.adjust``), and for the
    autoscaler of this compute (``xloud_autoscaler``), which passes its
    ``decision``: one path for both.
    """
    if request_id in xloud_manager.HANDLING:
        # Being ended by the timeout (xloud_manager.expire_adjusts),
        # or a duplicate delivery of one running: not twice.
        LOG.warning('Dropping adjust request %s: already handled here',
                    request_id, instance=instance)
        return
    xloud_manager.HANDLING.add(request_id)
    try:
        _adjust(manager, context, instance, vcpus, memory_mb, persist,
                request_id, decision)
    finally:
        xloud_manager.HANDLING.discard(request_id)


def _adjust(manager, context, instance, vcpus, memory_mb, persist,
            request_id, decision):
    try:
        # The message carries the server as it was when the API sent
        # it. One delivered late (it waited in the queue of a compute
        # that died or hung, and init_host or the timeout has since
        # ended its adjust) must be judged on what the database says
        # now, or it would change the guest again with nobody to
        # record it.
        instance.refresh()
    except exception.InstanceNotFound:
        LOG.info('Instance was deleted before its adjust began',
                 instance=instance)
        return
    if (instance.task_state != xloud.TASK_STATE or
            xloud.adjusting(instance) != request_id):
        # A restart of this compute or the timeout already ended this
        # adjust: the request is stale, and its event is ended.
        LOG.warning('Dropping stale adjust request %s', request_id,
                    instance=instance)
        return
    # saved with the adjust's values: a manual one holds the autoscaler
    xloud_autoscaler.before_adjust(instance, decision)
    result = None
    try:
        result = xloud_adjust(
            manager, context, instance, vcpus, memory_mb, persist,
            initiator=(xloud_notification.AUTOSCALER if decision
                       else xloud_notification.USER))
    except xloud_errors.AdjustGuestError as e:
        # Recorded (event, fault, notification): not a bug of ours to
        # trace in the RPC server's log.
        LOG.warning('Live adjust ended in error: %s', e,
                    instance=instance)
        result = getattr(e, 'driver_result', None)
    except exception.InstanceNotFound:
        LOG.info('Instance was deleted during its adjust',
                 instance=instance)
    if result is not None:
        # after the adjust's own event has ended: who waits for the
        # adjust does not wait for these
        LOG.info('Live adjust: %s',
                 xloud_guest_view.event_details(result),
                 instance=instance)
        for event in xloud_guest_view.events(result):
            xloud_events.note(context, instance, event, manager.host)


# Not a method of the endpoint: every public method of an endpoint can be
# called over RPC, and this one must only run behind adjust()'s checks.
@compute_utils.wrap_instance_event(prefix='compute', graceful_exit=True)
@compute_manager.wrap_instance_fault
def xloud_adjust(manager, context, instance, vcpus, memory_mb, persist,
                 initiator):
    """Change the guest, record and claim what it runs, notify.

    Its instance action event is ``compute_xloud_adjust`` (the prefix and
    this function's name, as upstream names its events), in the action
    ``xloud_adjust`` or ``xloud_autoscale``; ``initiator`` says which in
    the notifications.

    :returns: the driver's answer (``xloud_adjust`` of the virt driver),
        None where it failed; an AdjustGuestError carries it as
        ``driver_result``
    """
    requested = list(xloud.given(vcpus, memory_mb))
    before = xloud.live(instance)
    asked = (before[0] if vcpus is None else vcpus,
             before[1] if memory_mb is None else memory_mb)

    def notify(phase, after, exc=None):
        xloud_notification.notify(
            context, instance, manager.host, phase, before, after,
            persist, initiator, exception=exc)

    notify(fields.NotificationPhase.START, asked)
    try:
        real, result = _change(manager, context, instance, vcpus, memory_mb,
                               persist, requested, before)
    except xloud_errors.AdjustGuestError as e:
        notify(fields.NotificationPhase.ERROR,
               (e.kwargs['vcpus'], e.kwargs['memory_mb']), e)
        raise
    except Exception as e:
        with excutils.save_and_reraise_exception():
            notify(fields.NotificationPhase.ERROR, xloud.live(instance), e)
    notify(fields.NotificationPhase.END, real)
    return result


def _change(manager, context, instance, vcpus, memory_mb, persist,
            requested, before):
    """Change the guest, record and claim what it runs.

    :returns: (vcpus, memory_mb) it runs, and the driver's answer
    """
    error = None
    real = None
    result = None
    try:
        result = manager.driver.xloud_adjust(
            instance, vcpus=vcpus, memory_mb=memory_mb, persist=persist)
        real = (result['vcpus'], result['memory_mb'])
        error = '; '.join(result.get('errors') or []) or None
        xloud_guest_view.record(instance, result, force=True)
    except Exception as e:
        LOG.exception('The virt driver failed to adjust the guest',
                      instance=instance)
        error = str(e) or type(e).__name__
        real = xloud_reconcile.read_guest(manager, instance)
        # The driver stopped half-way: its persistent definition is
        # unknown, only what runs is; the persisted values stay.
        persist = False
    if real is None:
        # Nothing could be read back: the guest was not (or could not be
        # seen to be) changed, keep what was last confirmed.
        real = before
    xloud.record(instance, real[0], real[1], persist, requested=requested)
    instance.task_state = None
    instance.system_metadata.pop(xloud.SYSMETA_ADJUSTING, None)
    instance.save(expected_task_state=[xloud.TASK_STATE])
    # Releases a decrease, returns an increase that did not happen.
    xloud_placement.follow(context, manager.reportclient, instance,
                           real[0], real[1])
    LOG.info('Live adjust: the guest runs vcpus=%d memory_mb=%d',
             real[0], real[1], instance=instance)
    if error:
        e = xloud_errors.AdjustGuestError(
            reason=error, vcpus=real[0], memory_mb=real[1])
        e.driver_result = result
        raise e
    return real, result
