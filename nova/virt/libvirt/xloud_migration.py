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

"""A live migration of a guest under its memory limit.

A live migration does not go through ``xloud_memory.launch()``. The live
limit is in the source's migratable XML (``<memtune><hard_limit>``), which
Nova sends as the destination and persistent XML; a destination libvirtd
given it raises the incoming QEMU's locked-memory rlimit, and the
migration fails where a create with the limit would (measured on libvirt
9.0, ``realvirt/test_live_migration.py``: the guest stays on the source).
So ``migration_xml()`` takes the limit out of that XML on the source
(``migration.get_updated_guest_xml``) and ``limit_migrated()`` sets it live
on the destination (``post_live_migration_at_destination``). In between
the guest runs without its limit, for seconds and within its flavor's
memory; one that took more than its limit meanwhile is stopped when it is
set. It cannot be set earlier: libvirt holds a ``setMemoryParameters`` on
an incoming domain until the guest runs on the destination (measured).
"""

from oslo_log import log as logging

from nova.compute import xloud
from nova import exception
from nova.i18n import _
from nova.virt.libvirt import xloud_common
from nova.virt.libvirt import xloud_cpu
from nova.virt.libvirt import xloud_memory

LOG = logging.getLogger(__name__)


class MigratedMemoryLimitError(exception.NovaException):
    msg_fmt = _("Could not put the guest of instance %(instance_uuid)s, "
                "live-migrated to this host, under its memory limit "
                "(%(limit_mb)d MiB): %(reason)s. It was stopped rather than "
                "left running without it.")


class MigratedCpuCapError(exception.NovaException):
    msg_fmt = _("Could not cap the CPU time of the guest of instance "
                "%(instance_uuid)s, live-migrated to this host, at its "
                "claimed %(vcpus)d vCPUs' worth: %(reason)s. It was stopped "
                "rather than left running without it.")


def migration_xml(instance, xml_doc):
    """The destination XML of a live migration, without the live limit.

    ``xml_doc`` (an lxml element) is what Nova builds from the source's
    migratable XML (``migration.get_updated_guest_xml``); its ``<memtune>
    <hard_limit>`` is the live limit ``xloud_memory.launch()`` set. A
    destination libvirtd given it raises the incoming QEMU's locked-memory
    rlimit to it, which fails without CAP_SYS_RESOURCE, and the migration
    with it; and as the persistent XML it would make every later start of
    the definition fail the same way. ``limit_migrated()`` sets it live on
    the destination. Other memory tunables stay. The CPU cap of a guest
    with more vCPUs plugged than it may use (``xloud_cpu``) goes the same
    way, so that no persistent definition keeps it: ``limit_migrated()``
    sets it live too.
    """
    if not xloud_memory.needs_limit(instance):
        return xml_doc
    for parent, names in (('./memtune', (xloud_memory.HARD_LIMIT,)),
                          ('./cputune', (xloud_cpu.GLOBAL_PERIOD,
                                         xloud_cpu.GLOBAL_QUOTA))):
        tune = xml_doc.find(parent)
        if tune is None:
            continue
        for name in names:
            for el in tune.findall(name):
                tune.remove(el)
        if not len(tune) and not tune.attrib:
            xml_doc.remove(tune)
    return xml_doc


def limit_migrated(host, instance):
    """Set the live limit of a guest live-migrated to this host.

    Called on the destination once the migration is done
    (``LibvirtDriver.post_live_migration_at_destination``); a no-op when the
    guest already has its limit (or needs none). A guest that took more
    than its limit meanwhile is over it when it is set: on cgroup v2 the
    kernel then kills it (its OOM killer), on cgroup v1 the kernel refuses
    the limit (EBUSY: it cannot reclaim the memory). A limit that cannot be
    set stops the guest, as ``xloud_memory.launch()`` does: the host does
    not run a guest it does not hold to its placement claim.

    :param host: the driver's ``Host`` (the guest is looked up only when
        it needs a limit)
    :raises: MigratedMemoryLimitError, MigratedCpuCapError (the guest
        destroyed)
    """
    try:
        needed = xloud_memory.needs_limit(instance)
    except exception.OrphanedObjectError:
        # An instance without a request context cannot load its flavor; a
        # compute service never gets one (upstream's unit tests build them).
        LOG.warning('No flavor to tell whether the migrated guest needs a '
                    'memory limit', instance=instance)
        return
    if not needed:
        return
    # what it runs: a live migration keeps the live-only values of an
    # adjust without persist (and the destination's claim holds them);
    # they are in system metadata, which the RPC may not have brought
    if not instance.obj_attr_is_set('system_metadata') and instance._context:
        instance.obj_load_attr('system_metadata')
    memory_mb = xloud.live(instance)[1]
    guest = host.get_guest(instance)
    limit_kib = xloud_memory.limit_kib(memory_mb)
    if xloud_memory.get_limit_kib(guest._domain) != limit_kib:
        xloud_memory.limit_or_stop(guest, instance, memory_mb,
                                   MigratedMemoryLimitError)
    vcpus = xloud.live(instance)[0]
    try:
        xloud_cpu.enforce(guest._domain, vcpus, None)
    except xloud_common.libvirt().libvirtError as e:
        # not silently more than its claim: stopped, as for its memory
        LOG.error('Could not cap the CPU time of the migrated guest at %d '
                  'vCPUs\' worth: %s', vcpus, e, instance=instance)
        guest.poweroff()
        raise MigratedCpuCapError(instance_uuid=instance.uuid,
                                  vcpus=vcpus, reason=str(e))
