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

vCPUs go through ``virDomainSetVcpusFlags`` and memory through the balloon
(``virDomainSetMemoryFlags``, in KiB). Each is first applied to the
running guest (``VIR_DOMAIN_AFFECT_LIVE``); then what the guest really runs
is read back, and, when the change is to persist, *that* is written to the
persistent definition (``VIR_DOMAIN_AFFECT_CONFIG``) in a separate call:
libvirt's test driver refuses LIVE|CONFIG together for memory, and a
partial result (a vCPU unplug QEMU did not confirm: libvirt error 68,
"vcpu unplug request timed out") must be persisted as what runs, not as
what was asked. After such a timeout libvirt may have lost count (seen
with libvirt 9.0 and QEMU 7.2, ``doc/real-libvirt.rst``): what runs is
then asked of QEMU itself.

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
    vcpus = dom.vcpusFlags(lv.VIR_DOMAIN_AFFECT_LIVE)
    info = dom.info()
    real = {'vcpus': int(vcpus), 'memory_mb': xloud_common.mib(info[2])}
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
    """{'vcpus': n, 'memory_mb': n, ...} the running guest has now.

    For a guest under a memory limit also ``limit_mb`` (the memory the
    limit allows it, None: no limit), ``balloon_mb`` (the guest-reported
    balloon size) and ``used_mb`` (its QEMU's resident memory).
    """
    return _read_domain(_domain(driver, instance), instance)


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


def adjust(driver, instance, vcpus=None, memory_mb=None, persist=True):
    """Adjust the running guest; return what it runs and what failed.

    :returns: {'vcpus': n, 'memory_mb': n, 'errors': [str, ...]}
    :raises: InstanceNotFound / InstanceNotRunning when there is no running
        guest to adjust (nothing was changed)
    """
    if not can_adjust():
        raise NotImplementedError()
    # get_guest() first: it is what imports libvirt into the guest module
    # (a compute whose first guest call is an adjust has it still None)
    dom = _domain(driver, instance)
    lv = xloud_common.libvirt()
    _read_domain(dom, instance)
    live, config = lv.VIR_DOMAIN_AFFECT_LIVE, lv.VIR_DOMAIN_AFFECT_CONFIG
    errors = []
    unconfirmed = False
    if vcpus is not None:
        try:
            dom.setVcpusFlags(vcpus, live)
        except lv.libvirtError as e:
            errors.append(xloud_common.error('setting %d vCPUs' % vcpus, e))
            unconfirmed = (e.get_error_code() ==
                           lv.VIR_ERR_OPERATION_TIMEOUT)
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
    if unconfirmed:
        try:
            real['vcpus'] = _qemu_vcpus(dom)
        except (lv.libvirtError, ImportError, ValueError, KeyError) as e:
            errors.append(xloud_common.error(
                'inspecting the vCPUs QEMU runs', e))
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
    return real
