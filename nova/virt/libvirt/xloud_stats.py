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

"""Every running guest of the host, read in one libvirt call.

The autoscaler (``nova.compute.xloud_autoscaler``) reads each guest every
second: one ``virConnectGetAllDomainStats`` for the whole host, whatever
the number of guests, rather than a call per guest. Of each guest it keeps
what the host measures (its CPU time, the memory QEMU holds) and what the
guest's balloon driver reports (its memory in use and free), the latter
only when the guest has reported since this compute last moved its
balloon (``xloud_guest_report.stale``).
"""

import collections
import time

from oslo_log import log as logging

from nova.virt.libvirt import xloud_common
from nova.virt.libvirt import xloud_guest_report

LOG = logging.getLogger(__name__)

# libvirt's constants (libvirt-domain.h), named where the module has them
_STATS = ('VIR_DOMAIN_STATS_STATE', 'VIR_DOMAIN_STATS_CPU_TOTAL',
          'VIR_DOMAIN_STATS_BALLOON', 'VIR_DOMAIN_STATS_VCPU')
_DEFAULTS = {'VIR_DOMAIN_STATS_STATE': 1, 'VIR_DOMAIN_STATS_CPU_TOTAL': 2,
             'VIR_DOMAIN_STATS_BALLOON': 4, 'VIR_DOMAIN_STATS_VCPU': 8,
             'VIR_CONNECT_GET_ALL_DOMAINS_STATS_RUNNING': 16}

# One guest's reading: its CPU time (ns), its vCPUs plugged, the balloon
# size, memory in use and free by the guest's statistics (MiB; None when
# stale or absent), QEMU's resident memory as the host sees it (MiB, None
# where libvirt has none), and the time its vCPUs waited for a host CPU
# (ns, the sum of libvirt's vcpu.N.delay; None where libvirt has none).
Reading = collections.namedtuple(
    'Reading', 'cpu_ns vcpus balloon_mb used_mb free_mb rss_mb delay_ns')


def _constant(lv, name):
    return getattr(lv, name, _DEFAULTS[name])


# Balloon statistics older than this (seconds) decide nothing.
STATS_MAX_AGE = 5
# domain UUID -> domain ID whose statistics period this compute set: a
# guest started again has a new ID, and Nova's period again
_FAST = {}


def sample(driver, memory_watched=()):
    """{domain UUID: Reading} of the running guests of the host.

    :param memory_watched: UUIDs of guests whose memory is autoscaled:
        their balloon driver is told to report every second
    """
    lv = xloud_common.libvirt()
    conn = driver._host.get_connection()
    stats = 0
    for name in _STATS:
        stats |= _constant(lv, name)
    found = conn.getAllDomainStats(
        stats, _constant(lv, 'VIR_CONNECT_GET_ALL_DOMAINS_STATS_RUNNING'))
    wall = time.time()
    readings = {}
    watched = set(memory_watched)
    for dom, values in found:
        uuid = dom.UUIDString()
        readings[uuid] = _reading(uuid, values, wall)
        if uuid in watched and _FAST.get(uuid) != dom.ID():
            _report_every_second(lv, dom, uuid)
    return readings


def _report_every_second(lv, dom, uuid):
    """Have the guest's balloon driver report every second.

    Nova sets the period from ``[libvirt] mem_stats_period_seconds``
    (10 s by default) when it starts the guest: too slow for a guest that
    fills its memory. Set live only, once per run of the guest.
    """
    try:
        dom.setMemoryStatsPeriod(1, lv.VIR_DOMAIN_AFFECT_LIVE)
        _FAST[uuid] = dom.ID()
    except lv.libvirtError as e:
        _FAST[uuid] = dom.ID()
        LOG.info('%s', xloud_common.error(
            'Could not set the balloon statistics period of %s' % uuid, e))


def _mib(values, key):
    value = values.get(key)
    return None if value is None else xloud_common.mib(value)


def _reading(uuid, values, wall):
    balloon = _mib(values, 'balloon.current')
    usable = _mib(values, 'balloon.usable')
    updated = values.get('balloon.last-update')
    if (usable is None or balloon is None or not updated or
            wall - updated > STATS_MAX_AGE or
            xloud_guest_report.stale(uuid, updated)):
        used = free = None
    else:
        free = usable
        used = max(0, balloon - usable)
    delays = [v for k, v in values.items()
              if k.startswith('vcpu.') and k.endswith('.delay')]
    return Reading(values.get('cpu.time'), values.get('vcpu.current'),
                   balloon, used, free, _mib(values, 'balloon.rss'),
                   sum(delays) if delays else None)
