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

"""What the guest says of itself, and what the host holds it to, recorded.

The compute reads it (``nova.virt.libvirt.xloud_guest_report``: the guest
agent's vCPUs online, the balloon's memory statistics) after every adjust
and every ``[xloud] guest_report_interval``, and records it in system
metadata, where the API reads it without asking the compute:

- ``xloud_guest``: the guest's last report, for ``GET os-xloud-adjust``
  and for refusing at once a memory shrink the guest says it cannot give
  (``api_refusal``). The guest's word is never used to raise a claim.
- ``xloud_cpu_kept``: present while the guest has more vCPUs plugged than
  the host lets it use (the host caps its CPU time, ``xloud_cpu``), and
  why.

System metadata values hold 255 characters: both are short JSON, the
sentences are made here when they are shown.
"""

import datetime
import time

from oslo_serialization import jsonutils

from nova.compute import xloud
import nova.conf
from nova.conf import xloud as xloud_conf

CONF = nova.conf.CONF
xloud_conf.register_opts(CONF)

SYSMETA_GUEST = 'xloud_guest'
SYSMETA_CPU_KEPT = 'xloud_cpu_kept'

# A report is written again when one of these moved at least this much,
# else every REWRITE_INTERVALS intervals; the API trusts it for a shrink
# while it is younger than TRUSTED_INTERVALS intervals.
MEMORY_STEP_MB = 32
REWRITE_INTERVALS = 6
TRUSTED_INTERVALS = 7
# Balloon statistics older than this are not the guest's word any more
# (its driver stopped reporting): several stats periods.
STATS_MAX_AGE = 60

_AGENT_WORDS = {
    'none': 'the image has no guest agent (the image property '
            'hw_qemu_guest_agent=yes gives one)',
    'silent': 'the guest agent does not answer',
    'refused': 'the guest agent answered with an error',
}

_KEPT_WORDS = {
    'unplug-unconfirmed': "this host's libvirt and QEMU do not confirm a "
                          "vCPU unplug, so the vCPUs stay plugged",
    'unplug-disabled': 'vCPU unplug is turned off on this host ([xloud] '
                       'vcpu_unplug=never), so the vCPUs stay plugged',
    'unplug-failed': 'the vCPU unplug was not confirmed',
}


def _load(instance, key):
    try:
        return jsonutils.loads(xloud.sysmeta(instance)[key])
    except (KeyError, ValueError, TypeError):
        return None


def _guest_record(report):
    rec = {'a': report.get('agent'), 'v': report.get('vcpus_online'),
           'm': report.get('memory_mb'), 'u': report.get('usable_mb'),
           'b': report.get('balloon_mb'), 't': report.get('at')}
    if report.get('stats_age') is not None and report.get('at'):
        rec['s'] = report['at'] - report['stats_age']
    return {k: v for k, v in rec.items() if v is not None}


def _moved(old, new):
    if old is None:
        return True
    for key in ('a', 'v'):
        if old.get(key) != new.get(key):
            return True
    for key in ('m', 'u', 'b'):
        if (old.get(key) is None) != (new.get(key) is None):
            return True
        if (new.get(key) is not None and
                abs(old[key] - new[key]) >= MEMORY_STEP_MB):
            return True
    interval = CONF.xloud.guest_report_interval or 60
    return (new.get('t', 0) - old.get('t', 0) >=
            REWRITE_INTERVALS * interval)


def record(instance, real, force=False):
    """Record a read of the driver (``xloud_read``/``xloud_adjust``).

    :param real: the driver's dict: ``guest`` (the report), and
        ``vcpus``/``vcpus_plugged``/``vcpus_kept``
    :param force: write the report even when it barely moved (after an
        adjust: its event tells it)
    :returns: True when system metadata changed (the caller saves)
    """
    sysmeta = instance.system_metadata
    changed = False
    report = real.get('guest')
    if report:
        new = _guest_record(report)
        if force or _moved(_load(instance, SYSMETA_GUEST), new):
            sysmeta[SYSMETA_GUEST] = jsonutils.dumps(new)
            changed = True
    plugged = real.get('vcpus_plugged')
    if plugged is not None and plugged > real['vcpus']:
        old = _load(instance, SYSMETA_CPU_KEPT) or {}
        kept = {'p': plugged, 'n': real['vcpus'],
                'w': real.get('vcpus_kept') or old.get('w') or
                'unplug-unconfirmed'}
        if kept != old:
            sysmeta[SYSMETA_CPU_KEPT] = jsonutils.dumps(kept)
            changed = True
    elif plugged is not None and SYSMETA_CPU_KEPT in sysmeta:
        del sysmeta[SYSMETA_CPU_KEPT]
        changed = True
    return changed


def forget(instance):
    """The guest was defined again or stopped: its report is gone."""
    for key in (SYSMETA_GUEST, SYSMETA_CPU_KEPT):
        instance.system_metadata.pop(key, None)


def _iso(epoch):
    if not epoch:
        return None
    return datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _vcpus(n):
    return '%d vCPU%s' % (n, '' if n == 1 else 's')


def _worth(n):
    return "%d vCPU%s worth" % (n, "'s" if n == 1 else "s'")


def view(instance):
    """{'guest': {...}, 'cpu_cap': {...} or None} for GET."""
    rec = _load(instance, SYSMETA_GUEST)
    if rec is None:
        guest = {'confirmed': False, 'vcpus_online': None,
                 'memory_mb': None, 'usable_mb': None, 'read_at': None,
                 'reason': 'the compute has not read the guest yet'}
    else:
        agent = rec.get('a')
        guest = {'confirmed': agent == 'answered',
                 'vcpus_online': rec.get('v'),
                 'memory_mb': rec.get('m'),
                 'usable_mb': rec.get('u'),
                 'read_at': _iso(rec.get('t')),
                 'reason': _AGENT_WORDS.get(agent)}
    return {'guest': guest, 'cpu_cap': cpu_cap(instance, rec)}


def cpu_cap(instance, rec=None):
    """The CPU cap's story for the user, or None when there is none."""
    kept = _load(instance, SYSMETA_CPU_KEPT)
    if not kept:
        return None
    rec = rec if rec is not None else _load(instance, SYSMETA_GUEST) or {}
    plugged, allowed = kept['p'], kept['n']
    shows = rec.get('v') if rec.get('a') == 'answered' else None
    why = _KEPT_WORDS.get(kept.get('w'), _KEPT_WORDS['unplug-unconfirmed'])
    if shows is not None and shows <= allowed:
        guest = 'the guest agent took the others offline'
    elif shows is not None:
        guest = 'the guest keeps %d online' % shows
    else:
        guest = '%s, so the guest may keep all %d online' % (
            _AGENT_WORDS.get(rec.get('a'),
                             'nothing inside the guest confirmed'), plugged)
    return {'vcpus_plugged': plugged, 'vcpus_allowed': allowed,
            'vcpus_online': shows,
            'reason': "%s: the host caps the server's CPU time at %s; %s"
                      % (why, _worth(allowed), guest)}


def shrink_refusal(target_mb, current_mb, usable_mb, age=None):
    """Why a guest cannot shrink to ``target_mb`` now, or None.

    :param current_mb: its memory now (the balloon's size)
    :param usable_mb: what it could give, by its balloon statistics
    :param age: seconds since the guest reported them (None: unknown)
    """
    if age is not None and age > STATS_MAX_AGE:
        return None
    margin = CONF.xloud.memory_shrink_margin_mb
    lowest = current_mb - usable_mb + margin
    if target_mb >= lowest:
        return None
    return ('the guest cannot shrink below %(lowest)d MiB now (asked: '
            '%(target)d): it uses %(used)d MiB of its %(current)d MiB by its '
            'own balloon statistics%(age)s and keeps %(margin)d MiB free '
            '([xloud] memory_shrink_margin_mb)' % {
                'lowest': min(lowest, current_mb), 'target': target_mb,
                'used': max(0, current_mb - usable_mb),
                'current': current_mb, 'margin': margin,
                'age': '' if age is None else ' (%d s old)' % age})


def api_refusal(instance, memory_mb, now=None):
    """The API's refusal of a memory shrink, from the last report.

    None when the report is missing, too old to trust, or says the guest
    can give it: the compute checks again right before the balloon moves.
    """
    rec = _load(instance, SYSMETA_GUEST)
    if not rec or rec.get('u') is None or rec.get('b') is None:
        return None
    now = time.time() if now is None else now
    interval = CONF.xloud.guest_report_interval or 60
    if now - rec.get('t', 0) > TRUSTED_INTERVALS * interval:
        return None
    age = int(now - rec['s']) if rec.get('s') else None
    return shrink_refusal(memory_mb, rec['b'], rec['u'], age)


EVENT_CONFIRMED = 'compute_xloud_guest_confirmed'
EVENT_UNCONFIRMED = 'compute_xloud_guest_unconfirmed'
EVENT_CAPPED = 'compute_xloud_cpu_capped'


def events(real):
    """The adjust action's events after its own.

    Whether the guest confirmed (its agent answered), and whether the host
    caps its CPU time (more vCPUs plugged than it may use).
    """
    report = real.get('guest') or {}
    found = [EVENT_CONFIRMED if report.get('agent') == 'answered'
             else EVENT_UNCONFIRMED]
    plugged = real.get('vcpus_plugged')
    if plugged is not None and plugged > real['vcpus']:
        found.append(EVENT_CAPPED)
    return found


def event_details(real):
    """The guest's side of an adjust in words (the compute's log)."""
    report = real.get('guest') or {}
    agent = report.get('agent')
    if agent == 'answered':
        said = 'The guest confirmed: %s online' % _vcpus(
            report['vcpus_online'])
    else:
        said = 'Not confirmed by the guest: %s' % _AGENT_WORDS.get(
            agent, 'it was not read')
        if report.get('agent_error'):
            said += ' (%s)' % report['agent_error']
    if report.get('memory_mb') is not None:
        said += '; its kernel has %d MiB (its balloon statistics)' % (
            report['memory_mb'])
    plugged = real.get('vcpus_plugged')
    if plugged is not None and plugged > real['vcpus']:
        said += ('. It has %s plugged and may use %s of CPU time, '
                 'the host caps it: %s' % (
                     _vcpus(plugged), _worth(real['vcpus']),
                     _KEPT_WORDS.get(real.get('vcpus_kept'),
                                     _KEPT_WORDS['unplug-unconfirmed'])))
    return said + '.'
