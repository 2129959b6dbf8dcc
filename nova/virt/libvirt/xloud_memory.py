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

"""The memory a guest of a minimum flavor may use, enforced by the host.

The balloon is a request: a guest that never loads its balloon driver (or
unloads it) uses all the memory of its flavor while placement holds its
current value (measured: QEMU resident 1057 MiB for a 1024 MiB flavor
whose placement claim was 512). So every such guest runs under a memory
cgroup hard limit (libvirt's ``hard_limit`` memory tunable) of

    current memory + ``[xloud] memory_overhead_mb`` (QEMU's own memory)

and a guest that goes beyond it is killed by the host's OOM killer, not
the host or its neighbours.

The limit is set **live**, never in the domain XML: ``<memtune>
<hard_limit>`` at create also makes libvirt raise QEMU's locked-memory
rlimit, which fails where libvirtd lacks CAP_SYS_RESOURCE (measured on our
CI machines), while ``virDomainSetMemoryParameters(AFFECT_LIVE)`` works
everywhere the memory cgroup does. ``launch()`` starts the guest paused,
sets the limit and only then lets it run: the guest never executes an
instruction without its limit. Every start of a guest by the driver (boot,
reboot, stop/start, rebuild, evacuate, cold migration, resize and revert,
unshelve, resume, rescue) goes through ``LibvirtDriver._create_guest``,
which calls ``launch()``.

A live migration does not go through ``launch()``: ``xloud_migration``
carries the limit across. A guest that goes beyond its limit and is killed
is made visible by ``xloud_oom``.
"""

import time

from oslo_log import log as logging

from nova.compute import xloud
import nova.conf
from nova.conf import xloud as xloud_conf
from nova import exception
from nova.i18n import _
from nova.virt.libvirt import xloud_common

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF

xloud_conf.register_opts(CONF)

# VIR_DOMAIN_MEMORY_PARAM_UNLIMITED: libvirt's "no limit", in KiB.
UNLIMITED_KIB = 9007199254740991
HARD_LIMIT = 'hard_limit'
RELEASE_POLL = 0.5


class MemoryLimitError(exception.NovaException):
    msg_fmt = _("Could not put the guest of instance %(instance_uuid)s "
                "under its memory limit (%(limit_mb)d MiB): %(reason)s. "
                "It was not left running without it.")


def host_supported():
    """True when this host has a memory cgroup controller enabled.

    ``/proc/cgroups`` lists the controllers the kernel has, on cgroup v1
    and v2 alike (its 4th column: enabled).
    """
    try:
        with open('/proc/cgroups') as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 4 and fields[0] == 'memory':
                    return fields[3] == '1'
    except OSError:
        pass
    return False


def needs_limit(instance, flavor=None):
    """True when the guest's memory can be below its flavor's."""
    flavor = flavor or instance.flavor
    return (xloud_common.virt_type_supported() and
            xloud.has_minimum(flavor))


def limit_mb(memory_mb):
    """The hard limit of a guest running ``memory_mb``, in MiB."""
    return int(memory_mb) + CONF.xloud.memory_overhead_mb


def limit_kib(memory_mb):
    """The hard limit of a guest running ``memory_mb``, in KiB."""
    return limit_mb(memory_mb) * 1024


def get_limit_kib(dom):
    """The domain's live memory cgroup hard limit in KiB, None: none."""
    lv = xloud_common.libvirt()
    params = dom.memoryParameters(lv.VIR_DOMAIN_AFFECT_LIVE)
    value = params.get(HARD_LIMIT)
    if value is None or int(value) >= UNLIMITED_KIB or int(value) <= 0:
        return None
    return int(value)


def enforced_mb(dom):
    """The guest memory the host allows (limit less overhead), or None."""
    kib = get_limit_kib(dom)
    if kib is None:
        return None
    return max(0, kib // 1024 - CONF.xloud.memory_overhead_mb)


def set_limit(dom, memory_mb):
    dom.setMemoryParameters({HARD_LIMIT: limit_kib(memory_mb)},
                            xloud_common.libvirt().VIR_DOMAIN_AFFECT_LIVE)


def used_mb(dom):
    """What the host sees the guest use: its QEMU's resident memory.

    libvirt computes ``rss`` from the QEMU process on the host
    (/proc/PID/stat); the balloon's ``actual`` is written by the guest's
    driver and proves nothing. None when libvirt cannot tell.
    """
    rss = (dom.memoryStats() or {}).get('rss')
    return None if rss is None else xloud_common.mib(rss)


def launch(guest, instance, pause=False):
    """Start a defined guest, under its memory limit where it needs one.

    The guest starts paused, the limit is set, then it runs (unless the
    caller asked for it paused). If the limit cannot be set the guest is
    destroyed and MemoryLimitError raised: a build is then rescheduled,
    anything else fails visibly rather than run a guest the host does not
    hold to its placement claim.
    """
    if not needs_limit(instance):
        return guest.launch(pause=pause)
    memory_mb = xloud.current(instance)[1]
    result = guest.launch(pause=True)
    limit_or_stop(guest, instance, memory_mb, MemoryLimitError)
    if not pause:
        guest.resume()
    return result


def limit_or_stop(guest, instance, memory_mb, error):
    """Put a running guest under its limit, or stop it and raise ``error``.

    The host does not run a guest it does not hold to its placement claim.
    """
    try:
        set_limit(guest._domain, memory_mb)
    except Exception as e:
        LOG.error('Could not set the memory limit of %d MiB: %s',
                  limit_mb(memory_mb), e, instance=instance)
        try:
            guest.poweroff()
        except Exception:
            LOG.exception('Could not destroy the guest without its memory '
                          'limit', instance=instance)
        raise error(instance_uuid=instance.uuid,
                    limit_mb=limit_mb(memory_mb), reason=str(e))
    LOG.info('Guest memory limited to %d MiB (%d MiB + %d MiB overhead)',
             limit_mb(memory_mb), memory_mb,
             CONF.xloud.memory_overhead_mb, instance=instance)


def _wait(predicate, timeout):
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(RELEASE_POLL)


def adjust(dom, memory_mb, wait_balloon):
    """Change a limited guest's memory, limit and balloon in safe order.

    Growing: the limit is raised first, then the balloon gives the guest
    the memory. Shrinking: the balloon asks the guest for the memory, the
    host must see it given back (QEMU's resident memory within the new
    limit), and only then is the limit lowered. Whatever fails is undone,
    so the guest keeps the limit (and the caller the claim) it had.

    :param dom: the running libvirt domain
    :param memory_mb: the new current memory
    :param wait_balloon: callable(dom, memory_mb), waits for the balloon
    :returns: a list of error strings (empty: done)
    """
    lv = xloud_common.libvirt()
    live = lv.VIR_DOMAIN_AFFECT_LIVE
    old = enforced_mb(dom)
    before_kib = dom.info()[2]
    target_kib = memory_mb * 1024
    if old is not None and memory_mb >= old:
        try:
            set_limit(dom, memory_mb)
        except lv.libvirtError as e:
            return [xloud_common.error(
                'raising the memory limit to %d MiB' % limit_mb(memory_mb),
                e)]
        try:
            dom.setMemoryFlags(target_kib, live)
        except lv.libvirtError as e:
            errors = [xloud_common.error(
                'setting %d MiB of memory' % memory_mb, e)]
            try:
                set_limit(dom, old)
            except lv.libvirtError as e2:
                errors.append(xloud_common.error(
                    'restoring the memory limit', e2))
            return errors
        wait_balloon(dom, memory_mb)
        return []
    # A shrink, or a guest without a limit yet (it gets one).
    restore_kib = old * 1024 if old is not None else before_kib
    try:
        dom.setMemoryFlags(target_kib, live)
    except lv.libvirtError as e:
        return [xloud_common.error(
            'setting %d MiB of memory' % memory_mb, e)]
    wanted = limit_mb(memory_mb)
    seen = {}

    def released():
        seen['used'] = used_mb(dom)
        return seen['used'] is not None and seen['used'] <= wanted

    errors = []
    if not _wait(released, CONF.xloud.memory_release_timeout):
        errors.append(
            'the guest did not give back its memory within %ss: the host '
            'sees its QEMU use %s MiB, above the %d MiB limit %d MiB would '
            'have (%d MiB + %d MiB overhead); it keeps its memory, its '
            'limit and its claim' % (
                CONF.xloud.memory_release_timeout,
                seen.get('used', 'unknown'), wanted, memory_mb, memory_mb,
                CONF.xloud.memory_overhead_mb))
    else:
        try:
            set_limit(dom, memory_mb)
        except lv.libvirtError as e:
            errors.append(xloud_common.error(
                'lowering the memory limit to %d MiB' % wanted, e))
        else:
            # the balloon's own report follows (what libvirt shows)
            wait_balloon(dom, memory_mb)
    if errors:
        try:
            dom.setMemoryFlags(restore_kib, live)
        except lv.libvirtError as e:
            errors.append(xloud_common.error(
                'restoring the balloon to %d MiB' %
                xloud_common.mib(restore_kib), e))
    return errors
