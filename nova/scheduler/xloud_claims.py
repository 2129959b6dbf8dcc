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

"""Placement claims for servers of minimum-resource flavors.

Upstream derives the VCPU and MEMORY_MB amounts of every claim from the
flavor. For a flavor with ``minimum_cpu``/``minimum_memory`` the server runs
with its *current* values, so that is what a claim must hold, every time the
scheduler makes one: at boot (the flavor's minimums), and for the same
server later (cold and live migration, evacuation, unshelve: what it runs
with now, read from its system metadata; for a live migration, which
moves the running guest, that includes the live-only values of an adjust
made with ``persist=false``, and the new size of a growth it makes room
for, ``xloud_move``). A resize claims the new flavor's
minimums. Resize revert and confirm make no new claim: placement moves the
allocations held by the migration back, which already hold the current
values.

The instance is looked up here rather than carried in the RequestSpec so
that no upstream object or RPC version changes, and so the claim always
follows what was last recorded, whoever recorded it.
"""

import os_resource_classes as orc
from oslo_log import log as logging

from nova.compute import task_states
from nova.compute import xloud
from nova.compute import xloud_move
from nova import context as nova_context
from nova import exception
from nova import objects

LOG = logging.getLogger(__name__)


def _instance(ctxt, instance_uuid):
    """The server as its cell has it, or None while it is being built."""
    try:
        mapping = objects.InstanceMapping.get_by_instance_uuid(
            ctxt, instance_uuid)
    except exception.InstanceMappingNotFound:
        return None
    if not mapping.cell_mapping:
        return None
    try:
        with nova_context.target_cell(ctxt, mapping.cell_mapping) as cctxt:
            return objects.Instance.get_by_uuid(
                cctxt, instance_uuid,
                expected_attrs=['system_metadata', 'flavor'])
    except exception.InstanceNotFound:
        return None


def current_for_request(ctxt, spec_obj):
    """Return (vcpus, memory_mb) a claim for this request must hold."""
    flavor = spec_obj.flavor
    instance = None
    if ctxt is not None and spec_obj.obj_attr_is_set('instance_uuid'):
        instance = _instance(ctxt, spec_obj.instance_uuid)
    if instance is None:
        return xloud.minimums(flavor)
    if instance.task_state == task_states.MIGRATING:
        # A live migration moves the running guest as it is: with the
        # live-only values of an adjust made with persist=false, if any;
        # one started to make room for a growth claims the new size
        # (xloud_move).
        return xloud_move.target(ctxt, instance) or xloud.live(instance)
    return xloud.current(instance, flavor)


def apply_current(ctxt, spec_obj, res_req):
    """Make the unsuffixed request group claim the current values.

    Only flavors with a minimum are touched; their validation rejected the
    extra specs (PCPU pinning, ``resources:VCPU``/``MEMORY_MB``) under which
    these amounts would not come from the flavor.
    """
    if not xloud.has_minimum(spec_obj.flavor):
        return
    vcpus, memory_mb = current_for_request(ctxt, spec_obj)
    group = res_req.get_request_group(None)
    for rc, amount in ((orc.VCPU, vcpus), (orc.MEMORY_MB, memory_mb)):
        if rc in group.resources:
            group.resources[rc] = amount
    LOG.debug('Claiming the current VCPU=%d MEMORY_MB=%d for instance %s',
              vcpus, memory_mb, spec_obj.instance_uuid
              if spec_obj.obj_attr_is_set('instance_uuid') else None)


def apply_current_to_resources(instance, flavor, resources):
    """heal_allocations: an instance's claim holds its current values."""
    if not xloud.has_minimum(flavor):
        return resources
    # What the guest runs now, live-only values included.
    vcpus, memory_mb = xloud.live(instance)
    for rc, amount in ((orc.VCPU, vcpus), (orc.MEMORY_MB, memory_mb)):
        if rc in resources:
            resources[rc] = amount
    return resources
