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

"""Options of XLoud Nova, group ``[xloud]``.

Not registered by ``nova.conf`` (an upstream file): the modules that use
them call ``register_opts()`` when they are imported.
"""

from oslo_config import cfg

xloud_group = cfg.OptGroup(
    'xloud', title='XLoud options',
    help='Live vertical scaling of servers (minimum-resources flavors).')

xloud_opts = [
    cfg.IntOpt('memory_overhead_mb',
               default=128, min=0,
               help="""
Memory a guest's QEMU process may use on top of the guest's current memory
before the host's memory cgroup limit stops it, for servers of flavors
with ``minimum_memory``/``minimum_cpu`` (their memory can be below the
flavor's). The host enforces: hard limit = current memory + this value.
Too low and an honest guest's QEMU is killed by the host's OOM killer;
too high and a hostile guest can use that much more than placement holds
for it. Measured: about 104 MiB (QEMU 7.2 under TCG, a 1 GiB guest with
one disk and a serial console); KVM needs less, more devices need more.
The host's ``reserved_host_memory_mb`` should cover this value times the
number of such servers the host may run.
"""),
    cfg.IntOpt('memory_release_timeout',
               default=30, min=0,
               help="""
Seconds a live memory shrink waits for the host to see the guest's memory
given back (its QEMU's resident memory within the new limit) before the
limit is lowered. A guest that has not given it back by then keeps its
memory, limit and placement claim; the adjust ends in error.
"""),
    cfg.IntOpt('adjust_timeout',
               default=300, min=0,
               help="""
Seconds after which a live adjust that its compute has not begun is ended
in error, so that no server stays in the adjust's task state: the request
was lost (RabbitMQ restarted with it in its queue) or its compute was
stopped or hung that long. A periodic task of the compute (every 60 s)
ends such an adjust: the guest is read, recorded and claimed as it runs,
the action's event fails saying why, the task state is released; the
request, if it still comes, is dropped. An adjust the compute is running
is never cut short (the driver's own timeouts bound it). A compute that
never comes back cannot run it: evacuating the server ends its adjust (on
the new host, as the rebuild finishes). 0 disables it (as Nova's
``reboot_timeout``).
"""),
    cfg.IntOpt('capability_cache_seconds',
               default=30, min=0,
               help="""
Seconds a nova-api process keeps the answer "this compute can adjust live"
(both XLoud traits on its compute node's resource provider) before it
reads the provider's traits from placement again. A compute without them
is read again every time, so an upgraded compute adjusts at once; one
whose traits are removed (a rollback, ``upgrade/README.rst``) is refused
after at most this long. Whether the compute is up is never cached (the
service group decides at every request). 0 reads placement every time.
"""),
    cfg.StrOpt('vcpu_unplug',
               default='auto', choices=('auto', 'always', 'never'),
               help="""
How a live vCPU shrink takes vCPUs away from a guest of a minimum-resources
flavor. ``always``: hot-unplug them (``virDomainSetVcpusFlags``). ``never``:
they stay plugged, the host caps the domain's CPU time at the claimed
vCPUs' worth (its cgroup CPU bandwidth, libvirt's ``global_quota``) and the
guest agent, where the image has one (``hw_qemu_guest_agent=yes``), takes
them offline inside the guest. ``auto``: unplug where this host's libvirt
and QEMU are known to confirm an unplug, cap elsewhere. An unplug that is
not confirmed leaves libvirt counting a vCPU the guest no longer has, and
later vCPU changes of that domain fail until it restarts
(``doc/real-libvirt.rst``): ``always`` is for hosts proven otherwise.
"""),
    cfg.IntOpt('guest_report_interval',
               default=10, min=0,
               help="""
Seconds between two readings, by each compute, of what the guests of
minimum-resources flavors say of themselves: the vCPUs online (through the
guest agent, when the image has one) and the memory their kernel has and
could give back (the balloon's statistics, which Nova's ``[libvirt]
mem_stats_period_seconds`` turns on). Shown by ``GET os-xloud-adjust``, and
used by the API to refuse at once a memory shrink the guest cannot give.
Never used to raise a claim. A reading is written to the database only
when it changed (a vCPU, 32 MiB) or every 6 intervals. 0 turns it off.
"""),
    cfg.IntOpt('memory_shrink_margin_mb',
               default=128, min=0,
               help="""
Memory a guest must still have free after a live memory shrink, by its own
balloon statistics. A shrink that would leave it less is refused at once
(409, saying how much the guest uses and the smallest size it can shrink
to now) instead of waiting ``memory_release_timeout`` for memory the guest
cannot give. The host's own check after the balloon moves stays: a guest
whose statistics lie gains nothing.
"""),
    cfg.BoolOpt('autoscale',
                default=True,
                help="""
Whether this compute's autoscaler may change its servers. The flavor is
the gate (extra spec ``xloud:autoscale``; a server's own metadata
``xloud:autoscale=off`` turns it off for that server): with this option
on, the servers of opted-in flavors on this host are grown and shrunk by
their load within [minimum, flavor]. Off, the host leaves them as they
are, and ``GET os-xloud-adjust`` says so. ``doc/autoscale.rst``.
"""),
    cfg.FloatOpt('autoscale_interval',
                 default=1.0, min=0.1,
                 help="""
Seconds between two passes of the autoscaler: each reads every running
guest of the host in one libvirt call (its CPU time and balloon
statistics). Growth waits for two passes in a row above the flavor's CPU
target, so this bounds how soon a loaded server grows. The guests of
memory-autoscaled flavors are told to report their balloon statistics
every second.
"""),
    cfg.IntOpt('autoscale_max_changes_per_minute',
               default=30, min=0,
               help="""
The most changes the autoscaler of one compute begins in a minute, all
servers together; more wait for the next minute. A bound on what a host
does by itself when many servers change load at once. 0: no bound.
"""),
]


def register_opts(conf):
    # registering the same options again is a no-op for oslo.config
    conf.register_group(xloud_group)
    conf.register_opts(xloud_opts, group=xloud_group)


def list_opts():
    return {xloud_group: xloud_opts}
