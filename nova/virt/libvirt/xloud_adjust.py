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

"""Live adjust of a libvirt guest: the calls, and reading back the truth.

vCPUs are plugged with ``virDomainSetVcpusFlags``, and taken away by an
unplug or the host's CPU cap, whichever this host can confirm
(``xloud_cpu``); memory goes through the balloon
(``virDomainSetMemoryFlags``, in KiB). Each is first applied to the
running guest (``VIR_DOMAIN_AFFECT_LIVE``); then what the guest really may
use is read back, and, when the change is to persist, *that* is written to
the persistent definition (``VIR_DOMAIN_AFFECT_CONFIG``) in a separate
call: libvirt's test driver refuses LIVE|CONFIG together for memory, and a
partial result must be persisted as what runs, not as what was asked. A
memory shrink the guest says it cannot give (its balloon statistics,
``xloud_guest_report``) is refused before anything changes.

Errors of the hypervisor are returned, not raised, with the values read
back, so the caller records the truth and still reports the failure.

The memory of a guest whose memory can be below its flavor's is held by
a host-enforced memory cgroup limit (``xloud_memory``): its adjust moves
the limit and the balloon in the safe order, and the memory read back is
what the limit allows, not what the guest's balloon driver reports.
"""

import time

from oslo_log import log as logging
from oslo_serialization import jsonutils
from oslo_utils import importutils

from nova import exception
from nova.virt.libvirt import xloud_common
from nova.virt.libvirt import xloud_cpu
from nova.virt.libvirt import xloud_guest_report
from nova.virt.libvirt import xloud_memory

LOG = logging.getLogger(__name__)

# The balloon reports a new size a little after setMemoryFlags returns.
BALLOON_WAIT = 10.0
BALLOON_POLL = 0.5


def can_adjust():
    return xloud_common.virt_type_supported()


def _domain(driver, instance):
    return driver._host.get_guest(instance)._domain


def _read_domain(dom, instance):
    lv = xloud_common.libvirt()
    if not dom.isActive():
        raise exception.InstanceNotRunning(instance_id=instance.uuid)
    vcpus, plugged, _cap = xloud_cpu.allowed(dom)
    info = dom.info()
    real = {'vcpus': vcpus, 'vcpus_plugged': plugged,
            'memory_mb': xloud_common.mib(info[2])}
    if xloud_memory.needs_limit(instance):
        real['balloon_mb'] = xloud_common.mib(info[2])
        # The balloon's size is what the guest's driver reports; what the
        # guest can use is what the host lets it: the limit, or, without
        # one, all of its maximum memory.
        limited = xloud_memory.enforced_mb(dom)
        real['limit_mb'] = limited
        real['memory_mb'] = (limited if limited is not None
                             else xloud_common.mib(info[1]))
        try:
            real['used_mb'] = xloud_memory.used_mb(dom)
        except lv.libvirtError:
            real['used_mb'] = None
    return real


def read(driver, instance):
    """{'vcpus': n, 'memory_mb': n, ...} the running guest may use now.

    ``vcpus`` is what the host lets it use (its plugged vCPUs, or fewer
    under a CPU cap: ``xloud_cpu``), ``vcpus_plugged`` what it has plugged;
    ``guest`` is what the guest says of itself (``xloud_guest_report``:
    for the user, never for a claim). For a guest under a memory limit
    also ``limit_mb`` (the memory the limit allows it, None: no limit),
    ``balloon_mb`` (the guest-reported balloon size) and ``used_mb`` (its
    QEMU's resident memory).
    """
    dom = _domain(driver, instance)
    real = _read_domain(dom, instance)
    real['guest'] = xloud_guest_report.read(dom, instance)
    return real


def _qemu_vcpus(dom):
    """The vCPUs QEMU has plugged, when libvirt lost count of an unplug.

    libvirt 9.0 with QEMU 7.2 times out a vCPU unplug (error 68, "Unplug
    result must be manually inspected in the domain") although the guest
    ejected the CPU at once: QEMU announces DEVICE_DELETED for the vCPU's
    lapic child only, so libvirt keeps counting the vCPU (and refuses later
    vCPU changes until the domain is restarted). QEMU's
    query-hotpluggable-cpus is the inspection libvirt asks for. (libvirt
    logs the domain as tainted by a custom monitor command; it is asked
    only after such a timeout.)
    """
    libvirt_qemu = importutils.import_module('libvirt_qemu')
    reply = jsonutils.loads(libvirt_qemu.qemuMonitorCommand(
        dom, '{"execute": "query-hotpluggable-cpus"}', 0))
    return sum(1 for cpu in reply['return'] if cpu.get('qom-path'))


def _wait_balloon(dom, memory_mb):
    deadline = time.monotonic() + BALLOON_WAIT
    while xloud_common.mib(dom.info()[2]) != memory_mb:
        if time.monotonic() >= deadline:
            return
        time.sleep(BALLOON_POLL)


def _adjust_vcpus(driver, dom, instance, vcpus):
    """Give the guest ``vcpus``: plug, unplug or cap (``xloud_cpu``).

    :returns: (errors, unconfirmed: an unplug libvirt did not confirm,
        kept: why more vCPUs stay plugged than the guest may use, or None)
    """
    lv = xloud_common.libvirt()
    errors = []
    unconfirmed = False
    kept = None
    n = xloud_cpu.plugged(dom)
    if vcpus > n or (vcpus < n and xloud_cpu.unplug_confirmed(driver._host)):
        try:
            dom.setVcpusFlags(vcpus, lv.VIR_DOMAIN_AFFECT_LIVE)
        except lv.libvirtError as e:
            errors.append(xloud_common.error('setting %d vCPUs' % vcpus, e))
            unconfirmed = (e.get_error_code() ==
                           lv.VIR_ERR_OPERATION_TIMEOUT)
            if vcpus < n:
                kept = xloud_cpu.KEPT_UNPLUG_FAILED
    elif vcpus < n:
        kept = xloud_cpu.why_kept(driver._host)
    try:
        # a shrink is held by the host first, the guest is asked after
        xloud_cpu.enforce(dom, vcpus, kept)
    except lv.libvirtError as e:
        errors.append(xloud_common.error(
            'capping the CPU time at %d vCPUs\' worth' % vcpus, e))
    # The guest's side: as many online as it may use now (the extra ones
    # offline, new ones online; all of them if the cap could not be set).
    target = xloud_cpu.allowed(dom)[0]
    xloud_cpu.set_guest_online(dom, instance, target)
    if vcpus > n:
        xloud_cpu.online_after_hotplug(dom, instance, target)
    return errors, unconfirmed, kept


def adjust(driver, instance, vcpus=None, memory_mb=None, persist=True):
    """Adjust the running guest; return what it runs and what failed.

    :returns: {'vcpus': n, 'memory_mb': n, 'errors': [str, ...], ...}:
        ``read()``'s keys, and ``vcpus_kept`` (why more vCPUs stay plugged
        than the guest may use, an ``xloud_cpu.KEPT_*`` code) after a vCPU
        shrink the host holds by its CPU cap
    :raises: InstanceNotFound / InstanceNotRunning when there is no running
        guest to adjust (nothing was changed)
    """
    if not can_adjust():
        raise NotImplementedError()
    # get_guest() first: it is what imports libvirt into the guest module
    # (a compute whose first guest call is an adjust has it still None)
    dom = _domain(driver, instance)
    lv = xloud_common.libvirt()
    before = _read_domain(dom, instance)
    live, config = lv.VIR_DOMAIN_AFFECT_LIVE, lv.VIR_DOMAIN_AFFECT_CONFIG
    errors = []
    unconfirmed = False
    kept = None
    if memory_mb is not None and memory_mb < before['memory_mb']:
        # the guest's consent first: a shrink it says it cannot give is
        # refused before anything changes (neither its vCPUs nor memory)
        refusal = xloud_guest_report.shrink_refusal(dom, memory_mb)
        if refusal:
            real = dict(before, errors=[refusal], guest=xloud_guest_report
                        .read(dom, instance))
            LOG.warning('Live adjust refused: %s', refusal,
                        instance=instance)
            return real
    if vcpus is not None:
        errors, unconfirmed, kept = _adjust_vcpus(driver, dom, instance,
                                                  vcpus)
    if memory_mb is not None:
        xloud_guest_report.balloon_moved(dom)
    if memory_mb is not None and xloud_memory.needs_limit(instance):
        errors.extend(xloud_memory.adjust(dom, memory_mb, _wait_balloon))
    elif memory_mb is not None:
        try:
            dom.setMemoryFlags(memory_mb * 1024, live)
        except lv.libvirtError as e:
            errors.append(xloud_common.error(
                'setting %d MiB of memory' % memory_mb, e))
        else:
            _wait_balloon(dom, memory_mb)
    real = _read_domain(dom, instance)
    if unconfirmed and real['vcpus'] > vcpus:
        # not even capped: what QEMU runs is the truth
        try:
            real['vcpus'] = _qemu_vcpus(dom)
        except (lv.libvirtError, ImportError, ValueError, KeyError) as e:
            errors.append(xloud_common.error(
                'inspecting the vCPUs QEMU runs', e))
    if real['vcpus_plugged'] > real['vcpus']:
        real['vcpus_kept'] = kept or xloud_cpu.why_kept(driver._host)
    if persist:
        if vcpus is not None:
            try:
                dom.setVcpusFlags(real['vcpus'], config)
            except lv.libvirtError as e:
                errors.append(xloud_common.error(
                    'persisting %d vCPUs' % real['vcpus'], e))
        if memory_mb is not None:
            try:
                dom.setMemoryFlags(real['memory_mb'] * 1024, config)
            except lv.libvirtError as e:
                errors.append(xloud_common.error(
                    'persisting %d MiB of memory' % real['memory_mb'], e))
    for message in errors:
        LOG.warning('Live adjust: %s', message, instance=instance)
    real['errors'] = errors
    real['guest'] = xloud_guest_report.read(dom, instance)
    return real
