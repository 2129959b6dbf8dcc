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

"""Grow by moving: an adjust that does not fit its host moves the server.

Opt-in per request (``"allow_migration": true``, its own policy rule,
admin by default). When the growth does not fit the server's host, the
server is live-migrated to a host the scheduler picks for its NEW size,
then grown there; as one instance action (``xloud_adjust``, the request's
id), which collects the live migration's events (conductor and computes)
and the growth's ``compute_xloud_adjust``. KubeVirt moves a VM for every
hotplug; here only when the host has no room.

How, with no upstream object or RPC change:

1. The API (``start``) checks that placement knows a host with room for
   the new size and the live-adjust trait (``room_elsewhere``: no host,
   409 and nothing moved), then takes the server for a live migration
   (upstream's ``migrating`` task state) and writes the growth it waits
   for in its system metadata (``SYSMETA_GROWTH``: the request id, the
   values, persist), and casts the live migration to the conductor.
2. The scheduler claims, on the destination, what the server will run
   there (``target()``, read by ``xloud_claims``): the new size, only for
   the request that wrote it, so a growth left behind by a failed move
   never changes a later migration's claim.
3. On the destination, once the guest runs there
   (``after_live_migration``, a hook at the end of the compute manager's
   ``post_live_migration_at_destination``), the server is taken for the
   adjust and the growth cast to this compute, as the API casts any
   adjust: the same endpoint changes the guest, reads back what it runs,
   records it and makes the allocation (which holds the new size) match.

A move that fails (no host passes the scheduler's filters, a pre-check or
the migration itself fails) leaves the server where it was, at its size,
with upstream's own rollback of the migration; the action's events say
why. A growth that fails on the destination leaves the server moved, at
what it runs, as any failed adjust.
"""

import os_resource_classes as orc
from oslo_log import log as logging
from oslo_serialization import jsonutils

from nova.compute import task_states
from nova.compute import xloud
from nova.compute import xloud_errors
from nova.compute import xloud_events
from nova.compute import xloud_placement
from nova.compute import xloud_rpcapi
from nova.compute import xloud_traits
from nova.conductor import api as conductor_api
from nova import exception
from nova import objects

LOG = logging.getLogger(__name__)

# The growth a live migration is for: {"request_id", "vcpus",
# "memory_mb", "persist"} (values not asked are null).
SYSMETA_GROWTH = 'xloud_grow_after_move'
# GET /allocation_candidates with ``required`` (placement 1.17)
_PLACEMENT_VERSION = '1.17'


def growth(instance):
    """The growth the server waits for on its destination, or None."""
    sysmeta = (instance.system_metadata
               if 'system_metadata' in instance else None) or {}
    raw = sysmeta.get(SYSMETA_GROWTH)
    if not raw:
        return None
    try:
        value = jsonutils.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def target(ctxt, instance):
    """(vcpus, memory_mb) the destination must hold, or None.

    Only for the request that started the move (the scheduler and the
    conductor run with its context): what the guest runs now or the
    growth, whichever is more, so the claim always covers the guest.
    """
    wanted = growth(instance)
    if not wanted or ctxt is None or (
            wanted.get('request_id') != getattr(ctxt, 'request_id', None)):
        return None
    live = xloud.live(instance)
    return tuple(max(now, wanted.get(name) or now)
                 for name, now in zip(xloud.RESOURCES, live))


def room_elsewhere(context, client, instance, wanted):
    """Whether placement has a provider with room for the new size.

    Asks placement for one allocation candidate of the server's new VCPU
    and MEMORY_MB with the live-adjust trait. The server's own host never
    answers: it has no room for the increase beyond what the server holds
    already. What placement cannot see (cells, availability zones, the
    scheduler's filters) the scheduler decides during the move.
    """
    vcpus, memory_mb = (wanted.get(name, now) for name, now in
                        zip(xloud.RESOURCES, xloud.live(instance)))
    url = ('/allocation_candidates?limit=1&resources=%s:%d,%s:%d'
           '&required=%s' % (orc.VCPU, vcpus, orc.MEMORY_MB, memory_mb,
                             xloud_traits.LIVE_ADJUST))
    resp = client.get(url, version=_PLACEMENT_VERSION,
                      global_request_id=context.global_id)
    if not resp:
        raise xloud_errors.AdjustConflict(
            reason='placement could not be read (%s)' % (
                resp.status_code if resp is not None else 'no answer'))
    return bool(resp.json().get('allocation_requests'))


def start(context, instance, wanted, persist, short, placement):
    """Move the server to a host with room, to grow it there.

    :param short: why its host has no room (``xloud_placement.shortfall``)
    :raises: AdjustNoCapacity when no host has room (nothing moved);
        AdjustInProgress when another task took the server first
    """
    if not room_elsewhere(context, placement, instance, wanted):
        raise xloud_errors.AdjustConflict(reason=(
            'its host has no room (%s) and no other host has room for '
            'vcpus=%d memory_mb=%d either: nothing was moved' % (
                (short,) + tuple(wanted.get(name, now) for name, now in zip(
                    xloud.RESOURCES, xloud.live(instance))))))
    request_spec = objects.RequestSpec.get_by_instance_uuid(
        context, instance.uuid)
    request_spec.reset_forced_destinations()
    xloud_errors.take_task_state(instance, task_states.MIGRATING)
    # Taken: written from the fresh system metadata the save read back
    # (see xloud_api.take_guard for why not in the same save).
    instance.system_metadata[SYSMETA_GROWTH] = jsonutils.dumps({
        'request_id': context.request_id,
        'vcpus': wanted.get('vcpus'), 'memory_mb': wanted.get('memory_mb'),
        'persist': persist})
    instance.save(expected_task_state=[task_states.MIGRATING])
    objects.InstanceAction.action_start(
        context, instance.uuid, xloud.ACTION, want_result=False)
    LOG.info('Live adjust of %(wanted)s does not fit host %(host)s '
             '(%(short)s): live-migrating the server to a host with room '
             'first', {'wanted': wanted, 'host': instance.host,
                       'short': short}, instance=instance)
    # A cast (async_), as the API's own live migration since 2.25: the
    # conductor schedules, the computes move the guest.
    try:
        conductor_api.ComputeTaskAPI().live_migrate_instance(
            context, instance, None, block_migration=None,
            disk_over_commit=None, request_spec=request_spec, async_=True)
    except Exception as e:
        LOG.exception('Could not send the live migration to the conductor',
                      instance=instance)
        _release(instance)
        raise xloud_errors.AdjustConflict(
            reason='the live migration could not be started (%s): nothing '
                   'was moved' % (e.format_message()
                                  if hasattr(e, 'format_message') else e))


def _release(instance):
    """Give back the task state a move that did not start took."""
    try:
        instance.refresh()
        instance.task_state = None
        instance.system_metadata.pop(SYSMETA_GROWTH, None)
        instance.save(expected_task_state=[task_states.MIGRATING])
    except exception.UnexpectedTaskStateError:
        pass    # not ours any more: whoever has it gives it back
    except Exception:
        LOG.exception('Could not release the task state of a move that did '
                      'not start', instance=instance)


def after_live_migration(manager, context, instance):
    """On the destination, after a live migration: the growth it was for.

    Called at the end of ``ComputeManager.post_live_migration_at_
    destination`` (the guest runs here, the server's host is this one,
    its task state released). Takes the server for the adjust and casts
    the growth to this compute: the adjust's own endpoint does the rest.
    """
    wanted = growth(instance)
    if not wanted:
        return
    request_id = wanted.get('request_id')
    instance.system_metadata.pop(SYSMETA_GROWTH, None)
    if request_id != context.request_id:
        # Left by a move that failed before it ran: not this migration's.
        LOG.info('Dropping the growth of request %s: this live migration '
                 'is not its own', request_id, instance=instance)
        instance.save()
        return
    instance.task_state = xloud.TASK_STATE
    instance.system_metadata[xloud.SYSMETA_ADJUSTING] = request_id
    try:
        instance.save(expected_task_state=[None])
    except exception.UnexpectedTaskStateError:
        LOG.warning('Another task took the server after its live '
                    'migration: its growth is not done', instance=instance)
        xloud_events.fail(
            context, instance, request_id,
            'The server was moved to host %s, but another task took it '
            'before it grew: it runs vcpus=%d memory_mb=%d; adjust it '
            'again.' % ((manager.host,) + tuple(xloud.live(instance))),
            manager.host)
        # the destination's claim holds the growth the guest never got
        xloud_placement.follow(context, manager.reportclient, instance,
                               *xloud.live(instance))
        return
    LOG.info('Live-migrated to make room: growing to %s', wanted,
             instance=instance)
    xloud_rpcapi.XloudComputeAPI().adjust(
        context, instance, wanted.get('vcpus'), wanted.get('memory_mb'),
        wanted.get('persist', True), request_id)
