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

"""The autoscaler of a nova-compute: its guests sized by their own load.

One loop per compute (a thread started by the guest-report periodic task,
``ensure_running``). Every ``[xloud] autoscale_interval`` it reads every
running guest of the host in one libvirt call (the driver's
``xloud_sample``), feeds each opted-in server's samples to the rules
(``xloud_autoscale.decide``), and carries out a growth or a shrink through
the live adjust's own path: the task-state guard and the placement claim
of the API (``xloud_api.take_guard``, ``claim_increase``), the quota, an
instance action (``xloud_autoscale``), then the compute's adjust
(``xloud_endpoint.run``: the guest changed in the host limit's safe order,
read back, recorded, placement made to match, notifications whose
``initiator`` is ``autoscaler``). A compute killed in the middle is
recovered as for the API's adjust (``xloud_manager.init_host``).

The servers it may change are listed from the database every
``LIST_EVERY`` seconds, not at every pass. A manual adjust wins: it holds
the server for its cooldown (``before_adjust``), and the guard keeps the
two from running at once. A refusal (quota, host full) is recorded once,
as the last decision, an instance action whose event failed and an error
notification, and not tried again for ``REFUSAL_BACKOFF`` seconds.
"""

import collections
import threading
import time

from oslo_log import log as logging
from oslo_utils import timeutils

from nova.compute import vm_states
from nova.compute import xloud
from nova.compute import xloud_autoscale
from nova.compute import xloud_errors
import nova.conf
from nova.conf import xloud as xloud_conf
from nova import context as nova_context
from nova import exception
from nova import objects
from nova import xloud_compat

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF
xloud_conf.register_opts(CONF)

ACTION = xloud.AUTOSCALE_ACTION
REFUSED_EVENT = 'compute_xloud_autoscale_refused'
LIST_EVERY = 10     # seconds between two listings of the servers

# the loop of this process, once started
_LOOP = None
_LOCK = threading.Lock()


def before_adjust(instance, decision):
    """The compute begins an adjust of the server (its guard is taken).

    Records why, saved with the adjust's values: the autoscaler's decision,
    or for a manual adjust the cooldown that holds the autoscaler off the
    server (and tells this compute's loop at once).
    """
    setting = xloud_autoscale.settings(instance.flavor)
    if setting is None:
        return
    if decision is not None:
        xloud_autoscale.record(instance, decision.action, decision.reason)
        return
    xloud_autoscale.record(instance, 'manual', 'cooldown after a manual '
                           'adjust: left alone for %d s' % setting.cooldown)
    if _LOOP is not None:
        _LOOP.manual(instance.uuid, setting.cooldown)


def ensure_running(manager):
    """Start this compute's loop once; on a host where it is off, say so.

    Called by the compute's guest-report periodic task, for a driver that
    can adjust its guests live (which samples them too, ``xloud_sample``).
    """
    global _LOOP
    if not CONF.xloud.autoscale:
        _say_off(manager)
        return
    if _LOOP is not None:
        return
    with _LOCK:
        if _LOOP is None:
            _LOOP = Autoscaler(manager)
            thread = threading.Thread(target=_LOOP.run,
                                      name='xloud-autoscaler', daemon=True)
            thread.start()
            LOG.info('Autoscaler started: one pass every %s s',
                     CONF.xloud.autoscale_interval)


def _say_off(manager):
    """Record on every opted-in server of the host that the host is off."""
    ctxt = nova_context.get_admin_context()
    reason = ('autoscaling is turned off on host %s ([xloud] autoscale)' %
              manager.host)
    for instance in _opted_in(ctxt, manager.host):
        try:
            if xloud_autoscale.record(instance, 'off', reason):
                instance.save(expected_task_state=[None])
        except Exception as e:
            LOG.debug('Could not record that autoscaling is off: %s', e,
                      instance=instance)


def _opted_in(ctxt, host):
    try:
        instances = objects.InstanceList.get_by_filters(
            ctxt, {'host': host, 'deleted': False,
                   'vm_state': vm_states.ACTIVE},
            expected_attrs=['system_metadata', 'flavor', 'metadata'])
    except Exception:
        LOG.exception('Could not list the servers to autoscale')
        return []
    return [i for i in instances if i.host == host and
            xloud_autoscale.settings(i.flavor) is not None]


class _Server(object):
    """What the loop knows of one opted-in server between passes."""

    def __init__(self, instance, now):
        self.uuid = instance.uuid
        self.instance = instance
        self.setting = xloud_autoscale.settings(instance.flavor)
        self.samples = collections.deque(maxlen=self._keep())
        self.previous = self.previous_delay = None
        # first seen now (a compute restart included): no shrink before
        # a cooldown has passed
        self.last_growth = now
        self.last_shrink = None
        self.manual_until = now + self._manual_left(instance)
        self.backoff = {}

    @staticmethod
    def _keep():
        interval = max(0.1, CONF.xloud.autoscale_interval)
        return int(xloud_autoscale.SHRINK_WINDOW / interval) + 3

    def _manual_left(self, instance):
        rec = xloud_autoscale.last_decision(instance)
        if not rec or rec.get('action') != 'manual':
            return 0
        try:
            at = timeutils.parse_isotime(rec['at'])
        except (KeyError, ValueError):
            return 0
        age = timeutils.delta_seconds(at, timeutils.utcnow(with_timezone=
                                                           True))
        return max(0, self.setting.cooldown - age)

    def update(self, instance):
        self.instance = instance
        self.setting = xloud_autoscale.settings(instance.flavor)

    def add(self, reading, now):
        """A reading of the pass at ``now`` (the loop's clock)."""
        cpu = xloud_autoscale.cpu_use(self.previous,
                                      (now, reading.cpu_ns))
        wait = xloud_autoscale.cpu_use(self.previous_delay,
                                       (now, reading.delay_ns))
        self.previous = ((now, reading.cpu_ns)
                         if reading.cpu_ns is not None else None)
        self.previous_delay = ((now, reading.delay_ns)
                               if reading.delay_ns is not None else None)
        self.samples.append(xloud_autoscale.Sample(
            now, cpu, reading.used_mb, reading.free_mb, wait))

    def changed(self, action, now):
        """After a change.

        A growth forgets the samples before it (they describe a smaller
        server: its next growth and its shrink wait for new ones). A
        shrink keeps them: it was to what their peak needs, and the next
        step, 10 s on, looks at the same window.
        """
        if action == 'grow':
            self.samples.clear()
            self.last_growth = now
        else:
            self.last_shrink = now


class Autoscaler(object):
    """One compute's loop (``run``); ``tick`` is one pass.

    ``clock`` and ``spawn`` are the loop's time and how it runs a change
    beside the loop (the functional tests drive both).
    """

    clock = staticmethod(time.monotonic)
    spawn = staticmethod(xloud_compat.spawn)

    def __init__(self, manager):
        self.manager = manager
        self.servers = {}
        self.listed = None
        self.changes = collections.deque()  # when each change began
        self.busy = set()   # servers with a change in flight
        self.passes = 0

    def run(self):
        failed_said = None
        while True:
            began = self.clock()
            try:
                self.tick()
            except Exception:
                # libvirtd restarting, the conductor away: said once a
                # minute, not every second
                if failed_said is None or began - failed_said >= 60:
                    LOG.exception('The autoscaler pass failed (said once '
                                  'a minute while it fails)')
                    failed_said = began
                else:
                    LOG.debug('The autoscaler pass failed again',
                              exc_info=True)
            interval = CONF.xloud.autoscale_interval
            time.sleep(max(0.05, interval - (self.clock() - began)))

    def manual(self, uuid, cooldown):
        server = self.servers.get(uuid)
        if server is not None:
            server.manual_until = self.clock() + cooldown
            server.samples.clear()

    def tick(self, now=None):
        """One pass: list when due, sample every guest, decide, act."""
        now = self.clock() if now is None else now
        self.passes += 1
        if self.listed is None or now - self.listed >= LIST_EVERY:
            self.listed = now
            self._list(now)
        if not self.servers:
            return
        memory = [u for u, s in self.servers.items()
                  if 'memory' in s.setting.resources]
        readings = self.manager.driver.xloud_sample(memory)
        for uuid, server in list(self.servers.items()):
            reading = readings.get(uuid)
            if reading is None:
                server.previous = server.previous_delay = None
                continue
            server.add(reading, now)
            if uuid not in self.busy:
                self._consider(server, now)

    def _list(self, now):
        ctxt = nova_context.get_admin_context()
        found = {}
        for instance in _opted_in(ctxt, self.manager.host):
            if xloud_autoscale.switched_off(instance):
                continue
            server = self.servers.get(instance.uuid)
            if server is None:
                server = _Server(instance, now)
                rec = xloud_autoscale.last_decision(instance)
                if rec and rec.get('action') == 'off':
                    self._note(server, 'hold', 'autoscaling is on')
            elif instance.uuid not in self.busy:
                server.update(instance)
            found[instance.uuid] = server
        self.servers = found

    def _rate_ok(self, now):
        cap = CONF.xloud.autoscale_max_changes_per_minute
        while self.changes and now - self.changes[0] >= 60:
            self.changes.popleft()
        return not cap or len(self.changes) < cap

    def _consider(self, server, now):
        instance = server.instance
        if (instance.task_state is not None or
                instance.vm_state != vm_states.ACTIVE or
                now < server.manual_until or server.setting is None):
            return
        decision = xloud_autoscale.decide(
            server.setting, xloud.bounds(instance), list(server.samples),
            now, server.last_growth, server.last_shrink,
            shrink_allowed=now >= server.backoff.get('shrink', 0))
        if decision.action == 'hold':
            return
        if now < server.backoff.get(decision.action, 0):
            return
        if not self._rate_ok(now):
            LOG.debug('Autoscaler: the host cap of %d changes a minute '
                      'holds back %s', CONF.xloud.
                      autoscale_max_changes_per_minute, decision,
                      instance=instance)
            return
        self.changes.append(now)
        self.busy.add(server.uuid)
        self.spawn(self._act, server, decision)

    def _act(self, server, decision):
        try:
            ctxt = nova_context.get_admin_context()
            before = xloud.live(server.instance)
            instance = act(self.manager, ctxt, server.uuid, decision)
            now = self.clock()
            if instance is not None:
                server.update(instance)
            if instance is None or xloud.live(instance) == before:
                # refused, or the adjust changed nothing (its event says
                # why): not again before the backoff
                server.backoff[decision.action] = (
                    now + xloud_autoscale.REFUSAL_BACKOFF)
                return
            server.changed(decision.action, now)
        except Exception:
            LOG.exception('The autoscaler could not carry out %s',
                          decision, instance=server.instance)
            server.backoff[decision.action] = (
                self.clock() + xloud_autoscale.REFUSAL_BACKOFF)
        finally:
            self.busy.discard(server.uuid)

    def _note(self, server, action, reason):
        try:
            if xloud_autoscale.record(server.instance, action, reason):
                server.instance.save(expected_task_state=[None])
        except Exception as e:
            LOG.debug('Could not record the decision: %s', e,
                      instance=server.instance)


def act(manager, ctxt, uuid, decision):
    """Carry out a decision through the adjust's path.

    :returns: the server as it is after the adjust, or None when nothing
        was done (refused, or the server is not the loop's to change now)
    """
    # imported here: the endpoint imports this module
    from nova.compute import xloud_api
    from nova.compute import xloud_endpoint
    from nova.compute import xloud_quota

    try:
        instance = objects.Instance.get_by_uuid(
            ctxt, uuid, expected_attrs=['system_metadata', 'flavor',
                                        'metadata'])
    except exception.InstanceNotFound:
        return None
    if (instance.host != manager.host or instance.task_state is not None or
            instance.vm_state != vm_states.ACTIVE or
            not xloud_autoscale.enabled(instance)[0]):
        return None
    if instance.locked:
        _refused(ctxt, instance, manager.host,
                 'the server is locked (%s)' % (instance.locked_by or
                                                'locked'), quiet=True)
        return None
    # decided on what the loop last listed: only what still goes the way
    # it decided (a manual adjust may have come between)
    bounds = xloud.bounds(instance)
    sign = 1 if decision.action == 'grow' else -1
    wanted = {name: max(bounds[name].minimum,
                        min(bounds[name].maximum, value))
              for name, value in decision.wanted.items()
              if (value - bounds[name].current) * sign > 0}
    if not wanted:
        return None
    more = xloud_api.XloudAdjustAPI.increases(instance, wanted)
    try:
        xloud_quota.check(ctxt, instance, more)
    except exception.TooManyInstances as e:
        _refused(ctxt, instance, manager.host, _quota_words(e, more))
        return None
    try:
        xloud_api.take_guard(ctxt, instance)
    except (xloud_errors.AdjustInProgress, exception.InstanceInvalidState,
            xloud_errors.AdjustConflict):
        return None
    try:
        xloud_api.claim_increase(ctxt, manager.reportclient, instance,
                                 wanted, more)
    except exception.TooManyInstances as e:
        xloud_api.release_guard(instance)
        _refused(ctxt, instance, manager.host, _quota_words(e, more))
        return None
    except xloud_errors.AdjustConflict as e:
        xloud_api.release_guard(instance)
        _refused(ctxt, instance, manager.host,
                 'host full: %s' % e.format_message())
        return None
    except Exception:
        xloud_api.release_guard(instance)
        raise
    objects.InstanceAction.action_start(ctxt, uuid, ACTION,
                                        want_result=False)
    LOG.info('Autoscaler: %s to %s (%s)', decision.action, wanted,
             decision.reason, instance=instance)
    xloud_endpoint.run(manager, ctxt, instance, wanted.get('vcpus'),
                       wanted.get('memory_mb'), False, ctxt.request_id,
                       decision)
    return instance


def _quota_words(e, more):
    names = {'vcpus': 'cores', 'memory_mb': 'ram'}
    return 'quota %s exhausted (%s)' % (
        ', '.join(names[n] for n in sorted(more)), e.format_message())


def _refused(ctxt, instance, host, reason, quiet=False):
    """Record a refusal once: the last decision, and unless ``quiet`` an
    action whose event failed and an error notification.
    """
    from nova.notifications.objects import xloud_adjust as notification
    from nova.objects import fields

    try:
        if not xloud_autoscale.record(instance, 'refused', reason):
            return
        instance.save(expected_task_state=[None])
    except Exception as e:
        LOG.debug('Could not record the refusal: %s', e, instance=instance)
        return
    LOG.info('Autoscaler: refused: %s', reason, instance=instance)
    if quiet:
        return
    exc = xloud_errors.AdjustConflict(reason=reason)
    try:
        objects.InstanceAction.action_start(ctxt, instance.uuid, ACTION,
                                            want_result=False)
        objects.InstanceActionEvent.event_start(
            ctxt, instance.uuid, REFUSED_EVENT, want_result=False,
            host=host)
        objects.InstanceActionEvent.event_finish_with_failure(
            ctxt, instance.uuid, REFUSED_EVENT, exc_val=reason,
            exc_tb=reason, want_result=False)
    except Exception:
        LOG.exception('Could not record the refusal as an action',
                      instance=instance)
    live = xloud.live(instance)
    notification.notify(ctxt, instance, host,
                        fields.NotificationPhase.ERROR, live, live, False,
                        notification.AUTOSCALER, exception=exc)
