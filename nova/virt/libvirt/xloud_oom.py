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

"""A guest the host killed: detected by the driver, with the kernel's why.

A guest of a minimum flavor runs under a memory cgroup limit
(``xloud_memory``); one that goes beyond it is killed by the host's OOM
killer. libvirt then reports a stop it did not ask for
(``VIR_DOMAIN_EVENT_STOPPED_FAILED``: QEMU's monitor closed without a
shutdown, or ``_CRASHED``). ``lifecycle_event()`` marks such an event, and
``Host`` hands it on at once (not 15 s later like a stop, which a reboot's
start may follow). The compute manager records it
(``nova.compute.xloud_manager.lifecycle_event``): it asks the mark's
``explain()``, which reads the host kernel's own record of the OOM kill in
the domain's memory cgroup (``/dev/kmsg``) and answers with the error to
record (an instance fault and an ``xloud_memory_limit`` action). The
compute's power state sync then stops the server (SHUTOFF), as for any
guest that stopped by itself.
"""

import io
import os
import re
import time

from nova.compute import xloud
import nova.conf
from nova import exception
from nova.i18n import _
import nova.privsep
from nova.virt import event as virtevent
from nova.virt.libvirt import xloud_memory

CONF = nova.conf.CONF

# libvirt's STOPPED event (virDomainEventType), and its details for a QEMU
# that ended unasked (virDomainEventStoppedDetailType): FAILED is what
# libvirt sends when QEMU's monitor closes without a shutdown (a SIGKILL:
# the OOM killer). Values of libvirt's stable API.
EVENT_STOPPED = 5
STOPPED_CRASHED = 2
STOPPED_FAILED = 5
# How far back (seconds) a kernel OOM record may be to explain a stop.
OOM_RECORD_WINDOW = 300
# The kernel's one line per OOM kill (mm/oom_kill.c, dump_oom_summary).
_OOM_LINE = re.compile(r'oom-kill:constraint=CONSTRAINT_MEMCG,.*'
                       r'oom_memcg=(?P<memcg>[^,]*),.*task=(?P<task>[^,]*),'
                       r'pid=(?P<pid>\d+)')


class GuestMemoryLimitExceeded(exception.NovaException):
    msg_fmt = _("The guest exceeded its memory limit of %(limit_mb)d MiB "
                "(%(memory_mb)d MiB claimed + %(overhead_mb)d MiB QEMU "
                "overhead): the host killed its QEMU (kernel: "
                "%(evidence)s).")


class GuestStoppedByHost(exception.NovaException):
    msg_fmt = _("The guest stopped without being asked (libvirt: %(how)s) "
                "while under its memory limit of %(limit_mb)d MiB; the host's "
                "kernel log %(kernel)s.")


def lifecycle_event(uuid, transition, event, detail):
    """The LifecycleEvent for libvirt's event, marked (``unasked_stop``)
    when the host ended the guest unasked: a STOPPED event whose detail is
    FAILED or CRASHED.
    """
    ev = virtevent.LifecycleEvent(uuid, transition)
    if (transition == virtevent.EVENT_LIFECYCLE_STOPPED and
            event == EVENT_STOPPED and
            detail in (STOPPED_FAILED, STOPPED_CRASHED)):
        ev.xloud_unasked_stop = UnaskedStop(detail)
    return ev


def unasked_stop(event):
    """The event's UnaskedStop, or None for every other event."""
    return getattr(event, 'xloud_unasked_stop', None)


class UnaskedStop(object):
    """libvirt's word that a guest stopped unasked, and how to say why."""

    def __init__(self, detail):
        self.detail = detail

    def explain(self, instance):
        """What to record of the stop: (the error, the kernel's line).

        The error is GuestMemoryLimitExceeded when the kernel recorded an
        OOM kill in the domain's memory cgroup, else GuestStoppedByHost
        (the kernel's line is then None). None when the guest runs under
        no memory limit (nothing of ours to explain).
        """
        if not xloud_memory.needs_limit(instance):
            return None
        memory_mb = xloud.live(instance)[1]
        limit_mb = xloud_memory.limit_mb(memory_mb)
        try:
            record = oom_record(instance.name, kernel_records())
            kernel = ('has no record of an out-of-memory kill in its memory '
                      'cgroup' if record is None else None)
        except Exception as e:
            record, kernel = None, 'could not be read (%s)' % e
        if record is None:
            how = ('crashed' if self.detail == STOPPED_CRASHED
                   else 'QEMU ended (failed)')
            return GuestStoppedByHost(how=how, limit_mb=limit_mb,
                                      kernel=kernel), None
        return GuestMemoryLimitExceeded(
            limit_mb=limit_mb, memory_mb=memory_mb,
            overhead_mb=CONF.xloud.memory_overhead_mb,
            evidence='OOM kill of %s pid %s in %s' % (
                record.group('task'), record.group('pid'),
                record.group('memcg'))), record.string


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
