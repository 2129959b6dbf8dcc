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


"""What the libvirt driver does for servers of a minimum-resources flavor.

A flavor with ``minimum_cpu`` / ``minimum_memory`` extra specs boots its
servers with fewer vCPUs online and less memory outside the balloon than
the flavor gives; the flavor stays the maximum the server can be grown to
live. The driver regenerates the domain from these values whenever it
defines it (boot, hard reboot, start, rebuild, resize, migration), so it is
enough to read the current values here. The rules (minimum, current,
maximum) belong to ``nova.compute.xloud``.
"""

from oslo_utils import units

from nova.compute import xloud
import nova.conf
from nova import exception
from nova.i18n import _
from nova.virt.libvirt import config as vconfig
from nova.virt.libvirt import xloud_common
from nova.virt.libvirt import xloud_memory

CONF = nova.conf.CONF


class MinimumResourcesNotSupported(exception.NovaException):
    msg_fmt = _("Flavor %(flavor)s asks for minimum resources, which "
                "virt_type %(virt_type)s cannot honour: it would run the "
                "guest with all the vCPUs and memory of its flavor while "
                "placement holds only the minimum.")


class MemoryLimitNotSupported(MinimumResourcesNotSupported):
    msg_fmt = _("Flavor %(flavor)s asks for minimum resources, but this "
                "host has no memory cgroup controller: nothing would hold "
                "the guest to the memory placement claims for it (the "
                "balloon is only a request to the guest).")


def set_current(guest, instance, flavor, virtapi):
    """Set the guest's current vCPUs and memory for a minimum flavor.

    A flavor without the minimum specs leaves the guest untouched, so its
    domain XML is exactly upstream's. A virt type without a memory balloon
    cannot run a guest below its flavor, and a host without a memory
    cgroup controller cannot hold the guest to it (``xloud_memory``):
    building one there is refused, so the build is rescheduled to another
    host (or fails) instead of the host running more than placement
    allows.

    :param guest: the LibvirtConfigGuest being built, with its vcpus,
        memory and devices (the memory balloon among them) already set
    :param instance: the nova.objects.Instance the guest is for
    :param flavor: the flavor the guest is built from
    :param virtapi: the driver's VirtAPI (the compute manager's), told
        when the guest no longer runs the live-only values of an adjust
    :raises: MinimumResourcesNotSupported on such a virt type or host
    """
    _drop_live_values(instance, flavor, virtapi)
    if not xloud.has_minimum(flavor):
        return
    if not xloud_common.virt_type_supported():
        raise MinimumResourcesNotSupported(
            flavor=flavor.name, virt_type=CONF.libvirt.virt_type)
    if not xloud_memory.host_supported():
        raise MemoryLimitNotSupported(flavor=flavor.name)
    vcpus, memory_mb = xloud.current(instance, flavor)
    guest.current_vcpus = vcpus
    # LibvirtConfigGuest keeps memory in KiB, libvirt's default unit.
    guest.current_memory = memory_mb * units.Ki
    _ensure_virtio_balloon(guest)


def _drop_live_values(instance, flavor, virtapi):
    """The guest is defined again: forget the live-only values, now.

    The guest is (re)defined from the persisted values: what a live adjust
    with persist=false changed is gone with the old domain, and every later
    definition uses the persisted values too. The flow that regenerates the
    guest saves the instance afterwards (also when it fails: the server
    goes to ERROR or back to its previous state with a save), and
    after_regeneration() reconciles once it succeeded. But a regeneration
    that fails after this point (a hard reboot or a start whose disk is
    missing) never reaches after_regeneration(): placement would keep
    holding the live values while GET shows the persisted ones. So the
    compute manager is told here (its VirtAPI, the way a driver asks the
    manager for what is not the driver's to do: it writes placement, a
    driver never does) as soon as the persisted values are what the guest
    will run, whether or not the definition succeeds. Only for the flavor
    the live values belong to (a resize to another flavor has its own
    claims).

    A server without live-only values (every server of a flavor without
    the minimum specs) has nothing to drop: neither the instance nor the
    flavor is read further (upstream's tests build guests of flavors
    without a flavorid).
    """
    if not xloud.has_live(instance):
        return
    same_flavor = (xloud.live_flavorid(instance) == flavor.flavorid and
                   instance.flavor.flavorid == flavor.flavorid)
    live = xloud.live(instance) if same_flavor else None
    xloud.clear_live(instance)
    persisted = xloud.current(instance, flavor)
    if live is not None and live != persisted:
        virtapi.xloud_guest_redefined(instance, *persisted)


class HeldBalloon(vconfig.LibvirtConfigMemoryBalloon):
    """A virtio balloon the guest cannot deflate by itself.

    nova 31+ writes ``autodeflate='on'`` on every balloon: the guest may
    then take the ballooned memory back whenever it runs short
    (VIRTIO_BALLOON_F_DEFLATE_ON_OOM), and its kernel keeps counting the
    whole flavor as its memory. A guest of a minimum flavor owns only its
    current memory (what placement holds, what the host's memory limit
    allows): it must not grow past it by itself, only by an adjust. With
    ``autodeflate='off'`` a guest short of memory reclaims inside itself
    (its own OOM killer) instead of outgrowing its limit and having its
    whole QEMU killed by the host. Releases that write no ``autodeflate``
    (the guest then cannot deflate either) get the balloon as upstream
    formats it.
    """

    def format_dom(self):
        dev = super(HeldBalloon, self).format_dom()
        if dev.get('autodeflate') is not None:
            dev.set('autodeflate', 'off')
        return dev


def _ensure_virtio_balloon(guest):
    """Make the guest's memory balloon a virtio one the guest cannot deflate.

    Upstream adds a balloon of model 'none' when
    ``[libvirt]mem_stats_period_seconds`` is 0; a minimum flavor's guest
    needs a working balloon to hold the memory above its current value, and
    to be grown or shrunk later, whatever its current value is now
    (``HeldBalloon`` says why the guest must not deflate it itself).
    """
    for i, dev in enumerate(guest.devices):
        if isinstance(dev, vconfig.LibvirtConfigMemoryBalloon):
            held = HeldBalloon()
            held.__dict__.update(dev.__dict__)
            held.model = 'virtio'
            guest.devices[i] = held
            return
    balloon = HeldBalloon()
    balloon.model = 'virtio'
    guest.add_device(balloon)
