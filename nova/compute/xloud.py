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

"""The three numbers of a live-scalable server, and their rules.

Every server has, per resource (vCPUs and memory in MiB):

``minimum``
    the flavor's ``minimum_cpu`` / ``minimum_memory`` extra spec, or the
    flavor value itself when the spec is absent (such a server can never go
    below its flavor, so upstream behaviour is unchanged);
``current``
    what the guest runs with now, kept in the server's *system* metadata
    (never in user metadata, which the server's owner can write);
``maximum``
    the flavor's ``vcpus`` / ``memory_mb``.

An adjust with ``persist=false`` changes only the running guest: what it
runs then is *live-only*, kept under separate ``xloud_live_*`` keys bound
to the flavor like the persisted ones, and dropped when the guest is
defined again (it then runs the persisted values). ``live()`` is what the
guest was last confirmed to run, whichever kind of value that is.

While an adjust runs, the server's task state is ``resize_prep`` (an
upstream task state, so notifications and every task-state guard know it;
nothing new is added to upstream's enums) and ``xloud_adjusting`` holds the
request id, telling our adjust apart from a real resize and letting a
restarted compute finish it.

The API, the conductor, the scheduler, the compute and the virt driver all
ask this module, so the values and their rules live in one place. It
imports nothing from a virt driver.
"""

import collections

from nova.compute import task_states
from nova import exception
from nova.i18n import _

MIN_CPU_SPEC = 'minimum_cpu'
MIN_MEMORY_SPEC = 'minimum_memory'
# System metadata keys: written by Nova only, read when a claim is made or
# the driver regenerates the guest.
SYSMETA_VCPUS = 'xloud_current_vcpus'
SYSMETA_MEMORY_MB = 'xloud_current_memory_mb'
# The flavor the current values belong to. A resize changes the flavor
# before the server is rebuilt on its destination and a revert changes it
# back: the values only count while the server still has that flavor, so
# the new flavor starts at its minimums and a revert finds the old values
# again, matching the allocations placement moves back.
SYSMETA_FLAVOR = 'xloud_current_flavorid'
# What the guest runs when an adjust with persist=false changed it, and the
# flavor those values belong to.
SYSMETA_LIVE_VCPUS = 'xloud_live_vcpus'
SYSMETA_LIVE_MEMORY_MB = 'xloud_live_memory_mb'
SYSMETA_LIVE_FLAVOR = 'xloud_live_flavorid'
_CURRENT_KEYS = (SYSMETA_FLAVOR, SYSMETA_VCPUS, SYSMETA_MEMORY_MB)
_LIVE_KEYS = (SYSMETA_LIVE_FLAVOR, SYSMETA_LIVE_VCPUS, SYSMETA_LIVE_MEMORY_MB)
# The request id of the adjust in progress.
SYSMETA_ADJUSTING = 'xloud_adjusting'
TASK_STATE = task_states.RESIZE_PREP
ACTION = 'xloud_adjust'
# the autoscaler's adjusts (nova.compute.xloud_autoscaler): the same event
AUTOSCALE_ACTION = 'xloud_autoscale'
EVENT = 'compute_xloud_adjust'
RESOURCES = ('vcpus', 'memory_mb')

Bounds = collections.namedtuple('Bounds', ['minimum', 'current', 'maximum'])

# Flavor extra specs (and their image property twins) we cannot honour
# together with a minimum: pinned or NUMA-split vCPUs would need the
# pinning and the NUMA topology rewritten on every adjust, and huge pages,
# encrypted, persistent or locked memory (PCI passthrough locks all guest
# memory for DMA) cannot be ballooned.
_CONFLICTS = (
    ('hw:cpu_policy', 'hw_cpu_policy',
     lambda v: str(v).lower() in ('dedicated', 'mixed')),
    ('hw:numa_nodes', 'hw_numa_nodes', lambda v: whole_number(v, 1) > 1),
    ('hw:mem_page_size', 'hw_mem_page_size', lambda v: bool(v)),
    ('hw:mem_encryption', 'hw_mem_encryption', lambda v: _true(v)),
    ('hw:pmem', None, lambda v: bool(v)),
    ('hw:locked_memory', 'hw_locked_memory', lambda v: _true(v)),
    ('pci_passthrough:alias', None, lambda v: bool(v)),
    ('resources:VCPU', None, lambda v: True),
    ('resources:MEMORY_MB', None, lambda v: True),
)


def whole_number(value, default):
    """An extra spec's or a metadata value's integer, else ``default``:
    what the specs' validators let through is read here, and a value
    written before a validator existed must not fail a request.
    """
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _true(value):
    return str(value).strip().lower() in ('1', 'true', 'yes', 'on', 'y', 't')


def given(vcpus=None, memory_mb=None):
    """{'vcpus': n, 'memory_mb': n} of the values that are not None."""
    return {name: value for name, value in zip(RESOURCES, (vcpus, memory_mb))
            if value is not None}


def sysmeta(instance):
    """The server's system metadata, {} where it was not loaded."""
    return (instance.system_metadata
            if 'system_metadata' in instance else {}) or {}


def _spec(flavor, name):
    specs = flavor.extra_specs if 'extra_specs' in flavor else None
    return (specs or {}).get(name)


def has_minimum(flavor):
    """True when the flavor asks for less than its maximum at boot."""
    return (_spec(flavor, MIN_CPU_SPEC) is not None or
            _spec(flavor, MIN_MEMORY_SPEC) is not None)


def minimums(flavor):
    """Return (vcpus, memory_mb) a server of this flavor boots with.

    A spec that is missing or unusable falls back to the flavor value; an
    unusable one cannot reach here through the API, which validates it.
    """
    vcpus = whole_number(_spec(flavor, MIN_CPU_SPEC), flavor.vcpus)
    memory_mb = whole_number(_spec(flavor, MIN_MEMORY_SPEC),
                             flavor.memory_mb)
    return (max(1, min(vcpus, flavor.vcpus)),
            max(1, min(memory_mb, flavor.memory_mb)))


def validate_flavor(flavor, image_props=None):
    """Raise ValidationError if the flavor's minimums cannot be honoured.

    :param flavor: a Flavor object (or anything with vcpus, memory_mb and
        extra_specs)
    :param image_props: the image's properties (a dict) when a server is
        being created, rebuilt or resized, so a conflict set on the image
        is caught too
    """
    # the autoscaler's opt-in needs its minimums (imported here: that
    # module imports this one)
    from nova.compute import xloud_autoscale
    xloud_autoscale.validate_flavor(flavor)
    if not has_minimum(flavor):
        return
    for spec, limit, name in (
        (MIN_CPU_SPEC, flavor.vcpus, 'vcpus'),
        (MIN_MEMORY_SPEC, flavor.memory_mb, 'memory_mb'),
    ):
        value = _spec(flavor, spec)
        if value is not None and whole_number(value, 0) > limit:
            raise exception.ValidationError(detail=_(
                "Extra spec '%(spec)s' (%(value)s) is above the flavor's "
                "%(name)s (%(limit)d): set it to at most %(limit)d.") % {
                    'spec': spec, 'value': value, 'name': name,
                    'limit': limit})
    image_props = image_props or {}
    for spec, prop, conflicts in _CONFLICTS:
        value = _spec(flavor, spec)
        source = spec
        if value is None and prop:
            value, source = image_props.get(prop), 'image property ' + prop
        if value is not None and conflicts(value):
            raise exception.ValidationError(detail=_(
                "'%(source)s=%(value)s' cannot be combined with "
                "'%(min_cpu)s'/'%(min_mem)s': remove one of them.") % {
                    'source': source, 'value': value,
                    'min_cpu': MIN_CPU_SPEC, 'min_mem': MIN_MEMORY_SPEC})


def current(instance, flavor=None):
    """Return (vcpus, memory_mb) the server runs with now.

    Read from the system metadata when it was written for this flavor,
    otherwise the flavor's minimums (a server that predates XLoud, one being
    built, or one being resized to this flavor).
    Values outside [minimum, maximum] of the flavor (a resize changed the
    flavor under them) are clamped into it.
    """
    flavor = flavor or instance.flavor
    return _recorded(instance, flavor, _CURRENT_KEYS, minimums(flavor))


def live(instance):
    """Return (vcpus, memory_mb) the guest was last confirmed to run.

    The live-only values of an adjust made with persist=false when there
    are some for the server's flavor, else its current values.
    """
    return _recorded(instance, instance.flavor, _LIVE_KEYS,
                     current(instance))


def _recorded(instance, flavor, keys, fallback):
    """(vcpus, memory_mb) under these system metadata keys (flavor, vcpus,
    memory) when they were written for this flavor, clamped into [minimum,
    maximum]; else ``fallback``, which also stands in for a value that is
    not a number.
    """
    flavor_key, vcpus_key, memory_key = keys
    meta = sysmeta(instance)
    if meta.get(flavor_key) != flavor.flavorid:
        return fallback
    min_vcpus, min_mem = minimums(flavor)
    vcpus = whole_number(meta.get(vcpus_key), fallback[0])
    memory_mb = whole_number(meta.get(memory_key), fallback[1])
    return (max(min_vcpus, min(vcpus, flavor.vcpus)),
            max(min_mem, min(memory_mb, flavor.memory_mb)))


def bounds(instance):
    """{'vcpus': Bounds, 'memory_mb': Bounds}, current being what the guest
    was last confirmed to run (``live()``).
    """
    flavor = instance.flavor
    min_vcpus, min_mem = minimums(flavor)
    vcpus, memory_mb = live(instance)
    return {'vcpus': Bounds(min_vcpus, vcpus, flavor.vcpus),
            'memory_mb': Bounds(min_mem, memory_mb, flavor.memory_mb)}


def set_current(instance, vcpus=None, memory_mb=None, flavor=None):
    """Record the current values in system metadata (the caller saves)."""
    flavor = flavor or instance.flavor
    now_vcpus, now_mem = current(instance, flavor)
    _write(instance, _CURRENT_KEYS, flavor,
           now_vcpus if vcpus is None else vcpus,
           now_mem if memory_mb is None else memory_mb)


def _write(instance, keys, flavor, vcpus, memory_mb):
    flavor_key, vcpus_key, memory_key = keys
    instance.system_metadata.update({
        flavor_key: flavor.flavorid,
        vcpus_key: str(int(vcpus)),
        memory_key: str(int(memory_mb)),
    })


def record_boot_values(instance, flavor):
    """A new server starts at its flavor's minimums.

    Servers of flavors without the specs get no keys at all, so they look
    exactly as upstream's.
    """
    if has_minimum(flavor):
        vcpus, memory_mb = minimums(flavor)
        set_current(instance, vcpus, memory_mb, flavor=flavor)


def has_values(instance):
    """True when this module keeps values for the server: its flavor has a
    minimum, or it has recorded values or an adjust (a server resized
    away from a minimum flavor still has them to reconcile). Loads the
    system metadata when the instance has not.
    """
    sysmeta = instance.system_metadata or {}
    return (has_minimum(instance.flavor) or
            any(key in sysmeta for key in
                _CURRENT_KEYS + _LIVE_KEYS + (SYSMETA_ADJUSTING,)))


def live_flavorid(instance):
    """The flavor the live-only values were recorded for, or None."""
    return sysmeta(instance).get(SYSMETA_LIVE_FLAVOR)


def has_live(instance):
    return SYSMETA_LIVE_FLAVOR in sysmeta(instance)


def clear_live(instance):
    """The guest was defined again: it runs the persisted values."""
    for key in _LIVE_KEYS:
        instance.system_metadata.pop(key, None)


def record(instance, vcpus, memory_mb, persist, requested=RESOURCES):
    """Record what the hypervisor confirmed (the caller saves).

    :param vcpus, memory_mb: what the guest really runs now (read back)
    :param persist: whether the requested resources were made persistent
    :param requested: the resources the request named ('vcpus',
        'memory_mb'); only those become persisted values. The live keys
        are kept only while the guest runs something else than the
        persisted values.
    """
    if persist:
        set_current(
            instance,
            vcpus=vcpus if 'vcpus' in requested else None,
            memory_mb=memory_mb if 'memory_mb' in requested else None)
    if (int(vcpus), int(memory_mb)) == current(instance):
        clear_live(instance)
    else:
        _write(instance, _LIVE_KEYS, instance.flavor, vcpus, memory_mb)


def adjusting(instance):
    """The request id of the adjust in progress, or None."""
    return sysmeta(instance).get(SYSMETA_ADJUSTING)
