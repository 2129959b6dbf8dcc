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

"""What a live adjust records on the server, shared by API and compute.

``nova.compute.xloud`` keeps the *persisted* current values (what the
driver regenerates the guest from). An adjust with ``persist=false``
changes only the running guest: its values go under the separate
``xloud_live_*`` keys, bound to the flavor like the persisted ones, and
are dropped when the guest is regenerated (it then runs the persisted
values again).

While an adjust runs, the server's task state is ``resize_prep`` (an
upstream task state, so notifications and every task-state guard know it;
nothing new is added to upstream's enums) and ``xloud_adjusting`` holds the
request id, telling our adjust apart from a real resize and letting a
restarted compute finish it.
"""

from nova.compute import task_states
from nova.compute import xloud

SYSMETA_LIVE_VCPUS = 'xloud_live_vcpus'
SYSMETA_LIVE_MEMORY_MB = 'xloud_live_memory_mb'
SYSMETA_LIVE_FLAVOR = 'xloud_live_flavorid'
SYSMETA_ADJUSTING = 'xloud_adjusting'
TASK_STATE = task_states.RESIZE_PREP
ACTION = 'xloud_adjust'
EVENT = 'compute_xloud_adjust'


def _sysmeta(instance):
    return (instance.system_metadata
            if 'system_metadata' in instance else {}) or {}


def live(instance):
    """Return (vcpus, memory_mb) the guest was last confirmed to run."""
    cur_vcpus, cur_mem = xloud.current(instance)
    meta = _sysmeta(instance)
    if meta.get(SYSMETA_LIVE_FLAVOR) != instance.flavor.flavorid:
        return cur_vcpus, cur_mem
    b = xloud.bounds(instance)

    def _clamp(key, default, bound):
        try:
            value = int(meta.get(key))
        except (TypeError, ValueError):
            return default
        return max(bound.minimum, min(value, bound.maximum))

    return (_clamp(SYSMETA_LIVE_VCPUS, cur_vcpus, b['vcpus']),
            _clamp(SYSMETA_LIVE_MEMORY_MB, cur_mem, b['memory_mb']))


def show(instance):
    """{'vcpus': Bounds, 'memory_mb': Bounds}, current being the live one."""
    b = xloud.bounds(instance)
    vcpus, memory_mb = live(instance)
    return {'vcpus': b['vcpus']._replace(current=vcpus),
            'memory_mb': b['memory_mb']._replace(current=memory_mb)}


def live_flavorid(instance):
    """The flavor the live-only values were recorded for, or None."""
    return _sysmeta(instance).get(SYSMETA_LIVE_FLAVOR)


def has_live(instance):
    return SYSMETA_LIVE_FLAVOR in _sysmeta(instance)


def clear_live(instance):
    """The guest was regenerated: it runs the persisted values again."""
    for key in (SYSMETA_LIVE_VCPUS, SYSMETA_LIVE_MEMORY_MB,
                SYSMETA_LIVE_FLAVOR):
        instance.system_metadata.pop(key, None)


def record(instance, vcpus, memory_mb, persist, requested=None):
    """Record what the hypervisor confirmed (the caller saves).

    :param vcpus, memory_mb: what the guest really runs now (read back)
    :param persist: whether the requested resources were made persistent
    :param requested: the resources the request named ('vcpus',
        'memory_mb'); only those become persisted values. The live keys
        are kept only while the guest runs something else than the
        persisted values.
    """
    requested = ('vcpus', 'memory_mb') if requested is None else requested
    if persist:
        xloud.set_current(
            instance,
            vcpus=vcpus if 'vcpus' in requested else None,
            memory_mb=memory_mb if 'memory_mb' in requested else None)
    if (int(vcpus), int(memory_mb)) == tuple(xloud.current(instance)):
        clear_live(instance)
        return
    instance.system_metadata.update({
        SYSMETA_LIVE_FLAVOR: instance.flavor.flavorid,
        SYSMETA_LIVE_VCPUS: str(int(vcpus)),
        SYSMETA_LIVE_MEMORY_MB: str(int(memory_mb)),
    })


def adjusting(instance):
    """The request id of the adjust in progress, or None."""
    return _sysmeta(instance).get(SYSMETA_ADJUSTING)
