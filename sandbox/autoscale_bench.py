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

"""The autoscaler on REAL guests: loads started inside them, what the cloud
does by itself, measured.

On the sandbox's qemu mode (a private libvirtd, QEMU with TCG), from the
agent image (loads started with the guest agent's ``guest-exec
/bin/xloud-load``). Nobody calls the adjust API but ``manual_wins``: every
change is the compute's autoscaler. Four servers, in parallel:

``cpu`` (flavor ``xloud:autoscale=cpu``, 2 vCPUs at most, 1 at least,
cooldown ``CPU_COOLDOWN``): ``cpu_rounds`` rounds of a busy loop on every
online vCPU for ``CPU_LOAD`` s: from the load's start to the guest's own
console showing 2 CPUs online, and from its end to GET's current back at
the minimum; then a steady load of two busy threads (``STEADY`` s) whose
slack is measured (the claim less the CPU time the host measures, over
the claim); then a
load that comes and goes (``FLAP_ON`` s on, ``FLAP_OFF`` s off for
``flap_minutes``): the autoscaler's reversals; last, a manual adjust to 2
while idle: the autoscaler must leave it for its cooldown.

``mem1``, ``mem2`` (``xloud:autoscale=memory``, 512 to 1536 MiB, cooldown
``MEM_COOLDOWN``): ``ramps`` ramps each of ``/bin/xloud-load ramp``
(``RAMP_MIB`` MiB, 8 MiB every ``RAMP_PAUSE`` s, held ``RAMP_HOLD`` s):
the guest's own OOM kills (its kernel's console lines) and the host's
(``xloud_memory_limit`` actions), the slack at the end of each hold (the
claim less what the guest's balloon statistics say it uses, over the
claim), and the time back to the minimum after each.

``pinned`` (the same flavor without the opt-in): one ramp, which its
guest's OOM killer ends; it never changes.

A watcher reads GET and placement of every server every ``WATCH`` s: the
two must agree at every sample where no adjust is in flight.
"""

import json
import re
import threading
import time

from sandbox import client as sandbox_client
from sandbox import console
from sandbox.measure import iso_epoch
from sandbox.measure import pct

CPU_FLAVOR = {'vcpus': 2, 'ram': 1024, 'disk': 1}
MEM_FLAVOR = {'vcpus': 1, 'ram': 1536, 'disk': 1}
MINIMUM = {'minimum_cpu': '1', 'minimum_memory': '512'}
CPU_COOLDOWN = 30
MEM_COOLDOWN = 10
CPU_LOAD = 20
STEADY = 60
FLAP_ON = 20
FLAP_OFF = 20
RAMP_MIB = 640
RAMP_PAUSE = '0.1'
RAMP_HOLD = 20
WATCH = 2.0
BOOT_TIMEOUT = 300
# after a load ends, the minimum must come within cooldown + this
BACK_GOAL = 60
BACK_TIMEOUT = 240

# the guest kernel's OOM lines (where its console log level shows them)
# and its shell's word for a child killed by a signal (always shown)
OOM = re.compile(r'Out of memory|oom-kill|Killed process|^Killed\s*$', re.M)
HELD = re.compile(r'XLOUD-GUEST memload held mib=(\d+)')


class Server(console.LogConsole):
    """One server, its console (the log file) and its guest agent."""

    def __init__(self, sb, cloud, kind, server):
        self.sb, self.cloud, self.kind = sb, cloud, kind
        self.sid = server['id']
        self.host = server['OS-EXT-SRV-ATTR:host']
        super(Server, self).__init__(sb.hyper.console_log(sb, self.sid))

    def load(self, *args):
        """Start ``/bin/xloud-load args`` in the guest (guest-exec)."""
        out = self.sb.compute(self.host).hyper.virsh(
            'qemu-agent-command', self.sid, json.dumps({
                'execute': 'guest-exec', 'arguments': {
                    'path': '/bin/xloud-load',
                    'arg': [str(a) for a in args]}}))
        return json.loads(out)['return']['pid']

    def current(self):
        got = self.cloud.get_adjust(self.sid)
        return got['vcpus']['current'], got['memory_mb']['current'], got

    def wait_current(self, accept, what, timeout=BACK_TIMEOUT, poll=0.5):
        deadline = time.monotonic() + timeout
        while True:
            vcpus, memory_mb, got = self.current()
            if accept(vcpus, memory_mb):
                return time.monotonic(), got
            if time.monotonic() > deadline:
                raise sandbox_client.StepFailed(
                    '%s: not %s in %d s (GET says %s)' % (
                        self.kind, what, timeout, got))
            time.sleep(poll)

    def autoscale_actions(self):
        return [a for a in self.cloud.actions(self.sid)
                if a['action'] == 'xloud_autoscale']

    def host_kills(self):
        return [a for a in self.cloud.actions(self.sid)
                if a['action'] == 'xloud_memory_limit']

    def cpu_seconds(self):
        """The domain's CPU time (s), as the host measures it."""
        out = self.sb.compute(self.host).hyper.virsh(
            'domstats', self.sid, '--cpu-total')
        m = re.search(r'cpu\.time=(\d+)', out)
        return int(m.group(1)) / 1e9

    def used_mb(self):
        """What the guest's balloon statistics say it uses (MiB), and the
        balloon's size."""
        out = self.sb.compute(self.host).hyper.virsh('dommemstat', self.sid)
        stats = dict((k, int(v)) for k, v in re.findall(
            r'^(\w+) (\d+)$', out, re.M))
        if 'usable' not in stats:
            return None, stats.get('actual', 0) // 1024
        return ((stats['actual'] - stats['usable']) // 1024,
                stats['actual'] // 1024)


class Watcher(threading.Thread):
    """GET and placement of every server every ``WATCH`` s."""

    def __init__(self, sb, servers, rp):
        super(Watcher, self).__init__(daemon=True)
        self.cloud = sandbox_client.Cloud(sb)
        self.servers, self.rp = servers, rp
        self.samples = []
        self.stop = threading.Event()
        self.error = None

    def run(self):
        try:
            while not self.stop.wait(WATCH):
                for s in self.servers:
                    srv = self.cloud.server(s.sid)
                    got = self.cloud.get_adjust(s.sid)
                    alloc = self.cloud.allocations(s.sid)[self.rp][
                        'resources']
                    self.samples.append({
                        'kind': s.kind, 'at': time.monotonic(),
                        'task': srv.get('OS-EXT-STS:task_state'),
                        'get': (got['vcpus']['current'],
                                got['memory_mb']['current']),
                        'placement': (alloc['VCPU'], alloc['MEMORY_MB']),
                        'bounds': [(got[r]['minimum'], got[r]['maximum'])
                                   for r in ('vcpus', 'memory_mb')]})
        except Exception as e:
            self.error = e

    def mismatches(self):
        """Samples where GET and placement differ with no adjust in
        flight."""
        return [s for s in self.samples
                if s['task'] is None and s['get'] != s['placement']]

    def wrong(self):
        """The mismatches that are not the moment after a shrink's record,
        before placement releases what it gave back: placement holding
        less than GET, or a difference still there at the server's next
        sample."""
        found, last = [], {}
        for s in self.samples:
            before = last.get(s['kind'])
            last[s['kind']] = s
            if s['task'] is not None or s['get'] == s['placement']:
                continue
            under = any(p < g for g, p in zip(s['get'], s['placement']))
            again = (before is not None and before['task'] is None and
                     before['get'] == s['get'] and
                     before['placement'] == s['placement'])
            if under or again:
                found.append(s)
        return found

    def out_of_bounds(self):
        return [s for s in self.samples
                if not all(lo <= v <= hi for v, (lo, hi) in
                           zip(s['get'], s['bounds']))]


def reversals(actions_sizes):
    """How many times the direction of change turned."""
    turns, last = 0, None
    for a, b in zip(actions_sizes, actions_sizes[1:]):
        direction = (b > a) - (b < a)
        if direction and last and direction != last:
            turns += 1
        if direction:
            last = direction
    return turns


def cpu_part(s, res, cpu_rounds, flap_minutes):
    """The cpu server's rounds, steady load, flapping load, manual."""
    res['cpu_online'], res['cpu_back'], res['cpu_action'] = [], [], []
    for n in range(cpu_rounds):
        s.wait_current(lambda v, m: v == 1, 'at 1 vCPU')
        since = len(s.lines())
        known = set(a['request_id'] for a in s.autoscale_actions())
        t0, wall0 = time.monotonic(), time.time()
        s.load('cpu', CPU_LOAD)
        _, seen = s.wait_line(lambda ln: ln[0] == 2, since,
                              'cpus_online=2', poll=0.05)
        res['cpu_online'].append(seen - t0)
        # the growth's action: when the autoscaler began it
        began = [a for a in s.autoscale_actions()
                 if a['request_id'] not in known]
        if began:
            res['cpu_action'].append(
                iso_epoch(began[-1]['start_time']) - wall0)
        # the growth recorded (GET says 2), then back at 1 after the load
        s.wait_current(lambda v, m: v == 2, 'at 2 vCPUs')
        t_end = t0 + CPU_LOAD
        t_back, _ = s.wait_current(
            lambda v, m: v == 1, 'back at 1 vCPU',
            timeout=CPU_LOAD + CPU_COOLDOWN + BACK_TIMEOUT)
        res['cpu_back'].append(t_back - t_end)
        print('   cpu round %d: online %.2f s after the load began (the '
              'autoscaler began %s s after it); back at 1 vCPU %.1f s after '
              'it ended' % (n + 1, seen - t0, '%.2f' % res['cpu_action'][-1]
                            if began else '?', t_back - t_end), flush=True)

    # steady: a load of two busy threads for STEADY s (two loads started
    # on the one CPU online: the guest spreads them once it has two), its
    # slack over the second half (after the growth)
    s.load('cpu', STEADY)
    s.load('cpu', STEADY)
    time.sleep(STEADY / 2.0)
    c0, t0 = s.cpu_seconds(), time.monotonic()
    claims = []
    while time.monotonic() - t0 < STEADY / 2.0 - 5:
        claims.append(s.current()[0])
        time.sleep(2)
    use = (s.cpu_seconds() - c0) / (time.monotonic() - t0)
    claim = sum(claims) / float(len(claims))
    res['cpu_steady'] = {'claim': claim, 'use': use,
                         'slack': (claim - use) / claim}
    s.wait_current(lambda v, m: v == 1, 'at 1 vCPU after the steady load',
                   timeout=CPU_COOLDOWN + BACK_TIMEOUT)

    # comes and goes
    before = len(s.autoscale_actions())
    t0 = time.monotonic()
    sizes = [1]
    while time.monotonic() - t0 < flap_minutes * 60:
        s.load('cpu', FLAP_ON)
        time.sleep(FLAP_ON + FLAP_OFF)
    sizes_seen = [smp['get'][0] for smp in res['watcher'].samples
                  if smp['kind'] == 'cpu' and smp['at'] >= t0]
    for v in sizes_seen:
        if v != sizes[-1]:
            sizes.append(v)
    res['flap'] = {'minutes': (time.monotonic() - t0) / 60.0,
                   'changes': len(s.autoscale_actions()) - before,
                   'sizes': sizes, 'reversals': reversals(sizes)}

    # a manual adjust wins for the cooldown
    s.wait_current(lambda v, m: v == 1, 'at 1 vCPU before the manual adjust',
                   timeout=CPU_COOLDOWN + BACK_TIMEOUT)
    t0 = time.monotonic()
    rid = s.cloud.adjust(s.sid, 2, None, persist=False)
    s.cloud.wait_action(s.sid, rid, timeout=120, poll=0.1)
    held = []
    while time.monotonic() - t0 < CPU_COOLDOWN - 3:
        held.append(s.current()[0])
        time.sleep(1)
    decision = s.current()[2]['autoscale']['last_decision']
    t_back, _ = s.wait_current(lambda v, m: v == 1,
                               'back at 1 vCPU after the manual cooldown',
                               timeout=CPU_COOLDOWN + BACK_TIMEOUT)
    res['manual'] = {'held': held, 'decision': decision,
                     'back_after': t_back - t0}


def settled(s, hold=45, timeout=BACK_TIMEOUT):
    """(when it last moved, MiB) once GET's memory has not moved for
    ``hold`` s: longer than the autoscaler may wait between two shrink
    steps (its 30 s window, its 10 s spacing)."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        memory_mb = s.current()[1]
        if memory_mb != last:
            last, since = memory_mb, time.monotonic()
        elif time.monotonic() - since >= hold:
            return since, memory_mb
        time.sleep(1)
    raise sandbox_client.StepFailed('%s: its memory never settled' % s.kind)


def mem_part(s, res, ramps):
    """One memory server's ramps, each from the size it rests at idle
    (the minimum, or a step above it where its idle use plus 1.25
    headrooms is more) until it rests again."""
    key = s.kind
    mine = res.setdefault('ramps', [])
    _, rest = settled(s)
    for n in range(ramps):
        text0 = len(s.text())
        kills0 = len(s.host_kills())
        try:
            s.load('ramp', RAMP_MIB, RAMP_HOLD, RAMP_PAUSE)
        except Exception as e:
            # its guest agent was OOM-killed with the last ramp's load
            mine.append({'server': key, 'held': None, 'oom': 1,
                         'host_kills': 0, 'slack': None, 'back': 0,
                         'rest': 0,
                         'agent_lost': str(e)})
            print('   %s ramp %d: the guest agent is gone (%s)' % (
                key, n + 1, e), flush=True)
            return
        deadline = time.monotonic() + 300
        held = None
        while held is None and time.monotonic() < deadline:
            m = HELD.search(s.text()[text0:])
            if m:
                held = int(m.group(1))
            time.sleep(0.2)
        # the slack near the end of the hold
        time.sleep(RAMP_HOLD * 0.6)
        used, balloon = s.used_mb()
        claim = s.current()[1]
        t_end = time.monotonic() + RAMP_HOLD * 0.4
        text = s.text()[text0:]
        time.sleep(max(0, t_end - time.monotonic()))
        t_back, rest = settled(
            s, timeout=RAMP_HOLD + MEM_COOLDOWN + BACK_TIMEOUT)
        rec = {'server': key, 'held': held, 'peak_claim': claim,
               'rest': rest,
               'guest_used': used, 'balloon': balloon,
               'slack': (claim - used) / float(claim) if used else None,
               'oom': len(OOM.findall(text)),
               'host_kills': len(s.host_kills()) - kills0,
               'back': t_back - t_end}
        mine.append(rec)
        print('   %s ramp %d: held %s MiB, claim %d MiB, guest uses %s, '
              'OOM lines %d, host kills %d, rests at %d MiB %.1f s after' % (
                  key, n + 1, held, claim, used, rec['oom'],
                  rec['host_kills'], rest, rec['back']), flush=True)


def pinned_part(s, res):
    text0 = len(s.text())
    s.load('ramp', RAMP_MIB, RAMP_HOLD, RAMP_PAUSE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = s.text()[text0:]
        if OOM.search(text) or HELD.search(text):
            break
        time.sleep(0.5)
    time.sleep(5)
    text = s.text()[text0:]
    res['pinned'] = {'oom': len(OOM.findall(text)),
                     'held': [int(x) for x in HELD.findall(text)],
                     'current': s.current()[:2],
                     'actions': len(s.autoscale_actions())}


def run(sb, cloud, cpu_rounds=6, ramps=10, flap_minutes=10):
    """Boot, load, watch; returns what was measured."""
    res = {}
    image = sb.hyper.upload_images(cloud, agent=True)
    flavors = {
        'cpu': cloud.create_flavor('xloud.autoscale-cpu', extra_specs=dict(
            MINIMUM, **{'xloud:autoscale': 'cpu',
                        'xloud:autoscale_cooldown': str(CPU_COOLDOWN)}),
            **CPU_FLAVOR),
        'mem': cloud.create_flavor('xloud.autoscale-mem', extra_specs=dict(
            MINIMUM, **{'xloud:autoscale': 'memory',
                        'xloud:autoscale_cooldown': str(MEM_COOLDOWN)}),
            **MEM_FLAVOR),
        'pinned': cloud.create_flavor('xloud.pinned', extra_specs=MINIMUM,
                                      **MEM_FLAVOR)}
    servers = []
    for kind, flavor in (('cpu', 'cpu'), ('mem1', 'mem'), ('mem2', 'mem'),
                         ('pinned', 'pinned')):
        srv = cloud.boot('xloud-autoscale-%s' % kind, image['id'],
                         flavors[flavor]['id'])
        servers.append((kind, srv['id']))
    found = {}
    for kind, sid in servers:
        srv = cloud.wait_server(sid, 'ACTIVE', timeout=BOOT_TIMEOUT)
        found[kind] = Server(sb, cloud, kind, srv)
    for s in found.values():
        s.wait_line(lambda ln: True, 0, 'its first line',
                    timeout=BOOT_TIMEOUT)
        # the agent answers once the guest's init started it
        deadline = time.monotonic() + BOOT_TIMEOUT
        while True:
            try:
                s.sb.compute(s.host).hyper.virsh(
                    'qemu-agent-command', s.sid, '{"execute":"guest-ping"}')
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)
    rp = cloud.host_provider(found['cpu'].host)['uuid']
    watcher = res['watcher'] = Watcher(sb, found.values(), rp)
    watcher.start()
    errors = []

    def guarded(func, *args):
        try:
            func(*args)
        except Exception as e:
            errors.append('%s: %s' % (func.__name__, e))

    threads = [threading.Thread(target=guarded, args=a) for a in (
        (cpu_part, found['cpu'], res, cpu_rounds, flap_minutes),
        (mem_part, found['mem1'], res, ramps),
        (mem_part, found['mem2'], res, ramps),
        (pinned_part, found['pinned'], res))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    watcher.stop.set()
    watcher.join(30)
    res['errors'] = errors
    res['samples'] = len(watcher.samples)
    res['mismatches'] = watcher.mismatches()
    res['wrong'] = watcher.wrong()
    res['out_of_bounds'] = watcher.out_of_bounds()
    res['watch_error'] = watcher.error
    for kind, s in found.items():
        res.setdefault('actions', {})[kind] = len(s.autoscale_actions())
    return res


def figures(res):
    """FIGURE lines: (name, value, unit), of what was measured (a part
    that failed leaves its rows out)."""
    rows = []
    for part in (_cpu_rows, _memory_rows, _other_rows):
        try:
            rows.extend(part(res))
        except (KeyError, ValueError, ZeroDivisionError) as e:
            rows.append(('%s: not measured' % part.__name__.strip('_'),
                         repr(e), ''))
    return rows


def _cpu_rows(res):
    return [
        ('CPU load -> 2nd vCPU online in the guest, p50/p95 (%d rounds)' %
         len(res['cpu_online']), '%.2f / %.2f' % (
             pct(res['cpu_online'], 50), pct(res['cpu_online'], 95)), 's'),
        ('CPU load -> the autoscaler begins the growth, p50/p95',
         '%.2f / %.2f' % (pct(res['cpu_action'], 50),
                          pct(res['cpu_action'], 95)), 's'),
        ('CPU load ends -> back at the minimum, max (cooldown %d s + goal '
         '%d s)' % (CPU_COOLDOWN, BACK_GOAL), '%.1f' % max(res['cpu_back']),
         's'),
        ('steady CPU load: slack (claim - use) / claim',
         '%.0f%% (claim %.2f vCPUs, use %.2f)' % (
             100 * res['cpu_steady']['slack'], res['cpu_steady']['claim'],
             res['cpu_steady']['use']), ''),
        ('load %d s on / %d s off for %.1f min: changes, reversals' % (
            FLAP_ON, FLAP_OFF, res['flap']['minutes']),
         '%d, %d' % (res['flap']['changes'], res['flap']['reversals']), ''),
        ('a manual adjust to 2 while idle: held for its cooldown (%d s), '
         'then back at 1 after' % CPU_COOLDOWN, '%s, %.1f s' % (
             set(res['manual']['held']) == {2},
             res['manual']['back_after']), ''),
    ]


def _memory_rows(res):
    ramps = res['ramps']
    slack = [r['slack'] for r in ramps if r['slack'] is not None]
    return [
        ('memory ramps to %d MiB (8 MiB every %s s): got it all / guest OOM '
         'kills / host-limit kills (%d ramps)' % (
             RAMP_MIB, RAMP_PAUSE, len(ramps)),
         '%d / %d / %d' % (sum(r['held'] == RAMP_MIB for r in ramps),
                           sum(r['oom'] for r in ramps),
                           sum(r['host_kills'] for r in ramps)), ''),
        ('pinned server, one ramp: guest OOM kill lines, MiB it got',
         '%d, %s' % (res['pinned']['oom'], res['pinned']['held']), ''),
        ('memory ramp ends -> at rest again (cooldown %d s + goal %d s), '
         'max; the sizes it rests at' % (MEM_COOLDOWN, BACK_GOAL),
         '%.1f s; %s MiB' % (max(r['back'] for r in ramps), sorted(set(
             r['rest'] for r in ramps if 'rest' in r))), ''),
        ('held memory: slack (claim - guest use) / claim, p50/max',
         '%.0f%% / %.0f%%' % (100 * pct(slack, 50),
                              100 * max(slack or [float('nan')])), ''),
    ]


def _other_rows(res):
    return [
        ('GET = placement at every sample with no adjust in flight',
         '%d of %d samples differ, %d of them placement under GET or '
         'twice in a row' % (len(res['mismatches']), res['samples'],
                             len(res['wrong'])), ''),
    ]
