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

"""A live adjust's placement updates.

The server's allocation (the instance is the consumer) holds its VCPU and
MEMORY_MB on its compute node provider. An adjust rewrites those two
amounts in place, with the consumer generation, through the scheduler
report client: an increase before the guest is touched (placement refuses
when the host has no room, and then nothing has changed), a decrease or a
correction after the hypervisor confirmed what it really runs.
"""

import os_resource_classes as orc
from oslo_log import log as logging

from nova.compute import xloud
from nova.compute import xloud_errors
from nova import exception
from nova import objects

LOG = logging.getLogger(__name__)

_RETRIES = 3
_CLASSES = {'vcpus': orc.VCPU, 'memory_mb': orc.MEMORY_MB}


def amounts(context, client, instance):
    """Return {'vcpus': n, 'memory_mb': n} the server holds (None: none)."""
    allocs = client.get_allocs_for_consumer(context, instance.uuid)
    found = {}
    for rp in allocs.get('allocations', {}).values():
        for name, rc in _CLASSES.items():
            if rc in rp['resources']:
                found[name] = found.get(name, 0) + rp['resources'][rc]
    return {name: found.get(name) for name in _CLASSES}


def _node_uuid(context, instance, host):
    """The provider of the compute node the guest runs on, or None."""
    try:
        nodes = objects.ComputeNodeList.get_all_by_host(context, host)
    except Exception as e:
        LOG.debug('No compute node for host %s: %s', host, e)
        return None
    if len(nodes) > 1:
        nodes = [n for n in nodes if n.hypervisor_hostname == instance.node]
    return nodes[0].uuid if len(nodes) == 1 else None


def _guest_allocations(context, instance, allocations, host):
    """The allocation entries of the providers the server's guest uses.

    Normally one: the compute node's. An evacuated server holds its
    resources on the old host too until that host's compute cleans up:
    only the entry of the node it runs on now is the guest's. (The
    evacuating compute calls this before the server's host is set to it,
    so it names itself.)
    """
    holders = [rp_uuid for rp_uuid, rp in allocations.items()
               if set(_CLASSES.values()) & set(rp['resources'])]
    if len(holders) > 1:
        node = _node_uuid(context, instance, host or instance.host)
        if node in holders:
            return {node: allocations[node]}
    return allocations


def _put(context, client, instance, wanted, host):
    """One read-modify-write. Returns True, False (no room) or None (race)."""
    allocs = client.get_allocs_for_consumer(context, instance.uuid)
    allocations = allocs.get('allocations') or {}
    guest_allocations = _guest_allocations(context, instance, allocations,
                                           host)
    changed = False
    for name, amount in wanted.items():
        rc = _CLASSES[name]
        holders = [rp for rp in guest_allocations.values()
                   if rc in rp['resources']]
        if len(holders) != 1:
            # No allocation (a server of a host without placement data) or
            # one split across providers, none of them the node the server
            # is on (not something an adjust-able flavor gets): leave
            # placement alone, say so.
            LOG.warning('Instance %s holds %s on %d providers: its '
                        'allocation is not adjusted.', instance.uuid, rc,
                        len(holders))
            continue
        if holders[0]['resources'][rc] != amount:
            holders[0]['resources'][rc] = amount
            changed = True
    if not changed:
        return True
    payload = {
        'allocations': {
            rp_uuid: {'resources': rp['resources']}
            for rp_uuid, rp in allocations.items()},
        'consumer_generation': allocs.get('consumer_generation'),
        'project_id': allocs.get('project_id', instance.project_id),
        'user_id': allocs.get('user_id', instance.user_id),
    }
    try:
        return bool(client.put_allocations(context, instance.uuid, payload))
    except exception.AllocationUpdateFailed:
        # The consumer generation moved under us (someone else wrote the
        # allocation): read again and retry.
        return None


def set_amounts(context, client, instance, vcpus=None, memory_mb=None,
                host=None):
    """Make the allocation hold these amounts; True when it does.

    False means placement refused them (no room on the provider).
    :param host: the host the guest runs on, when it may not be the
        server's host yet (an evacuation)
    """
    wanted = xloud.given(vcpus, memory_mb)
    if not wanted:
        return True
    for _attempt in range(_RETRIES):
        result = _put(context, client, instance, wanted, host)
        if result is not None:
            return result
    LOG.warning('Allocation of instance %s kept changing: gave up after %d '
                'attempts.', instance.uuid, _RETRIES)
    return False


def claim(context, client, instance, vcpus=None, memory_mb=None):
    """Claim an increase before the guest is touched, or raise 409."""
    if not set_amounts(context, client, instance, vcpus, memory_mb):
        resources = ', '.join(
            '%s=%d' % (rc, v) for rc, v in
            ((orc.VCPU, vcpus), (orc.MEMORY_MB, memory_mb)) if v is not None)
        raise xloud_errors.AdjustNoCapacity(instance_uuid=instance.uuid,
                                            resources=resources)


def follow(context, client, instance, vcpus, memory_mb, host=None):
    """After the guest answered: hold what it really runs (best effort)."""
    try:
        if set_amounts(context, client, instance, vcpus, memory_mb, host):
            return True
    except Exception:
        LOG.exception('Could not update the allocation of instance %s',
                      instance.uuid)
    LOG.error('The allocation of instance %(uuid)s could not be set to '
              'VCPU=%(vcpus)s MEMORY_MB=%(mem)s (what the guest runs); the '
              'next compute restart reconciles it.',
              {'uuid': instance.uuid, 'vcpus': vcpus, 'mem': memory_mb})
    return False


def _provider_data(context, client, rp_uuid):
    """(inventories, usages) of a provider, read from placement."""
    out = []
    for what in ('inventories', 'usages'):
        resp = client.get('/resource_providers/%s/%s' % (rp_uuid, what),
                          global_request_id=context.global_id)
        if not resp:
            raise exception.ResourceProviderRetrievalFailed(uuid=rp_uuid)
        out.append(resp.json()[what])
    return out


def shortfall(context, client, instance, vcpus=None, memory_mb=None):
    """What the host lacks for these amounts, as a sentence; None: it fits.

    Claims nothing: reads the inventory and usages of the provider that
    holds the server's VCPU and MEMORY_MB (the dry run of an adjust), with
    placement's own rules (total - reserved, times allocation_ratio, and
    max_unit for one consumer).
    """
    wanted = xloud.given(vcpus, memory_mb)
    if not wanted:
        return None
    allocs = client.get_allocs_for_consumer(context, instance.uuid)
    allocations = _guest_allocations(
        context, instance, allocs.get('allocations') or {}, None)
    short = []
    cache = {}
    for name, amount in sorted(wanted.items()):
        rc = _CLASSES[name]
        holders = [(rp_uuid, rp) for rp_uuid, rp in allocations.items()
                   if rc in rp['resources']]
        if len(holders) != 1:
            continue    # not adjusted in placement (see _put)
        rp_uuid, rp = holders[0]
        more = amount - rp['resources'][rc]
        if more <= 0:
            continue
        if rp_uuid not in cache:
            cache[rp_uuid] = _provider_data(context, client, rp_uuid)
        inventories, usages = cache[rp_uuid]
        inv = inventories.get(rc)
        if not inv:
            short.append('%s: the host has no %s inventory' % (rc, rc))
            continue
        capacity = int((inv['total'] - inv['reserved']) *
                       inv['allocation_ratio'])
        free = max(capacity - usages.get(rc, 0), 0)
        if more > free:
            short.append('%s: %d more needed, %d free on the host' %
                         (rc, more, free))
        elif amount > inv.get('max_unit', amount):
            short.append('%s: %d asked, at most %d for one server on the '
                         'host (max_unit)' % (rc, amount, inv['max_unit']))
    return '; '.join(short) or None
