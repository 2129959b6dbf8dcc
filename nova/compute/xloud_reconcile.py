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

"""What a live-scalable guest runs, recorded and claimed.

The rule everywhere on the compute side: after asking the hypervisor, read
back what the guest really runs, record *that* in system metadata and make
placement hold *that*, whatever the hypervisor said. The memory read back
is what the host lets the guest use (its memory cgroup limit, see
``nova.virt.libvirt.xloud_memory``), not what the guest reports. The
adjust's endpoint and the compute manager's hooks (a restart, a guest
defined again) both use these.
"""

from oslo_log import log as logging

from nova.compute import xloud
from nova.compute import xloud_guest_view
from nova.compute import xloud_placement

LOG = logging.getLogger(__name__)


def driver_supports(driver):
    """True when the virt driver can adjust its guests live."""
    try:
        return bool(driver.xloud_can_adjust())
    except (AttributeError, NotImplementedError):
        return False


def read_guest(manager, instance, enforce=False):
    """(vcpus, memory_mb) the guest runs, or None if it cannot be read.

    The memory is what the host lets the guest use (its memory limit, or
    all its memory when it has none), never the balloon size its driver
    reports alone; the vCPUs too (its plugged vCPUs, or fewer under a CPU
    cap). What the guest says of itself is recorded for the user
    (``xloud_guest_view``; the caller saves). With ``enforce``, a guest
    that should run under a memory limit and has none (started before
    the limit existed) is put under one at the memory it was recorded to
    run, if the host sees it within that; otherwise it keeps running
    unlimited and what it may use (its maximum) is what is recorded and
    claimed.
    """
    try:
        real = manager.driver.xloud_read(instance)
        if enforce and 'limit_mb' in real and real['limit_mb'] is None:
            memory_mb = xloud.live(instance)[1]
            LOG.warning('The guest runs without its memory limit: putting '
                        'it under one for %d MiB', memory_mb,
                        instance=instance)
            real = manager.driver.xloud_adjust(
                instance, memory_mb=memory_mb, persist=False)
            for message in real.get('errors') or []:
                LOG.warning('Could not limit the guest\'s memory: %s',
                            message, instance=instance)
    except NotImplementedError:
        return None
    except Exception as e:
        LOG.info('Could not read the running vCPUs and memory: %s', e,
                 instance=instance)
        return None
    xloud_guest_view.record(instance, real)
    return real['vcpus'], real['memory_mb']


def reconcile(manager, context, instance, running=True):
    """Make system metadata and placement tell what the guest runs.

    Used where the guest may run something else than recorded: after a
    restart of the compute in the middle of an adjust, and after the guest
    was regenerated (reboot, start). A guest that is not running will be
    regenerated from the persisted values, so those are what counts.
    """
    real = read_guest(manager, instance, enforce=True) if running else None
    if real is None:
        xloud_guest_view.forget(instance)
        if not running or not driver_supports(manager.driver):
            xloud.clear_live(instance)
        real = xloud.live(instance)
    else:
        xloud.record(instance, real[0], real[1], persist=False)
    instance.save()
    xloud_placement.follow(context, manager.reportclient, instance, *real,
                           host=manager.host)
    return real
