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

"""What a guest says of itself: its vCPUs online, its memory, its free.

Two sources, both the guest's own word: the guest agent (where the image
has one, ``hw_qemu_guest_agent=yes``), which tells the vCPUs its kernel has
online, and the balloon's statistics (``virDomainMemoryStats``, which the
guest's balloon driver refreshes every ``[libvirt]
mem_stats_period_seconds``), which tell the memory its kernel has
(``available``) and could give (``usable``). Shown to the user, and used
to refuse at once a memory shrink the guest says it cannot give: never
to raise a claim, and never instead of the host's own checks (a guest
whose statistics lie gains nothing: the host limit still holds it, and a
shrink still waits for the host to see the memory back).
"""

import time

from nova.compute import xloud_guest_view
from nova.virt.libvirt import xloud_common
from nova.virt.libvirt import xloud_cpu


# When this compute last moved each guest's balloon (domain UUID -> time):
# the guest's statistics from before it describe the old size.
_BALLOON_MOVED = {}


def balloon_moved(dom):
    """Called whenever the balloon of ``dom`` is asked to move."""
    _BALLOON_MOVED[dom.UUIDString()] = time.time()


def stale(uuid, updated):
    """True when statistics stamped ``updated`` (libvirt's last-update,
    whole seconds) may be from before this compute last moved the balloon:
    a report of the second of the move may be from before it (measured:
    1 s old, from before).
    """
    return int(updated) <= int(_BALLOON_MOVED.get(uuid, 0))


def _stats(dom):
    """The balloon's statistics in MiB and their age, or None.

    ``available`` and ``usable`` are left out while the guest has not
    reported since this compute last moved its balloon (its driver reports
    every stats period): they would describe the size before, and a shrink
    right after a growth would be refused for memory the guest now has.
    """
    lv = xloud_common.libvirt()
    try:
        stats = dom.memoryStats() or {}
    except lv.libvirtError:
        return None
    found = {}
    if 'actual' in stats:
        found['actual'] = xloud_common.mib(stats['actual'])
    updated = int(stats.get('last_update') or 0)
    if updated:
        found['age'] = max(0, int(time.time() - updated))
    if updated and stale(dom.UUIDString(), updated):
        return found
    for key in ('available', 'usable'):
        if key in stats:
            found[key] = xloud_common.mib(stats[key])
    return found


def read(dom, instance):
    """{'agent', 'vcpus_online', 'memory_mb', 'usable_mb', 'balloon_mb',
    'stats_age', 'at'}: what the guest says now (None where it says
    nothing); ``agent`` is an ``xloud_cpu.AGENT_*`` outcome and
    ``agent_error`` libvirt's message when the agent did not answer.
    """
    agent, online, error = xloud_cpu.guest_online(dom, instance)
    stats = _stats(dom) or {}
    report = {'agent': agent, 'vcpus_online': online,
              'memory_mb': stats.get('available'),
              'usable_mb': stats.get('usable'),
              'balloon_mb': stats.get('actual'),
              'stats_age': stats.get('age'),
              'at': int(time.time())}
    if error:
        report['agent_error'] = error
    return report


def shrink_refusal(dom, memory_mb):
    """Why the guest cannot give back memory down to ``memory_mb`` now.

    None when it can, or when its statistics are missing or stale (the
    shrink then goes on, and the host's check after the balloon decides).
    """
    stats = _stats(dom)
    if not stats or 'usable' not in stats or 'actual' not in stats:
        return None
    return xloud_guest_view.shrink_refusal(
        memory_mb, stats['actual'], stats['usable'], stats.get('age'))
