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

A live migration does not go through ``launch()``. The live limit is in
the source's migratable XML (``<memtune><hard_limit>``), which Nova sends
as the destination and persistent XML; a destination libvirtd given it
raises the incoming QEMU's locked-memory rlimit, and the migration fails
where a create with the limit would (measured on libvirt 9.0,
``realvirt/test_live_migration.py``: the guest stays on the source). So
``migration_xml()`` takes the limit out of that XML on the source
(``migration.get_updated_guest_xml``) and ``limit_migrated()`` sets it live
on the destination (``post_live_migration_at_destination``). In between
the guest runs without its limit, for seconds and within its flavor's
memory; one that took more than its limit meanwhile is stopped when it is
set. It cannot be set earlier: libvirt holds a ``setMemoryParameters`` on
an incoming domain until the guest runs on the destination (measured).

A guest the host killed is contained *visibly*: libvirt reports a stop it
did not ask for (``VIR_DOMAIN_EVENT_STOPPED_FAILED``: QEMU's monitor closed
without a shutdown, or ``_CRASHED``); ``Host`` hands that event on at once
(not 15 s later like a stop, which a reboot's start may follow), and
``explain()`` reads the host kernel's own record of the OOM kill in the
domain's memory cgroup (``/dev/kmsg``), then logs one ERROR line and
records an instance fault and an ``xloud_memory_limit`` instance action
whose event says the guest exceeded its limit of N MiB. The compute's power
state sync then stops the server (SHUTOFF), as for any guest that stopped
by itself.
"""

import io
import os
import re
import time

from oslo_log import log as logging

from nova.compute import utils as compute_utils
from nova.compute import xloud
import nova.conf
from nova.conf import xloud as xloud_conf
from nova import context as nova_context
from nova import exception
from nova.i18n import _
from nova import objects
import nova.privsep
from nova.virt import event as virtevent
from nova.virt.libvirt import guest as libvirt_guest
from nova import xloud_compat

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF

xloud_conf.register_opts(CONF)

# VIR_DOMAIN_MEMORY_PARAM_UNLIMITED: libvirt's "no limit", in KiB.
UNLIMITED_KIB = 9007199254740991
HARD_LIMIT = 'hard_limit'
RELEASE_POLL = 0.5
_VIRT_TYPES = ('kvm', 'qemu')


class MemoryLimitError(exception.NovaException):
    msg_fmt = _("Could not put the guest of instance %(instance_uuid)s "
                "under its memory limit (%(limit_mb)d MiB): %(reason)s. "
                "It was not left running without it.")


class GuestMemoryLimitExceeded(exception.NovaException):
    msg_fmt = _("The guest exceeded its memory limit of %(limit_mb)d MiB "
                "(%(memory_mb)d MiB claimed + %(overhead_mb)d MiB QEMU "
                "overhead): the host killed its QEMU (kernel: "
                "%(evidence)s).")


class GuestStoppedByHost(exception.NovaException):
    msg_fmt = _("The guest stopped without being asked (libvirt: %(how)s) "
                "while under its memory limit of %(limit_mb)d MiB; the host's "
                "kernel log %(kernel)s.")


# libvirt's details of a STOPPED event for a QEMU that ended unasked
# (virDomainEventStoppedDetailType): FAILED is what libvirt sends when
# QEMU's monitor closes without a shutdown (a SIGKILL: the OOM killer).
STOPPED_CRASHED = 2
STOPPED_FAILED = 5
ACTION = 'xloud_memory_limit'
EVENT = 'compute_xloud_memory_limit'
# How far back (seconds) a kernel OOM record may be to explain a stop.
OOM_RECORD_WINDOW = 300
# The kernel's one line per OOM kill (mm/oom_kill.c, dump_oom_summary).
_OOM_LINE = re.compile(r'oom-kill:constraint=CONSTRAINT_MEMCG,.*'
                       r'oom_memcg=(?P<memcg>[^,]*),.*task=(?P<task>[^,]*),'
                       r'pid=(?P<pid>\d+)')


def _libvirt():
    return libvirt_guest.libvirt


def _mib(kib):
    return (int(kib) + 512) // 1024


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
    return (CONF.libvirt.virt_type in _VIRT_TYPES and
            xloud.has_minimum(flavor))


def limit_kib(memory_mb):
    """The hard limit of a guest running ``memory_mb``, in KiB."""
    return (int(memory_mb) + CONF.xloud.memory_overhead_mb) * 1024


def get_limit_kib(dom):
    """The domain's live memory cgroup hard limit in KiB, None: none."""
    params = dom.memoryParameters(_libvirt().VIR_DOMAIN_AFFECT_LIVE)
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
                            _libvirt().VIR_DOMAIN_AFFECT_LIVE)


def used_mb(dom):
    """What the host sees the guest use: its QEMU's resident memory.

    libvirt computes ``rss`` from the QEMU process on the host
    (/proc/PID/stat); the balloon's ``actual`` is written by the guest's
    driver and proves nothing. None when libvirt cannot tell.
    """
    rss = (dom.memoryStats() or {}).get('rss')
    return None if rss is None else _mib(rss)


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
    _limit_or_stop(guest, instance, memory_mb, MemoryLimitError)
    if not pause:
        guest.resume()
    return result


class MigratedMemoryLimitError(exception.NovaException):
    msg_fmt = _("Could not put the guest of instance %(instance_uuid)s, "
                "live-migrated to this host, under its memory limit "
                "(%(limit_mb)d MiB): %(reason)s. It was stopped rather than "
                "left running without it.")


def migration_xml(instance, xml_doc):
    """The destination XML of a live migration, without the live limit.

    ``xml_doc`` (an lxml element) is what Nova builds from the source's
    migratable XML (``migration.get_updated_guest_xml``); its ``<memtune>
    <hard_limit>`` is the live limit ``launch()`` set. A destination libvirtd
    given it raises the incoming QEMU's locked-memory rlimit to it, which
    fails without CAP_SYS_RESOURCE, and the migration with it; and as the
    persistent XML it would make every later start of the definition fail
    the same way. ``limit_migrated()`` sets it live on the destination.
    Other memory tunables stay.
    """
    if not needs_limit(instance):
        return xml_doc
    memtune = xml_doc.find('./memtune')
    if memtune is None:
        return xml_doc
    for el in memtune.findall(HARD_LIMIT):
        memtune.remove(el)
    if not len(memtune):
        xml_doc.remove(memtune)
    return xml_doc


def limit_migrated(host, instance):
    """Set the live limit of a guest live-migrated to this host.

    Called on the destination once the migration is done
    (``LibvirtDriver.post_live_migration_at_destination``); a no-op when the
    guest already has its limit (or needs none). A guest that took more
    than its limit meanwhile is over it when it is set: on cgroup v2 the
    kernel then kills it (its OOM killer), on cgroup v1 the kernel refuses
    the limit (EBUSY: it cannot reclaim the memory). A limit that cannot be
    set stops the guest, as ``launch()`` does: the host does not run a
    guest it does not hold to its placement claim.

    :param host: the driver's ``Host`` (the guest is looked up only when
        it needs a limit)
    :raises: MigratedMemoryLimitError (the guest destroyed)
    """
    try:
        needed = needs_limit(instance)
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
    if get_limit_kib(guest._domain) != limit_kib(memory_mb):
        _limit_or_stop(guest, instance, memory_mb, MigratedMemoryLimitError)


def _limit_or_stop(guest, instance, memory_mb, error):
    """Put a running guest under its limit, or stop it and raise ``error``.

    The host does not run a guest it does not hold to its placement claim.
    """
    try:
        set_limit(guest._domain, memory_mb)
    except Exception as e:
        LOG.error('Could not set the memory limit of %d MiB: %s',
                  _mib(limit_kib(memory_mb)), e, instance=instance)
        try:
            guest.poweroff()
        except Exception:
            LOG.exception('Could not destroy the guest without its memory '
                          'limit', instance=instance)
        raise error(instance_uuid=instance.uuid,
                    limit_mb=_mib(limit_kib(memory_mb)), reason=str(e))
    LOG.info('Guest memory limited to %d MiB (%d MiB + %d MiB overhead)',
             _mib(limit_kib(memory_mb)), memory_mb,
             CONF.xloud.memory_overhead_mb, instance=instance)


def _error(what, exc):
    lv = _libvirt()
    code = exc.get_error_code() if isinstance(exc, lv.libvirtError) else None
    return '%s: %s%s' % (what, exc, ' (libvirt error %s)' % code
                         if code is not None else '')


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
    lv = _libvirt()
    live = lv.VIR_DOMAIN_AFFECT_LIVE
    old = enforced_mb(dom)
    before_kib = dom.info()[2]
    target_kib = memory_mb * 1024
    if old is not None and memory_mb >= old:
        try:
            set_limit(dom, memory_mb)
        except lv.libvirtError as e:
            return [_error('raising the memory limit to %d MiB' %
                           _mib(limit_kib(memory_mb)), e)]
        try:
            dom.setMemoryFlags(target_kib, live)
        except lv.libvirtError as e:
            errors = [_error('setting %d MiB of memory' % memory_mb, e)]
            try:
                set_limit(dom, old)
            except lv.libvirtError as e2:
                errors.append(_error('restoring the memory limit', e2))
            return errors
        wait_balloon(dom, memory_mb)
        return []
    # A shrink, or a guest without a limit yet (it gets one).
    restore_kib = old * 1024 if old is not None else before_kib
    try:
        dom.setMemoryFlags(target_kib, live)
    except lv.libvirtError as e:
        return [_error('setting %d MiB of memory' % memory_mb, e)]
    wanted = memory_mb + CONF.xloud.memory_overhead_mb
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
            errors.append(_error('lowering the memory limit to %d MiB' %
                                 wanted, e))
        else:
            # the balloon's own report follows (what libvirt shows)
            wait_balloon(dom, memory_mb)
    if errors:
        try:
            dom.setMemoryFlags(restore_kib, live)
        except lv.libvirtError as e:
            errors.append(_error('restoring the balloon to %d MiB' %
                                 _mib(restore_kib), e))
    return errors


# ---- a guest the host killed, made visible


def lifecycle_event(uuid, transition, event, detail):
    """The LifecycleEvent for libvirt's event, marked when the host ended
    the guest unasked (a STOPPED event whose detail is FAILED or CRASHED).
    """
    ev = virtevent.LifecycleEvent(uuid, transition)
    ev.xloud_unasked_stop = (
        transition == virtevent.EVENT_LIFECYCLE_STOPPED and
        event == getattr(_libvirt(), 'VIR_DOMAIN_EVENT_STOPPED', 5) and
        detail in (STOPPED_FAILED, STOPPED_CRASHED))
    ev.xloud_detail = detail
    return ev


def unasked_stop(event):
    return bool(getattr(event, 'xloud_unasked_stop', False))


def _kmsg_records():
    """The kernel log's records (/dev/kmsg): [(usec since boot, text)]."""
    fd = os.open('/dev/kmsg', os.O_RDONLY | os.O_NONBLOCK)
    found = []
    # io.FileIO reads with read(2) itself: eventlet's green os.read would
    # wait for the kernel's next record instead of stopping at the last
    with io.FileIO(fd, 'rb', closefd=True) as f:
        while True:
            try:
                raw = f.read(8192)
            except BrokenPipeError:   # records overwritten meanwhile
                continue
            if not raw:   # None: no more records now; b'': end
                break
            head, _sep, text = raw.decode('utf-8', 'replace').partition(';')
            fields = head.split(',')
            if len(fields) >= 3 and fields[2].isdigit():
                found.append((int(fields[2]), text.split('\n', 1)[0]))
    return found


@nova.privsep.sys_admin_pctxt.entrypoint
def _kmsg_records_privileged():
    return _kmsg_records()


def kernel_records():
    """/dev/kmsg read directly (root, or kernel.dmesg_restrict=0), else
    through privsep (the patch set gives its sys_admin context CAP_SYSLOG).
    """
    try:
        return _kmsg_records()
    except PermissionError:
        return _kmsg_records_privileged()


def _memcg_names(memcg):
    # systemd escapes '-' in unit names: machine-qemu\x2d3\x2dinst.scope
    return memcg.replace('\\x2d', '-')


def oom_record(domain_name, records, now_usec=None):
    """The kernel's newest record of an OOM kill in the memory cgroup of
    the libvirt domain ``domain_name`` (libvirt's machine name is
    ``qemu-<id>-<name>``) within OOM_RECORD_WINDOW (its match: ``memcg``,
    ``task``, ``pid``), or None.
    """
    if now_usec is None:
        now_usec = int(time.monotonic() * 1000000)
    machine = re.compile(r'qemu-\d+-%s(?![\w-])' % re.escape(domain_name))
    best = None
    for usec, text in records:
        m = _OOM_LINE.search(text)
        if (m and machine.search(_memcg_names(m.group('memcg'))) and
                now_usec - usec <= OOM_RECORD_WINDOW * 1000000):
            best = m
    return best


def explain(event):
    """Explain, in the background, a stop the host did not ask for."""
    if unasked_stop(event):
        xloud_compat.spawn(_explain, event.get_instance_uuid(),
                           getattr(event, 'xloud_detail', None))


def _explain(uuid, detail):
    ctxt = nova_context.get_admin_context()
    try:
        instance = objects.Instance.get_by_uuid(ctxt, uuid,
                                                expected_attrs=['flavor'])
    except exception.InstanceNotFound:
        return
    if not needs_limit(instance):
        return
    memory_mb = xloud.current(instance)[1]
    limit_mb = _mib(limit_kib(memory_mb))
    how = 'crashed' if detail == STOPPED_CRASHED else 'QEMU ended (failed)'
    try:
        record = oom_record(instance.name, kernel_records())
        kernel = ('has no record of an out-of-memory kill in its memory '
                  'cgroup' if record is None else None)
    except Exception as e:
        record, kernel = None, 'could not be read (%s)' % e
    if record is not None:
        exc = GuestMemoryLimitExceeded(
            limit_mb=limit_mb, memory_mb=memory_mb,
            overhead_mb=CONF.xloud.memory_overhead_mb,
            evidence='OOM kill of %s pid %s in %s' % (
                record.group('task'), record.group('pid'),
                record.group('memcg')))
    else:
        exc = GuestStoppedByHost(how=how, limit_mb=limit_mb, kernel=kernel)
    LOG.error('xloud: %s%s', exc.format_message(),
              ' Kernel record: %s' % record.string if record else '',
              instance=instance)
    try:
        compute_utils.add_instance_fault_from_exc(ctxt, instance, exc)
        objects.InstanceAction.action_start(ctxt, uuid, ACTION,
                                            want_result=False)
        objects.InstanceActionEvent.event_start(ctxt, uuid, EVENT,
                                                want_result=False,
                                                host=CONF.host)
        objects.InstanceActionEvent.event_finish_with_failure(
            ctxt, uuid, EVENT, exc_val=exc.format_message(),
            exc_tb=record.string if record else exc.format_message(),
            want_result=False)
    except Exception:
        LOG.exception('xloud: could not record why the guest stopped',
                      instance=instance)
