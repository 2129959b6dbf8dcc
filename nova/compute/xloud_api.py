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

"""The API side of a live adjust (``os-xloud-adjust``).

Synchronous, in the API request, and never waiting on the compute: the
checks (the range; the server's state and lock with upstream's own
decorators; a task in progress; the compute's support, from its traits and
the service group), the task-state guard, the placement claim of an
increase and the instance action. Then a cast to the compute, which
changes the guest, reads back what it runs, records it and makes placement
match (``nova.compute.xloud_endpoint``).
"""

import time

from oslo_log import log as logging

from nova.compute import api as compute_api
from nova.compute import vm_states
from nova.compute import xloud
from nova.compute import xloud_errors
from nova.compute import xloud_guest_view
from nova.compute import xloud_move
from nova.compute import xloud_placement
from nova.compute import xloud_quota
from nova.compute import xloud_rpcapi
from nova.compute import xloud_traits
import nova.conf
from nova.conf import xloud as xloud_conf
from nova import exception
from nova import objects
from nova.scheduler.client import report
from nova import servicegroup

CONF = nova.conf.CONF
# nova-api loads no other module that registers the [xloud] options
xloud_conf.register_opts(CONF)
LOG = logging.getLogger(__name__)


class XloudAdjustAPI(object):

    def __init__(self):
        self.rpcapi = xloud_rpcapi.XloudComputeAPI()
        self.servicegroup_api = servicegroup.API()
        # provider uuid -> (when read, traits) of computes that can adjust
        self._capable = {}

    @property
    def placement(self):
        return report.report_client_singleton()

    @staticmethod
    def show(instance):
        """The three numbers per resource, current as last confirmed."""
        return xloud.bounds(instance)

    @staticmethod
    def guest_view(instance):
        """What the guest says of itself, and the CPU cap (GET)."""
        return xloud_guest_view.view(instance)

    @staticmethod
    def check_range(instance, wanted):
        bounds = xloud.bounds(instance)
        for name, value in wanted.items():
            b = bounds[name]
            if not b.minimum <= value <= b.maximum:
                raise xloud_errors.AdjustOutOfRange(
                    resource=name, value=value, minimum=b.minimum,
                    maximum=b.maximum)

    @staticmethod
    def check_task(instance):
        """Another task in progress is a 409 that says to wait for it."""
        if instance.task_state is not None:
            raise xloud_errors.AdjustInProgress(
                instance_uuid=instance.uuid, task_state=instance.task_state)

    def check_compute(self, context, instance):
        """409 unless the server's compute can adjust it; never calls it.

        Decided from what is known already (``xloud_traits``): the service
        group's up/down, and the traits the compute reports on its compute
        node's resource provider. A compute that hangs cannot hold this
        request: it is up until the service group says otherwise, and what
        is cast to it waits in its queue (or its adjust ends at the
        timeout, ``xloud_manager.expire_adjusts``).
        """
        reason = self._compute_refusal(context, instance)
        if reason:
            raise xloud_errors.AdjustNotSupported(
                instance_uuid=instance.uuid, host=instance.host,
                reason=reason)

    def _compute_refusal(self, context, instance):
        """Why the server's compute cannot adjust it, or None."""
        host = instance.host
        try:
            service = objects.Service.get_by_compute_host(context, host)
        except exception.ComputeHostNotFound:
            return 'no compute service is known on the host'
        if not self.servicegroup_api.service_is_up(service):
            return 'the compute service is down'
        try:
            node = objects.ComputeNode.get_by_host_and_nodename(
                context, host, instance.node)
        except exception.NotFound:
            return 'its compute node %s is not known' % instance.node
        try:
            traits = self._traits(context, node.uuid)
        except Exception as e:
            LOG.warning('Placement could not be read for the traits of '
                        'compute node %s: %s', node.uuid, e,
                        instance=instance)
            raise xloud_errors.AdjustConflict(
                reason='placement could not be read (%s)' % e)
        if xloud_rpcapi.TRAIT not in traits:
            return ('the compute service predates live adjust (its '
                    'resource provider has no %s trait; upgrade it)' %
                    xloud_rpcapi.TRAIT)
        if xloud_traits.LIVE_ADJUST not in traits:
            return ('its virt driver (hypervisor type %s) cannot adjust a '
                    'server live' % node.hypervisor_type)
        return None

    def _traits(self, context, rp_uuid):
        """The provider's traits; those of a compute that can adjust are
        kept ``[xloud] capability_cache_seconds`` (a refusal never is).
        """
        ttl = CONF.xloud.capability_cache_seconds
        now = time.monotonic()
        known = self._capable.get(rp_uuid)
        if ttl and known and now - known[0] < ttl:
            return known[1]
        traits = self.placement.get_provider_traits(context, rp_uuid).traits
        if ttl and {xloud_rpcapi.TRAIT, xloud_traits.LIVE_ADJUST} <= traits:
            self._capable[rp_uuid] = (now, traits)
        else:
            self._capable.pop(rp_uuid, None)
        return traits

    @staticmethod
    def shrink_refusal(instance, wanted):
        """Why the guest says it cannot give the memory asked, or None.

        From its last report (``xloud_guest_view``), when it is recent: a
        fast 409 instead of a shrink that waits for memory the guest
        cannot give. Its compute checks again before the balloon moves.
        """
        memory_mb = wanted.get('memory_mb')
        if memory_mb is None or memory_mb >= xloud.live(instance)[1]:
            return None
        return xloud_guest_view.api_refusal(instance, memory_mb)

    @staticmethod
    def increases(instance, wanted):
        """{'vcpus': n, 'memory_mb': n}: how much more than the guest runs."""
        live = dict(zip(xloud.RESOURCES, xloud.live(instance)))
        return {name: value - live[name] for name, value in wanted.items()
                if value > live[name]}

    def _shortfall(self, context, instance, wanted, more):
        """What its host lacks for the increase (a sentence), or None."""
        try:
            return xloud_placement.shortfall(
                context, self.placement, instance,
                **{name: wanted[name] for name in more})
        except Exception as e:
            LOG.exception('Placement could not be read for the room of '
                          'the host', instance=instance)
            raise xloud_errors.AdjustConflict(
                reason='placement could not be read (%s)' % e)

    def dry_run(self, context, instance, wanted, allow_migration=False):
        """Would this adjust fit? {'fits': bool[, 'moves': True][,
        'reason': str]}.

        Called after every check of the request itself (they raise as for
        a real adjust); the host's room and the quota are read, nothing is
        claimed, saved or recorded. With ``allow_migration``, a growth its
        host has no room for fits when placement has a host with room
        (``xloud_move``): it would move there first.
        """
        more = self.increases(instance, wanted)
        reasons = []
        moves = False
        refusal = self.shrink_refusal(instance, wanted)
        if refusal:
            reasons.append(refusal)
        short = self._shortfall(context, instance, wanted, more)
        if short and allow_migration:
            if xloud_move.room_elsewhere(context, self.placement, instance,
                                         wanted):
                moves = True
            else:
                short += '; no other host has room for it either'
        if short and not moves:
            reasons.append('the host has no room: %s' % short)
        try:
            xloud_quota.check(context, instance, more)
        except exception.TooManyInstances as e:
            reasons.append(e.format_message())
        if reasons:
            return {'fits': False, 'reason': '; '.join(reasons)}
        if moves:
            return {'fits': True, 'moves': True, 'reason': (
                'the host has no room: %s; the server would be '
                'live-migrated to a host with room, then grown' % short)}
        return {'fits': True}

    def adjust(self, context, instance, vcpus=None, memory_mb=None,
               persist=True, dry_run=False, allow_migration=False):
        """Start a live adjust; raises the 400/403/409 exceptions of the API.

        With dry_run, only answers whether it would fit (``dry_run()``).
        With allow_migration, a growth its host has no room for moves the
        server to a host with room first (``xloud_move``).
        """
        wanted = xloud.given(vcpus, memory_mb)
        self.check_range(instance, wanted)
        return self._start(context, instance, wanted, persist, dry_run,
                           allow_migration)

    @compute_api.check_instance_lock
    @compute_api.check_instance_state(vm_state=[vm_states.ACTIVE],
                                      task_state=None)
    def _start(self, context, instance, wanted, persist, dry_run,
               allow_migration):
        self.check_task(instance)
        self.check_compute(context, instance)
        if dry_run:
            return self.dry_run(context, instance, wanted, allow_migration)
        refusal = self.shrink_refusal(instance, wanted)
        if refusal:
            raise xloud_errors.AdjustConflict(reason=refusal)
        # Over quota: 403 before anything is claimed (xloud_quota).
        more = self.increases(instance, wanted)
        xloud_quota.check(context, instance, more)
        if allow_migration and more:
            short = self._shortfall(context, instance, wanted, more)
            if short:
                return xloud_move.start(context, instance, wanted, persist,
                                        short, self.placement)

        request_id = context.request_id
        take_guard(context, instance)
        try:
            claim_increase(context, self.placement, instance, wanted, more)
        except Exception:
            release_guard(instance)
            raise

        objects.InstanceAction.action_start(
            context, instance.uuid, xloud.ACTION, want_result=False)
        LOG.info('Live adjust of %(wanted)s (persist=%(persist)s) sent to '
                 'host %(host)s', {'wanted': wanted, 'persist': persist,
                                   'host': instance.host}, instance=instance)
        try:
            self.rpcapi.adjust(context, instance, wanted.get('vcpus'),
                               wanted.get('memory_mb'), persist, request_id)
        except Exception as e:
            LOG.exception('Could not send the adjust to its compute',
                          instance=instance)
            if self.increases(instance, wanted):
                xloud_placement.follow(context, self.placement, instance,
                                       *xloud.live(instance))
            release_guard(instance)
            raise xloud_errors.AdjustConflict(
                reason='its compute service could not be reached (%s)' % e)


def take_guard(context, instance):
    """Take the server for this adjust, or raise a 409.

    Two saves, on purpose. The first one changes the task state alone,
    a compare-and-swap on the instances row: of two concurrent adjusts
    (or an adjust and any other task) only one gets past it, and the
    loser gets AdjustInProgress. It must not carry system metadata:
    Instance.save() writes back the whole system metadata dict the
    request loaded when it began, so a request that raced the end of
    the previous adjust would both revert the values that adjust had
    just recorded and, when the previous adjust deleted its marker row
    between this transaction's read and its write, fail with
    StaleDataError (a 500). Only once the server is ours is the
    marker written, from fresh system metadata: the first save read the
    server back in its own transaction (``Instance.save()`` loads the
    row it wrote, system metadata included), and while the task state
    is ours nobody else writes it.
    """
    xloud_errors.take_task_state(instance, xloud.TASK_STATE)
    try:
        if instance.vm_state != vm_states.ACTIVE:
            # Stopped (or else) between the check and the guard.
            state = instance.vm_state
            release_guard(instance)
            raise exception.InstanceInvalidState(
                attr='vm_state', instance_uuid=instance.uuid,
                state=state, method='xloud_adjust')
        instance.system_metadata[xloud.SYSMETA_ADJUSTING] = (
            context.request_id)
        # the growth of a move that failed before it ran
        instance.system_metadata.pop(xloud_move.SYSMETA_GROWTH, None)
        instance.save(expected_task_state=[xloud.TASK_STATE])
    except exception.InstanceInvalidState:
        raise
    except Exception as e:
        # Whatever changed the server under us (a concurrent write of
        # its system metadata, a delete), nothing was claimed nor
        # started yet: give the task state back and say so.
        LOG.warning('Could not mark the server for the adjust: %s', e,
                    instance=instance)
        release_guard(instance)
        raise xloud_errors.AdjustConflict(
            reason='it changed while this request was taking it; '
                   'nothing was done, try again')


def release_guard(instance):
    """Give the task state back (and drop our marker, if written).

    A failed save is retried once from a fresh read, so a concurrent
    write of the server's system metadata cannot leave it in our task
    state.
    """
    for attempt in range(2):
        try:
            if attempt:
                instance.refresh()
            instance.task_state = None
            instance.system_metadata.pop(xloud.SYSMETA_ADJUSTING,
                                         None)
            instance.save(expected_task_state=[xloud.TASK_STATE])
            return
        except exception.UnexpectedTaskStateError:
            # No longer ours: nothing to give back.
            return
        except Exception:
            LOG.exception('Could not clear the task state after a '
                          'refused adjust', instance=instance)


def claim_increase(context, placement, instance, wanted, more):
    """Claim in placement what ``wanted`` adds to what the guest runs.

    The server is ours (``take_guard``, which read it again: what it runs
    now). Raises TooManyInstances (403) when the recheck after the claim
    finds the quota exceeded, AdjustConflict (409) when placement refuses
    or fails; nothing stays claimed then. The guard stays the caller's.

    :param more: the increases the quota was checked for before the claim
    """
    increase = {name: wanted[name]
                for name in XloudAdjustAPI.increases(instance, wanted)}
    if not increase:
        return
    try:
        xloud_placement.claim(context, placement, instance, **increase)
        # The recheck (usage now holds the claim): of concurrent
        # increases that fit the quota only one at a time, not both pass.
        xloud_quota.check(context, instance, more, recheck=True)
    except exception.TooManyInstances:
        xloud_placement.follow(context, placement, instance,
                               *xloud.live(instance))
        raise
    except xloud_errors.AdjustConflict:
        raise
    except Exception as e:
        LOG.exception('Placement failed to claim %s', increase,
                      instance=instance)
        raise xloud_errors.AdjustConflict(
            reason='placement could not be updated (%s)' % e)
