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

"""What the autoscaler decides for one server, from its recent samples.

Pure rules, no I/O: the loop (``xloud_autoscaler``) feeds each server's
samples in and carries out what comes back through the live adjust's own
path. The flavor opts a server in (``xloud:autoscale``), its owner or an
operator can turn it off for the server alone (server metadata
``xloud:autoscale=off``), and the rules are, per resource:

CPU, from what the host measures (the domain's CPU time, never the
guest's word): grow when the guest used at least the target share of its
current vCPUs in each of the last ``GROW_SAMPLES`` samples, to the vCPUs
that bring that use under the target (twice as many when it used them
all: its need is then unknown); shrink, once the cooldown after the last
growth or manual adjust is over, to the vCPUs that keep the peak of the
last ``SHRINK_WINDOW`` seconds under the target.

Memory, from the guest's balloon statistics (a guest that lies about them
only gets what it is billed for, within its flavor, and the host limit
holds it to its claim): grow at once when the guest has less free than the
headroom, to its use plus twice the headroom; shrink after the cooldown
towards the peak use of the window plus ``SHRINK_HEADROOMS`` headrooms (the
guest keeps more free than a growth waits for; the minimum itself where it
leaves one headroom free), to no less than half its size a step, one step
every ``SHRINK_SPACING`` seconds at most, while the guest keeps reporting
(its statistics fresh in the last sample and in half the window at least).
The guest's consent is asked again by the adjust itself before the balloon
moves (``xloud_guest_view.shrink_refusal``).

Never outside [minimum, flavor]. A refusal (quota, host full) is not
retried for ``REFUSAL_BACKOFF`` seconds.
"""

import collections
import math

from oslo_serialization import jsonutils
from oslo_utils import timeutils

from nova.compute import xloud
from nova import exception
from nova.i18n import _

SPEC = 'xloud:autoscale'
SPEC_CPU_TARGET = 'xloud:autoscale_cpu_target'
SPEC_HEADROOM = 'xloud:autoscale_memory_headroom_mb'
SPEC_COOLDOWN = 'xloud:autoscale_cooldown'
# system metadata: the last decision, {'at', 'action', 'reason'} (JSON)
SYSMETA_DECISION = 'xloud_autoscale'
# server metadata: the per-server off switch
METADATA_KEY = 'xloud:autoscale'
METADATA_OFF = ('off', 'false', 'no', '0', 'disabled')

DEFAULT_CPU_TARGET = 70
DEFAULT_HEADROOM_MB = 256
DEFAULT_COOLDOWN = 300
# spec -> (lowest, highest or None, what it is): the values accepted
_TUNING = {SPEC_CPU_TARGET: (10, 95, 'a percent'),
           SPEC_HEADROOM: (64, None, 'MiB'),
           SPEC_COOLDOWN: (0, None, 'seconds')}

GROW_SAMPLES = 2        # samples in a row at or above the CPU target
SATURATED = 0.95        # share of its vCPUs: the need is unknown above
SHRINK_WINDOW = 30      # seconds of samples a shrink looks at
SHRINK_SPACING = 10     # seconds between two shrink steps
MEMORY_STEP_MB = 128    # memory moves by whole steps of this
STATS_MAX_AGE = 5       # seconds: older balloon statistics decide nothing
WAIT_TOLD = 0.1         # vCPU seconds waited a second: said in the reason
RATE_SPAN = 3           # seconds of statistics a filling rate is read on
REACTION = 4            # seconds from a guest's report to its growth done
REFUSAL_BACKOFF = 60    # seconds before a refused change is tried again
# a memory shrink leaves the peak use plus this many headrooms: less than
# a growth gives (two), more than a growth waits for (one)
SHRINK_HEADROOMS = 1.25

RESOURCE_NAMES = {'cpu': 'vcpus', 'memory': 'memory_mb'}

Settings = collections.namedtuple(
    'Settings', 'resources cpu_target headroom_mb cooldown')

# One sample of a guest: ``at`` (seconds, monotonic), ``cpu`` (the CPU
# seconds it used per second since the sample before, None for the first),
# ``used_mb``/``free_mb`` (the guest's balloon statistics: in use, and
# usable; None when stale or absent), ``wait`` (the seconds per second its
# vCPUs waited for a host CPU, libvirt's vCPU delay; None where unknown).
# The wait is told, never acted on: more vCPUs do not help a guest the
# host is short of CPU for.
Sample = collections.namedtuple('Sample', 'at cpu used_mb free_mb wait',
                                defaults=(None,))

# A decision: ``action`` is 'grow', 'shrink' or 'hold'; ``wanted`` the
# values to adjust to ({'vcpus': n, 'memory_mb': n}, only those that
# change); ``reason`` in words.
Decision = collections.namedtuple('Decision', 'action wanted reason')


def _resources(value):
    names = [v.strip() for v in str(value).split(',') if v.strip()]
    if not names or any(n not in RESOURCE_NAMES for n in names):
        return None
    return frozenset(names)


def settings(flavor):
    """The flavor's opt-in, or None when its servers never autoscale."""
    specs = (flavor.extra_specs if 'extra_specs' in flavor else None) or {}
    resources = _resources(specs.get(SPEC, ''))
    if not resources:
        return None
    number = xloud.whole_number
    return Settings(
        resources,
        number(specs.get(SPEC_CPU_TARGET), DEFAULT_CPU_TARGET) / 100.0,
        number(specs.get(SPEC_HEADROOM), DEFAULT_HEADROOM_MB),
        number(specs.get(SPEC_COOLDOWN), DEFAULT_COOLDOWN))


def switched_off(instance):
    """True when the server's metadata turns autoscaling off for it."""
    metadata = instance.metadata if 'metadata' in instance else None
    value = (metadata or {}).get(METADATA_KEY)
    return value is not None and value.strip().lower() in METADATA_OFF


def validate_flavor(flavor):
    """Raise ValidationError where the opt-in cannot be honoured.

    The specs' own values are checked by the extra spec validators
    (``nova.api.validation.extra_specs.minimum``); here, what needs the
    flavor: each resource autoscaled needs its minimum, or there is no
    range to move in.
    """
    specs = (flavor.extra_specs if 'extra_specs' in flavor else None) or {}
    value = specs.get(SPEC)
    tuning = [s for s in sorted(_TUNING) if s in specs]
    for spec in tuning:
        low, high, unit = _TUNING[spec]
        number = xloud.whole_number(specs[spec], None)
        if (number is None or number < low or
                (high is not None and number > high)):
            raise exception.ValidationError(detail=_(
                "Extra spec '%(spec)s' (%(value)s) must be a whole number "
                "of %(unit)s from %(low)d%(high)s.") % {
                    'spec': spec, 'value': specs[spec], 'unit': unit,
                    'low': low,
                    'high': ' to %d' % high if high is not None else ''})
    if value is None:
        if tuning:
            raise exception.ValidationError(detail=_(
                "Extra spec '%(spec)s' needs '%(optin)s' on the flavor: "
                "set '%(optin)s' or remove '%(spec)s'.") % {
                    'spec': tuning[0], 'optin': SPEC})
        return
    resources = _resources(value)
    if not resources:
        raise exception.ValidationError(detail=_(
            "Extra spec '%(spec)s' (%(value)s) must be 'cpu', 'memory' or "
            "'cpu,memory'.") % {'spec': SPEC, 'value': value})
    for name, minimum, rule in (
            ('cpu', xloud.MIN_CPU_SPEC, flavor.vcpus),
            ('memory', xloud.MIN_MEMORY_SPEC, flavor.memory_mb)):
        if name not in resources:
            continue
        if specs.get(minimum) is None:
            raise exception.ValidationError(detail=_(
                "Extra spec '%(spec)s=%(value)s' autoscales %(name)s, which "
                "needs '%(minimum)s' on the flavor (the range it moves in): "
                "set '%(minimum)s' below the flavor's %(max)d or remove "
                "%(name)s from '%(spec)s'.") % {
                    'spec': SPEC, 'value': value, 'name': name,
                    'minimum': minimum, 'max': rule})


def enabled(instance):
    """(bool, reason or None): whether the loop may change the server."""
    if settings(instance.flavor) is None:
        return False, 'its flavor does not opt in (%s)' % SPEC
    if switched_off(instance):
        return False, ('turned off for this server (metadata %s=%s)' %
                       (METADATA_KEY, instance.metadata[METADATA_KEY]))
    return True, None


def _now_iso():
    return timeutils.utcnow().strftime('%Y-%m-%dT%H:%M:%SZ')


def last_decision(instance):
    """{'at', 'action', 'reason'} last recorded for the server, or None."""
    try:
        rec = jsonutils.loads(xloud.sysmeta(instance)[SYSMETA_DECISION])
    except (KeyError, ValueError, TypeError):
        return None
    return rec if isinstance(rec, dict) else None


def record(instance, action, reason):
    """Write the last decision into system metadata (the caller saves).

    :returns: True when it differs from the one recorded
    """
    old = last_decision(instance) or {}
    if old.get('action') == action and old.get('reason') == reason:
        return False
    instance.system_metadata[SYSMETA_DECISION] = jsonutils.dumps(
        {'at': _now_iso(), 'action': action, 'reason': reason})
    return True


def view(instance):
    """The ``autoscale`` member of GET os-xloud-adjust."""
    setting = settings(instance.flavor)
    on, why = enabled(instance)
    decision = last_decision(instance)
    if on and decision and decision.get('action') == 'off':
        on, why = False, decision.get('reason')
    found = {'enabled': on, 'last_decision': decision}
    if why:
        found['reason'] = why
    if setting:
        found['settings'] = {
            'resources': sorted(setting.resources),
            'cpu_target': int(round(setting.cpu_target * 100)),
            'memory_headroom_mb': setting.headroom_mb,
            'cooldown': setting.cooldown}
    return found


def _vcpus_word(n):
    return '%d vCPU%s' % (n, '' if n == 1 else 's')


def _waited(samples):
    waits = [s.wait for s in samples if s.wait is not None]
    if not waits or max(waits) < WAIT_TOLD:
        return ''
    return ', waiting for a host CPU %d%% of the time' % round(
        100 * sum(waits) / len(waits))


def _filling(samples):
    """MiB a second the guest's use grew by over its last seconds.

    Over its last ``RATE_SPAN`` seconds of statistics; 0 when it did not
    grow.
    """
    told = [s for s in samples[-(RATE_SPAN + 1):] if s.used_mb is not None]
    if len(told) < 2 or told[-1].at - told[0].at < 1:
        return 0
    return max(0, int((told[-1].used_mb - told[0].used_mb) /
                      (told[-1].at - told[0].at)))


def _round_up(mib):
    return int(math.ceil(mib / float(MEMORY_STEP_MB))) * MEMORY_STEP_MB


def decide(setting, bounds, samples, now, last_growth, last_shrink,
           shrink_allowed=True):
    """What to do now for one server.

    :param setting: its ``Settings``
    :param bounds: ``xloud.bounds(instance)``
    :param samples: its ``Sample``s, oldest first, up to now
    :param now: the time of the last sample (monotonic seconds)
    :param last_growth: when it last grew or was adjusted by hand (None:
        not since this loop knows it)
    :param last_shrink: when the loop last shrank it (None: never)
    :param shrink_allowed: False while a refusal of a shrink backs off
    :returns: a ``Decision``
    """
    wanted = {}
    reasons = []
    holds = []
    cpu = bounds['vcpus']
    mem = bounds['memory_mb']
    recent = [s for s in samples if s.cpu is not None]

    # growth first: it needs no cooldown
    if 'cpu' in setting.resources and len(recent) >= GROW_SAMPLES:
        last = recent[-GROW_SAMPLES:]
        shares = [s.cpu / cpu.current for s in last]
        if min(shares) >= setting.cpu_target and cpu.current < cpu.maximum:
            use = sum(s.cpu for s in last) / len(last)
            need = int(math.ceil(use / setting.cpu_target - 1e-9))
            if min(shares) >= SATURATED:
                need = max(need, 2 * cpu.current)
            n = min(cpu.maximum, max(cpu.current + 1, need))
            wanted['vcpus'] = n
            # each sample covers the time since the one before it
            since = samples[-GROW_SAMPLES - 1].at if len(
                samples) > GROW_SAMPLES else last[0].at - 1
            reasons.append('CPU %d%% of %s for %d s%s' % (
                round(100 * min(shares)), _vcpus_word(cpu.current),
                round(last[-1].at - since), _waited(last)))
    fresh = samples[-1] if samples else None
    # a guest filling its memory: what it will use by the time a growth
    # is in it
    rate = _filling(samples)
    ahead = rate * REACTION
    if ('memory' in setting.resources and fresh is not None and
            fresh.free_mb is not None and
            fresh.free_mb < setting.headroom_mb + ahead and
            mem.current < mem.maximum):
        n = _round_up(fresh.used_mb + ahead + 2 * setting.headroom_mb)
        n = min(mem.maximum, max(mem.current + MEMORY_STEP_MB, n))
        wanted['memory_mb'] = n
        if rate:
            reasons.append('memory %d MiB free of %d, filling at %d MiB/s: '
                           'under the headroom of %d MiB within %d s' % (
                               fresh.free_mb, mem.current, rate,
                               setting.headroom_mb, REACTION))
        else:
            reasons.append('memory %d MiB free of %d, under the headroom '
                           'of %d MiB' % (fresh.free_mb, mem.current,
                                          setting.headroom_mb))
    if wanted:
        return Decision('grow', wanted, '; '.join(reasons))

    # shrink: after the cooldown, slowly
    if last_growth is not None and now - last_growth < setting.cooldown:
        return Decision('hold', {}, 'cooldown: %d s left of %d s after the '
                        'last growth' % (math.ceil(
                            setting.cooldown - (now - last_growth)),
                            setting.cooldown))
    if last_shrink is not None and now - last_shrink < SHRINK_SPACING:
        return Decision('hold', {}, 'shrinking step by step')
    if not shrink_allowed:
        return Decision('hold', {}, 'a shrink was refused; trying again '
                        'later')
    window = [s for s in samples if now - s.at <= SHRINK_WINDOW]
    covered = bool(window) and now - window[0].at >= SHRINK_WINDOW - 1.5
    if not covered:
        return Decision('hold', {}, 'watching')
    if 'cpu' in setting.resources and cpu.current > cpu.minimum:
        uses = [s.cpu for s in window if s.cpu is not None]
        peak = max(uses) if uses else None
        if peak is not None:
            need = max(cpu.minimum,
                       int(math.ceil(peak / setting.cpu_target - 1e-9)))
            if need < cpu.current:
                wanted['vcpus'] = need
                reasons.append('CPU at most %d%% of %s for %d s' % (
                    round(100 * peak / cpu.current),
                    _vcpus_word(cpu.current), SHRINK_WINDOW))
            else:
                holds.append('CPU %d%% of %s' % (
                    round(100 * peak / cpu.current),
                    _vcpus_word(cpu.current)))
    if 'memory' in setting.resources and mem.current > mem.minimum:
        # the guest's word over the window: a second or two around each
        # balloon move has none (its statistics describe the old size)
        told = [s for s in window if s.free_mb is not None]
        if (fresh.free_mb is not None and
                len(told) * 2 >= len(window)):
            frees = [s.free_mb for s in told]
            peak_used = max(s.used_mb for s in told)
            target = _round_up(
                peak_used + SHRINK_HEADROOMS * setting.headroom_mb)
            if peak_used + setting.headroom_mb <= mem.minimum:
                # the minimum leaves the headroom free: no growth
                # follows it, so the extra quarter buys nothing there
                target = mem.minimum
            target = max(mem.minimum, target)
            if target < mem.current:
                # at most half its size a step
                n = max(target, _round_up(mem.current / 2.0))
                wanted['memory_mb'] = n
                reasons.append('memory at least %d MiB free of %d for %d s'
                               % (min(frees), mem.current, SHRINK_WINDOW))
            else:
                holds.append('memory %d MiB free' % min(frees))
        else:
            holds.append('no fresh memory statistics from the guest')
    if wanted:
        return Decision('shrink', wanted, '; '.join(reasons))
    return Decision('hold', {}, '; '.join(holds) or 'at its minimum')


def cpu_use(previous, current):
    """CPU seconds per second between two (at, cpu_ns) readings, or None."""
    if previous is None or current[1] is None:
        return None
    if current[0] <= previous[0] or current[1] < previous[1]:
        return None     # no time passed, or the domain restarted
    return (current[1] - previous[1]) / 1e9 / (current[0] - previous[0])
