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

"""The vCPUs a guest may use, and how a live shrink takes them away.

Placement claims, quotas and bills count the vCPUs the host lets a guest
use. A grown guest gets its new vCPUs hot-plugged. A shrink takes them
away in one of two ways, chosen per host (``[xloud] vcpu_unplug``):

- **unplug** (``virDomainSetVcpusFlags(LIVE)``), where the host's libvirt
  and QEMU confirm it. Where they do not (libvirt 9.0 with QEMU 7.2: the
  guest ejects the vCPU, libvirt times out and keeps counting it, and every
  later vCPU change of the domain fails until it restarts;
  ``doc/real-libvirt.rst``), an unplug would leave libvirt's view wrong.
- **the host's CPU cap**: the vCPUs stay plugged and the domain's CPU time
  is capped at the claimed vCPUs' worth (the CPU bandwidth of its whole
  cgroup: libvirt's ``global_period`` / ``global_quota``, set live). The
  guest gets that much CPU time whatever it does with its vCPUs; where the
  image has a guest agent (``hw_qemu_guest_agent=yes``), the agent also
  takes the extra vCPUs offline inside the guest (libvirt's
  ``VIR_DOMAIN_VCPU_GUEST``), so its kernel stops scheduling on them. The
  agent is the guest's helper, never the enforcement: a guest that refuses
  or brings them back online stays under the cap.

The cap is a live setting, never in the domain's definition: a guest
defined again (reboot, stop/start, rebuild, resize, cold migration) boots
with its claimed vCPUs plugged and needs none. A live migration carries it
as it carries the memory limit (``xloud_migration``). Nova's own
``quota:cpu_quota``/``quota:cpu_period`` flavor specs cap each vCPU
(``<cputune><quota>``, a cgroup below this one): both hold, the guest gets
the smaller.
"""

import math
import time

from oslo_log import log as logging

import nova.conf
from nova.conf import xloud as xloud_conf
from nova.virt.libvirt import xloud_common

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF
xloud_conf.register_opts(CONF)

PERIOD_US = 100000
# How long a growth waits for the guest to have its new vCPUs online.
ONLINE_WAIT = 5.0
ONLINE_POLL = 0.25
GLOBAL_PERIOD = 'global_period'
GLOBAL_QUOTA = 'global_quota'
# libvirt's VIR_DOMAIN_VCPU_GUEST (its ABI; Nova's fake libvirt lacks it)
VCPU_GUEST = 8

# Where a vCPU unplug is confirmed to libvirt ([xloud] vcpu_unplug=auto):
# (libvirt, QEMU) minimum versions, as Host.has_min_version takes them.
# None: no version pair has been shown to confirm it yet; every host caps.
UNPLUG_CONFIRMED_FROM = None

# Why a guest keeps more vCPUs plugged than it may use: codes kept in
# system metadata (nova.compute.xloud_guest_view words them).
KEPT_UNPLUG_UNCONFIRMED = 'unplug-unconfirmed'
KEPT_UNPLUG_DISABLED = 'unplug-disabled'
KEPT_UNPLUG_FAILED = 'unplug-failed'

# What the guest agent did or said.
AGENT_NONE = 'none'          # the image has no agent channel
AGENT_ANSWERED = 'answered'
AGENT_SILENT = 'silent'      # a channel, but nothing answers on it
AGENT_REFUSED = 'refused'    # it answered with an error


def unplug_confirmed(host):
    """True when a vCPU unplug on this host is confirmed to libvirt."""
    how = CONF.xloud.vcpu_unplug
    if how != 'auto':
        return how == 'always'
    if UNPLUG_CONFIRMED_FROM is None:
        return False
    lv_ver, hv_ver = UNPLUG_CONFIRMED_FROM
    return host.has_min_version(lv_ver=lv_ver, hv_ver=hv_ver)


def why_kept(host):
    """Why this host keeps a shrunk guest's vCPUs plugged (a code)."""
    if CONF.xloud.vcpu_unplug == 'never':
        return KEPT_UNPLUG_DISABLED
    return KEPT_UNPLUG_UNCONFIRMED


def plugged(dom):
    """The vCPUs plugged into the running guest (libvirt's count)."""
    return int(dom.vcpusFlags(xloud_common.libvirt().VIR_DOMAIN_AFFECT_LIVE))


def cap(dom):
    """The domain's CPU cap in vCPUs' worth (rounded up), None: none.

    A host whose libvirt cannot read the CPU bandwidth (no cpu cgroup
    controller) has set none: what the guest may use is its plugged vCPUs
    (and a shrink there fails to set one, keeping the claim).
    """
    lv = xloud_common.libvirt()
    try:
        params = dom.schedulerParametersFlags(lv.VIR_DOMAIN_AFFECT_LIVE)
    except lv.libvirtError as e:
        LOG.debug('No CPU bandwidth to read: %s', e)
        return None
    quota = int(params.get(GLOBAL_QUOTA) or 0)
    period = int(params.get(GLOBAL_PERIOD) or 0)
    if quota <= 0 or period <= 0:
        return None
    return int(math.ceil(float(quota) / period))


def set_cap(dom, vcpus):
    """Cap the whole domain's CPU time at ``vcpus`` CPUs' worth, live."""
    dom.setSchedulerParametersFlags(
        {GLOBAL_PERIOD: PERIOD_US, GLOBAL_QUOTA: vcpus * PERIOD_US},
        xloud_common.libvirt().VIR_DOMAIN_AFFECT_LIVE)


def lift_cap(dom):
    """No CPU cap on the domain any more (-1: no bandwidth limit)."""
    dom.setSchedulerParametersFlags(
        {GLOBAL_QUOTA: -1}, xloud_common.libvirt().VIR_DOMAIN_AFFECT_LIVE)


def allowed(dom):
    """(vCPUs the guest may use, vCPUs plugged, the cap or None)."""
    n = plugged(dom)
    limit = cap(dom)
    return (n if limit is None else min(n, limit)), n, limit


def has_agent(instance):
    """True when Nova gave the guest an agent channel (the image says)."""
    try:
        props = instance.image_meta.properties
        return bool(props.get('hw_qemu_guest_agent', False))
    except Exception:
        # an instance without image metadata (upstream's unit tests)
        return False


def agent_outcome(error):
    """AGENT_SILENT or AGENT_REFUSED for a libvirt error of an agent call.
    """
    lv = xloud_common.libvirt()
    silent = (getattr(lv, 'VIR_ERR_AGENT_UNRESPONSIVE', 86),
              getattr(lv, 'VIR_ERR_AGENT_UNSYNCED', 97),
              getattr(lv, 'VIR_ERR_AGENT_COMMAND_TIMEOUT', 103))
    return AGENT_SILENT if error.get_error_code() in silent else AGENT_REFUSED


def guest_online(dom, instance):
    """(agent outcome, vCPUs online in the guest or None, error or None)."""
    if not has_agent(instance):
        return AGENT_NONE, None, None
    lv = xloud_common.libvirt()
    try:
        return AGENT_ANSWERED, int(dom.vcpusFlags(VCPU_GUEST)), \
            None
    except lv.libvirtError as e:
        return agent_outcome(e), None, str(e)


def set_guest_online(dom, instance, vcpus):
    """Ask the guest agent to have ``vcpus`` vCPUs online.

    :returns: (agent outcome, error or None); never raises for the
        agent: what the guest does with its vCPUs is its own business, the
        cap holds it.
    """
    if not has_agent(instance):
        return AGENT_NONE, None
    lv = xloud_common.libvirt()
    try:
        dom.setVcpusFlags(vcpus, VCPU_GUEST)
    except lv.libvirtError as e:
        LOG.info('The guest agent did not set %d vCPUs online: %s', vcpus,
                 e, instance=instance)
        return agent_outcome(e), str(e)
    return AGENT_ANSWERED, None


def online_after_hotplug(dom, instance, vcpus, wait=ONLINE_WAIT,
                         poll=ONLINE_POLL):
    """After a hotplug, see ``vcpus`` online in the guest (its agent).

    The guest's kernel learns of a hot-plugged vCPU a little after the
    call (0.3-1.5 s measured under TCG); the agent can only bring online
    the vCPUs the kernel has. Asked again until they are online or
    ``wait`` seconds passed: the report then says what the guest has.
    Without an agent, nothing to ask (the guest's udev onlines them).
    """
    if not has_agent(instance):
        return
    deadline = time.monotonic() + wait
    while True:
        outcome, online, _error = guest_online(dom, instance)
        if outcome != AGENT_ANSWERED or online >= vcpus:
            return
        if time.monotonic() >= deadline:
            LOG.info('The guest shows %d of %d vCPUs online after %.0f s',
                     online, vcpus, wait, instance=instance)
            return
        time.sleep(poll)
        set_guest_online(dom, instance, vcpus)


def enforce(dom, vcpus, kept):
    """Hold the guest to ``vcpus``: cap it when more are plugged, else lift.

    :param kept: why more are plugged (a KEPT_* code), for the log
    :raises: libvirtError when the cap cannot be set or lifted
    """
    n = plugged(dom)
    current = cap(dom)
    if vcpus < n:
        if current != vcpus:
            set_cap(dom, vcpus)
            LOG.info('CPU time capped at %d vCPUs\' worth (%d plugged: %s)',
                     vcpus, n, kept)
    elif current is not None:
        lift_cap(dom)
        LOG.info('CPU cap lifted: the guest has %d vCPUs plugged', n)
