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

"""The guest's side of a live vCPU shrink, on REAL guests.

``tox -e sandbox-qemu -- sandbox.tests.test_guest_side_qemu``. libvirt 9.0
with QEMU 7.2 (TCG) never confirms a vCPU unplug, so a live shrink keeps
the vCPUs plugged, caps the domain's CPU time at the claimed vCPUs' worth
(``global_quota``) and, where the image has a guest agent
(``hw_qemu_guest_agent=yes``), has the agent take the others offline in
the guest (``nova/virt/libvirt/xloud_cpu.py``). Two servers of a flavor of
3 vCPUs with ``minimum_cpu=1``: one from the agent image
(``upload_images(agent=True)``), one from the plain one. Each is grown to
the top (3 vCPUs, or placement's VCPU ``max_unit``, the host's CPU count,
when that is less: 2 on a 2-core machine), then ``ROUNDS`` rounds of:
shrink to 1 (POST until its action finished), the guest's own count
(``XLOUD-GUEST cpus_online=N`` on its serial console, through
os-getConsoleOutput), a second adjust right after (grow to 2) and back to
the top when the top is 3. Checked after every adjust: its
``compute_xloud_adjust`` event Success, GET's current = placement's
allocation, libvirt's plugged vCPUs (``virsh vcpucount --live``) = the
top, the last hot-plugged; after a shrink GET's ``cpu_cap`` (plugged =
the top, allowed 1) and ``guest``: the agent server's guest shows 1
online and GET says confirmed with 1 online; the plain server's guest
keeps all online and GET says not confirmed, with the reason.

Then, on the agent server, a memory shrink the guest cannot give: a load
(``guest-exec /bin/xloud-load mem``) holds memory, the compute's periodic
report (``[xloud] guest_report_interval``) records it, and a shrink below
what the guest uses is refused at once (409 saying what it uses and the
smallest size; the dry run says ``fits: false``), while one it can give
succeeds. Last, the CPU cap measured from the host: a third server of the
plain image whose command line starts a busy loop on every online vCPU
(``xloud_cpuload=S:D``) after it was grown, shrunk to 1: its CPU time per
wall second (libvirt's ``cpu_time`` of the domain's cgroup, and QEMU's
``/proc/PID/stat``) over windows of 10 s, capped and after it grew back
(cap lifted), twice each, alternately. The agent guest's own count is
watched (os-getConsoleOutput every 0.1 s, a client of its own) from
before the shrink's POST, while the POST's action is waited for.

The times are printed as FIGURE lines, never asserted.
"""

import json
import math
import os
import re
import threading
import time
import unittest

from sandbox import client as sandbox_client
from sandbox import console
from sandbox import demo
from sandbox import qemu_hypervisor
from sandbox.tests import qemu_base
from sandbox.measure import iso_epoch
from sandbox.measure import pct
from sandbox import xloud_sandbox

MIB = 1024
# XLOUD_GUEST_SIDE_ROUNDS: fewer rounds on a slow machine
ROUNDS = int(os.environ.get('XLOUD_GUEST_SIDE_ROUNDS', '10'))
FLAVOR = {'vcpus': 3, 'ram': 1024, 'disk': 1}
MINIMUM = {'minimum_cpu': '1', 'minimum_memory': '512'}
ACTION_TIMEOUT = 300
AGENT_TIMEOUT = 120
# the memory load held through guest-exec, and how long
MEMLOAD_MIB = 400
MEMLOAD_SECONDS = 600
# GET's usable_mb shows the whole load within this (the guest's own use
# moves by far less); a report of balloon statistics taken while the load
# was still filling shows only part of it
USABLE_TOLERANCE_MIB = 64
# until GET shows the load: the balloon's statistics period (10 s) and
# the compute's report interval (10 s), on a loaded machine
REPORT_TIMEOUT = 180
# the CPU load of the third server: after CPULOAD_AT s of its uptime, for
# CPULOAD_SECONDS; each measurement window
CPULOAD_AT = 60
CPULOAD_SECONDS = 240
CPU_WINDOW = 10
# how far above 1.0 CPU a guest capped at one CPU's worth may measure: one
# CFS period (100 ms) at each edge of a 10 s window, rounded up
CAP_TOLERANCE = 0.05

AGENT_LINE = re.compile(r'XLOUD-GUEST agent (start|off|exited|:)')
CPULOAD_LINE = re.compile(r'XLOUD-GUEST cpuload (start|stop) cpus=(\d+)')
MEMLOAD_LINE = re.compile(r'XLOUD-GUEST memload (start|held|freed) mib=(\d+)')
# virsh vcpucount --live: the live current count alone ("2")
VCPUCOUNT = re.compile(r'^\s*(\d+)\s*$')


def figure(res, name, value, unit='s'):
    line = 'FIGURE %s: %s%s' % (name, value if isinstance(value, str) else
                                '%.3f' % value, ' ' + unit if unit else '')
    print(line, flush=True)
    res.setdefault('figures', []).append(line)


def adjust_event(action):
    return [(e['event'], e['result']) for e in action['events']
            if e['event'] == 'compute_xloud_adjust']


class Guest(console.GuestConsole):
    """One server and what its guest printed (os-getConsoleOutput)."""

    def __init__(self, cloud, sb, kind, server):
        self.cloud, self.sb, self.kind = cloud, sb, kind
        self.sid = server['id']
        self.host = server['OS-EXT-SRV-ATTR:host']

    def text(self):
        return self.cloud.console_output(self.sid)

    def wait_line(self, accept, since, what, timeout=demo.GUEST_TIMEOUT,
                  poll=0.2):
        return super(Guest, self).wait_line(accept, since, what,
                                            timeout=timeout, poll=poll)

    def wait_text(self, pattern, accept, what, timeout=AGENT_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            out = self.text()
            for m in pattern.finditer(out):
                if accept(m):
                    return m
            if time.monotonic() > deadline:
                raise sandbox_client.StepFailed(
                    '%s: no %s in %d s; its console ends with:\n%s' % (
                        self.kind, what, timeout, out[-1500:]))
            time.sleep(0.5)

    def plugged(self):
        """libvirt's plugged vCPUs (virsh vcpucount --live)."""
        out = self.sb.compute(self.host).hyper.virsh(
            'vcpucount', self.sid, '--live')
        m = VCPUCOUNT.search(out)
        if not m:
            raise sandbox_client.StepFailed('virsh vcpucount: %r' % out)
        return int(m.group(1))

    def adjust(self, vcpus=None, memory_mb=None):
        """POST, until its action finished: (seconds, action)."""
        t0 = time.monotonic()
        rid = self.cloud.adjust(self.sid, vcpus, memory_mb)
        act = self.cloud.wait_action(self.sid, rid, timeout=ACTION_TIMEOUT,
                                     poll=0.1)
        return time.monotonic() - t0, rid, act

    def state(self, rp):
        """(GET, placement's VCPU/MEMORY_MB, libvirt's plugged)."""
        got = self.cloud.get_adjust(self.sid)
        alloc = self.cloud.allocations(self.sid)[rp]['resources']
        return got, (alloc['VCPU'], alloc['MEMORY_MB']), self.plugged()

    def agent(self, command):
        """A guest agent command through libvirt (virsh
        qemu-agent-command); its parsed reply."""
        out = self.sb.compute(self.host).hyper.virsh(
            'qemu-agent-command', self.sid, json.dumps(command))
        return json.loads(out)


class LineWatch(threading.Thread):
    """Polls the guest's console (os-getConsoleOutput, its own client)
    from before a POST until a line of index >= ``since`` that ``accept``
    takes: when it was seen, while the main thread waits for the action.
    """

    def __init__(self, sb, sid, since, accept, timeout=demo.GUEST_TIMEOUT):
        super(LineWatch, self).__init__(daemon=True)
        self.cloud = sandbox_client.Cloud(sb)
        self.sid, self.since, self.accept = sid, since, accept
        self.timeout = timeout
        self.line = self.seen = self.error = None

    def run(self):
        deadline = time.monotonic() + self.timeout
        try:
            while time.monotonic() < deadline:
                lines = qemu_hypervisor.guest_lines(
                    self.cloud.console_output(self.sid))
                for line in lines[self.since:]:
                    if self.accept(line):
                        self.line, self.seen = line, time.monotonic()
                        return
                time.sleep(0.1)
        except Exception as e:
            self.error = e

    def result(self, what):
        self.join(self.timeout + 30)
        if self.line is None:
            raise sandbox_client.StepFailed(
                'the guest did not print %s in %d s (%s)' % (
                    what, self.timeout, self.error))
        return self.line, self.seen


def check(ok, message):
    demo.check(ok, message)


def one_adjust(g, rp, vcpus, plugged, what, record):
    """An adjust and the checks every adjust has; its record."""
    secs, rid, act = g.adjust(vcpus)
    got, alloc, libvirt = g.state(rp)
    rec = {'what': what, 'vcpus': vcpus, 'secs': secs, 'rid': rid,
           'event': adjust_event(act), 'current': got['vcpus']['current'],
           'placement': alloc[0], 'plugged': libvirt,
           'plugged_expected': plugged, 'cpu_cap': got.get('cpu_cap'),
           'guest': got.get('guest')}
    record.append(rec)
    check(rec['event'] == [('compute_xloud_adjust', 'Success')],
          '%s %s to %d: its event is %s' % (g.kind, what, vcpus,
                                            act['events']))
    check(rec['current'] == vcpus == rec['placement'],
          '%s %s to %d: GET %s, placement %s' % (
              g.kind, what, vcpus, rec['current'], rec['placement']))
    check(libvirt == plugged, '%s %s to %d: libvirt has %d plugged, not %d'
          % (g.kind, what, vcpus, libvirt, plugged))
    return rec


def rounds(g, rp, top, res):
    """The shrink/grow rounds of one server (module docstring)."""
    kind = g.kind
    second = min(2, top)
    record = res['adjusts'][kind] = []
    guest_times = res['guest_secs'][kind] = []
    res['guest_seen'][kind] = []
    for n in range(ROUNDS):
        demo.Step.current = '%s: round %d, shrink to 1' % (kind, n + 1)
        since = len(g.lines())
        if kind == 'agent':
            # watched from before the POST, beside the wait for the action
            watch = LineWatch(g.sb, g.sid, since, lambda ln: ln[0] == 1)
            watch.start()
        t0 = time.monotonic()
        rec = one_adjust(g, rp, 1, top, 'shrink', record)
        if kind == 'agent':
            line, seen = watch.result('cpus_online=1')
            guest_times.append(seen - t0)
        else:
            # a line printed after the action ended (the init's heartbeat
            # every 5 s at the latest)
            line, seen = g.wait_line(lambda ln: True, len(g.lines()),
                                     'a line after the shrink')
        res['guest_seen'][kind].append(line[0])
        rec['guest_line'] = line
        check(rec['cpu_cap'] is not None and
              (rec['cpu_cap']['vcpus_plugged'],
               rec['cpu_cap']['vcpus_allowed']) == (top, 1),
              '%s: cpu_cap after the shrink: %s' % (kind, rec['cpu_cap']))
        demo.Step.current = '%s: round %d, grow to %d right after' % (
            kind, n + 1, second)
        one_adjust(g, rp, second, top, 'second', record)
        if second < top:
            demo.Step.current = '%s: round %d, back to %d' % (
                kind, n + 1, top)
            one_adjust(g, rp, top, top, 'back', record)
        # the next round's shrink starts from a guest with all online
        if kind == 'agent':
            g.wait_line(lambda ln: ln[0] == top, max(0, len(g.lines()) - 1),
                        'cpus_online=%d' % top)
        # the shrink's own action, read again now that it is old: its
        # events after the adjust's own (guest confirmed or not, capped)
        rec['events'] = [(e['event'], e['result']) for e in
                         g.cloud.action(g.sid, rec['rid'])['events']]
        print('   %s round %d: shrink %.2f s (guest %s), then %.2f s; '
              'events %s' % (kind, n + 1, rec['secs'], line,
                             record[-1]['secs'], rec['events']),
              flush=True)


def memory_refusal(g, rp, res):
    """The agent server: a shrink the guest cannot give (module doc)."""
    demo.Step.current = 'agent: memory to %d MiB' % FLAVOR['ram']
    secs, rid, act = g.adjust(memory_mb=FLAVOR['ram'])
    check(adjust_event(act) == [('compute_xloud_adjust', 'Success')],
          'memory growth: %s' % act['events'])
    # right after the growth: what GET says of the guest, and a dry run of
    # a shrink to 640 MiB, which an idle guest of 1024 MiB (it uses ~170)
    # can give; see test_memory_right_after_a_growth
    res['after_growth'] = g.cloud.get_adjust(g.sid)['guest']
    resp = g.cloud.nova('POST', '/servers/%s/os-xloud-adjust' % g.sid,
                        json={'current_memory_mb': 640, 'dry_run': True})
    res['after_growth_dry_run'] = (resp.status_code, resp.text)
    print('   right after the growth to %d MiB: GET guest %s; dry run of '
          '640 MiB: HTTP %d %s' % (FLAVOR['ram'], res['after_growth'],
                                   resp.status_code, resp.text), flush=True)
    before_read = time.time()

    def fresh(got, after):
        at = got['guest'].get('read_at')
        return at and iso_epoch(at) >= after

    demo.Step.current = 'agent: the guest report before the load'
    deadline = time.monotonic() + REPORT_TIMEOUT
    while True:
        got = g.cloud.get_adjust(g.sid)
        if fresh(got, before_read) and got['guest'].get('usable_mb'):
            break
        check(time.monotonic() < deadline, 'no guest report with usable_mb'
              ' after the memory growth: %s' % got['guest'])
        time.sleep(1)
    res['mem_before'] = got['guest']
    print('   agent guest before the load: %s' % got['guest'], flush=True)

    demo.Step.current = 'agent: guest-exec xloud-load mem %d' % MEMLOAD_MIB
    t_exec = time.monotonic()
    reply = g.agent({'execute': 'guest-exec', 'arguments': {
        'path': '/bin/xloud-load',
        'arg': ['mem', str(MEMLOAD_MIB), str(MEMLOAD_SECONDS)],
        'capture-output': True}})
    res['memload_pid'] = reply['return']['pid']
    m = g.wait_text(MEMLOAD_LINE, lambda m: m.group(1) == 'held',
                    'memload held')
    res['memload_held'] = int(m.group(2))
    t_held = time.monotonic()
    held_wall = time.time()
    figure(res, 'guest-exec -> guest line "memload held %d MiB"' %
           res['memload_held'], t_held - t_exec)

    demo.Step.current = 'agent: the periodic report shows the load'
    usable0 = res['mem_before']['usable_mb']
    deadline = time.monotonic() + REPORT_TIMEOUT
    while True:
        got = g.cloud.get_adjust(g.sid)
        guest = got['guest']
        if (fresh(got, held_wall) and guest.get('usable_mb') is not None and
                usable0 - guest['usable_mb'] >=
                res['memload_held'] - USABLE_TOLERANCE_MIB):
            break
        check(time.monotonic() < deadline, 'GET does not show the load '
              'after %d s: %s (before %s)' % (
                  REPORT_TIMEOUT, guest, res['mem_before']))
        time.sleep(0.5)
    res['mem_during'] = guest
    figure(res, 'memload held -> GET guest.usable_mb shows it '
           '(periodic report)', time.monotonic() - t_held)
    print('   agent guest during the load: %s' % guest, flush=True)

    demo.Step.current = 'agent: a shrink the guest cannot give'
    low = int(MINIMUM['minimum_memory'])
    res['actions_before_refusal'] = len(g.cloud.actions(g.sid))
    path = '/servers/%s/os-xloud-adjust' % g.sid
    t0 = time.monotonic()
    resp = g.cloud.nova('POST', path, json={'current_memory_mb': low})
    res['refused_secs'] = time.monotonic() - t0
    res['refused'] = (resp.status_code, resp.text)
    figure(res, 'memory shrink to %d MiB the guest cannot give: POST -> '
           'HTTP %d' % (low, resp.status_code), res['refused_secs'])
    print('   the answer: %s' % resp.text, flush=True)
    resp = g.cloud.nova('POST', path, json={'current_memory_mb': low,
                                            'dry_run': True})
    res['dry_run'] = (resp.status_code, resp.text)
    print('   the dry run: HTTP %d %s' % res['dry_run'], flush=True)
    got = g.cloud.get_adjust(g.sid)
    res['mem_after_refusal'] = got['memory_mb']['current']
    res['actions_after_refusal'] = len(g.cloud.actions(g.sid))

    demo.Step.current = 'agent: a shrink the guest can give'
    # what it uses + the margin (128 MiB), and 64 more, in 64 MiB steps
    lowest = FLAVOR['ram'] - guest['usable_mb'] + 128
    target = min(FLAVOR['ram'] - 64, int(math.ceil((lowest + 64) / 64.0))
                 * 64)
    res['can_give'] = target
    secs, rid, act = g.adjust(memory_mb=target)
    res['can_give_event'] = adjust_event(act)
    res['can_give_secs'] = secs
    got, alloc, _ = g.state(rp)
    res['can_give_state'] = (got['memory_mb']['current'], alloc[1])
    figure(res, 'then a shrink to %d MiB it can give: POST -> done' %
           target, secs)


def cpu_rate(dom, pid, seconds=CPU_WINDOW):
    """(libvirt cpu_time, /proc utime+stime) CPU s per wall s."""
    tick = os.sysconf('SC_CLK_TCK')

    def proc():
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / float(tick)

    t0 = time.monotonic()
    c0, p0 = dom.getCPUStats(True)[0]['cpu_time'], proc()
    time.sleep(seconds)
    c1, p1 = dom.getCPUStats(True)[0]['cpu_time'], proc()
    wall = time.monotonic() - t0
    return (c1 - c0) / 1e9 / wall, (p1 - p0) / wall


def cpu_cap(cloud, sb, flavor, plain, rp, top, res):
    """The third server: its CPU time capped and not (module doc)."""
    import libvirt
    demo.Step.current = 'cpuload: boot'
    image = cloud.upload_image(
        'xloud-guest-root-cpuload', b'\0' * qemu_hypervisor.ROOT_DISK_BYTES,
        kernel_id=plain['kernel_id'], ramdisk_id=plain['ramdisk_id'],
        os_command_line='%s xloud_cpuload=%d:%d' % (
            qemu_hypervisor.GUEST_CMDLINE, CPULOAD_AT, CPULOAD_SECONDS))
    server = qemu_base.boot(cloud, image, flavor, 'xloud-cpuload')
    g = Guest(cloud, sb, 'cpuload', server)
    g.wait_line(lambda ln: ln[0] == 1, 0, 'its boot line',
                timeout=demo.GUEST_BOOT_TIMEOUT)
    demo.Step.current = 'cpuload: grow to %d, then shrink to 1' % top
    since = len(g.lines())
    record = res['adjusts']['cpuload'] = []
    one_adjust(g, rp, top, top, 'grow', record)
    line, _ = g.wait_line(lambda ln: ln[0] == top, since,
                          'cpus_online=%d' % top)
    res['cpuload_up_at_growth'] = line[2]
    check(line[2] < CPULOAD_AT, 'the guest was at %.1f s of uptime when it '
          'had %d CPUs online: its load (at %d s) may have started on '
          'fewer' % (line[2], top, CPULOAD_AT))
    rec = one_adjust(g, rp, 1, top, 'shrink', record)
    res['cpuload_cap'] = rec['cpu_cap']
    m = g.wait_text(CPULOAD_LINE, lambda m: m.group(1) == 'start',
                    'cpuload start', timeout=CPULOAD_AT + 120)
    res['cpuload_cpus'] = int(m.group(2))
    time.sleep(1)
    conn = libvirt.open(sb.compute(g.host).hyper.daemon.uri)
    try:
        dom = conn.lookupByUUIDString(g.sid)
        pid = qemu_base.qemu_pid(g.sid)
        params = dom.schedulerParametersFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE)
        res['cpuload_quota'] = (params.get('global_period'),
                                params.get('global_quota'))
        # capped, lifted, capped again, lifted again: the host's other
        # work moves what an uncapped guest gets from window to window
        res['rates'] = []
        for i, vcpus in enumerate((1, top, 1, top)):
            if i:
                demo.Step.current = 'cpuload: %s to %d' % (
                    'shrink' if vcpus == 1 else 'grow', vcpus)
                rec = one_adjust(g, rp, vcpus, top, 'window %d' % i, record)
                time.sleep(1)
            params = dom.schedulerParametersFlags(
                libvirt.VIR_DOMAIN_AFFECT_LIVE)
            quota = (params.get('global_period'), params.get('global_quota'))
            rate = cpu_rate(dom, pid)
            res['rates'].append({
                'vcpus': vcpus, 'quota': quota, 'cpu_cap': rec['cpu_cap'],
                'libvirt': rate[0], 'proc': rate[1],
                'load': os.getloadavg()[0]})
            print('   window %d, %d allowed of %d plugged: global period/'
                  'quota %s, CPU s per wall s %.3f (libvirt) %.3f (/proc),'
                  ' host load average %.1f' % (
                      i + 1, vcpus, top, quota, rate[0], rate[1],
                      res['rates'][-1]['load']), flush=True)
    finally:
        conn.close()
    res['cpuload_stopped'] = [m.group(0) for m in
                              CPULOAD_LINE.finditer(g.text())
                              if m.group(1) == 'stop']
    for allowed, name in ((1, 'capped at 1 of %d plugged' % top),
                          (top, 'cap lifted, %d vCPUs' % top)):
        got = [r for r in res['rates'] if r['vcpus'] == allowed]
        figure(res, 'busy %d-vCPU guest, %s: CPU s per wall s, %d windows '
               'of %d s (libvirt cpu_time; QEMU /proc stat)' % (
                   top, name, len(got), CPU_WINDOW),
               ', '.join('%.3f; %.3f' % (r['libvirt'], r['proc'])
                         for r in got), '')


class GuestSideQemuTest(qemu_base.QemuSandboxTest):

    RUN_DIR = os.path.join(xloud_sandbox.REPO, 'build',
                           'sandbox-test-guest-side-qemu')
    WHAT = 'the guest side of a live shrink'

    @classmethod
    def scenario(cls, sb, res):
        cloud = sandbox_client.Cloud(sb)
        res['rounds'] = ROUNDS
        res['adjusts'], res['guest_secs'], res['guest_seen'] = {}, {}, {}
        demo.Step.current = 'images and flavor'
        flavor = cloud.create_flavor('xloud.guest-side', extra_specs=MINIMUM,
                                     **FLAVOR)
        plain = sb.hyper.upload_images(cloud)
        agent = sb.hyper.upload_images(cloud, agent=True)
        res['agent_image_props'] = agent.get('hw_qemu_guest_agent')

        demo.Step.current = 'boot'
        guests = {}
        for kind, image in (('agent', agent), ('plain', plain)):
            server = qemu_base.boot(cloud, image, flavor,
                                    'xloud-guest-side-%s' % kind)
            guests[kind] = Guest(cloud, sb, kind, server)
        host = guests['agent'].host
        rp = cloud.host_provider(host)['uuid']
        max_unit = cloud.inventories(rp)['VCPU']['max_unit']
        top = res['top'] = min(FLAVOR['vcpus'], max_unit)
        if top < FLAVOR['vcpus']:
            print("\n(placement's VCPU max_unit is %d, the host's CPUs: the "
                  "servers grow to %d vCPUs, not %d; the second adjust "
                  "then goes back to the top)" % (max_unit, top,
                                                  FLAVOR['vcpus']),
                  flush=True)
        for kind, g in guests.items():
            g.wait_line(lambda ln: ln[0] == 1, 0, 'its boot line',
                        timeout=demo.GUEST_BOOT_TIMEOUT)
        res['agent_line'] = guests['agent'].wait_text(
            AGENT_LINE, lambda m: True, 'the agent line').group(0)
        res['plain_agent_line'] = [m.group(0) for m in AGENT_LINE.finditer(
            guests['plain'].text())]

        for kind, g in guests.items():
            demo.Step.current = '%s: grow to %d' % (kind, top)
            since = len(g.lines())
            one_adjust(g, rp, top, top, 'grow', res['adjusts'].setdefault(
                kind + '-grow', []))
            g.wait_line(lambda ln: ln[0] == top, since,
                        'cpus_online=%d' % top)
            rounds(g, rp, top, res)

        for kind in ('agent', 'plain'):
            shr = [r['secs'] for r in res['adjusts'][kind]
                   if r['what'] == 'shrink']
            sec = [r['secs'] for r in res['adjusts'][kind]
                   if r['what'] == 'second']
            label = 'with agent' if kind == 'agent' else 'without agent'
            figure(res, 'shrink %d -> 1 POST -> done, %s, %d rounds, '
                   'p50/p90' % (top, label, len(shr)),
                   '%.3f / %.3f' % (pct(shr, 50), pct(shr, 90)), 's')
            figure(res, 'second adjust 1 -> %d right after, POST -> done, '
                   '%s, p50/p90' % (min(2, top), label),
                   '%.3f / %.3f' % (pct(sec, 50), pct(sec, 90)), 's')
        gs = res['guest_secs']['agent']
        figure(res, "shrink POST -> the guest's own line cpus_online=1 "
               "(agent), p50/p90", '%.3f / %.3f' % (pct(gs, 50),
                                                    pct(gs, 90)), 's')

        memory_refusal(guests['agent'], rp, res)

        demo.Step.current = 'delete the two servers'
        for g in guests.values():
            cloud.delete_server(g.sid, timeout=120)
        cpu_cap(cloud, sb, flavor, plain, rp, top, res)

    # -- the rounds

    def _adjusts(self, kind, what=None):
        return [r for r in self.res['adjusts'][kind]
                if what is None or r['what'] == what]

    def test_the_agent_image(self):
        self.assertEqual('yes', self.res['agent_image_props'])
        self.assertIn('agent start', self.res['agent_line'])
        self.assertEqual([], self.res['plain_agent_line'])

    def test_every_adjust_succeeded(self):
        for kind in ('agent', 'plain', 'cpuload'):
            recs = self._adjusts(kind)
            self.assertTrue(recs, kind)
            for r in recs:
                self.assertEqual([('compute_xloud_adjust', 'Success')],
                                 r['event'], r)

    def test_rounds_ran(self):
        top = self.res['top']
        for kind in ('agent', 'plain'):
            per_round = 3 if top > 2 else 2
            self.assertEqual(ROUNDS * per_round,
                             len(self._adjusts(kind)), kind)

    def test_get_and_placement_agree(self):
        for kind in ('agent', 'plain', 'cpuload'):
            for r in self._adjusts(kind):
                self.assertEqual((r['vcpus'], r['vcpus']),
                                 (r['current'], r['placement']), r)

    def test_libvirt_keeps_what_was_plugged(self):
        top = self.res['top']
        for kind in ('agent', 'plain', 'cpuload'):
            for r in self._adjusts(kind):
                self.assertEqual(top, r['plugged'], r)

    def test_cpu_cap_after_each_shrink(self):
        top = self.res['top']
        for kind in ('agent', 'plain'):
            for r in self._adjusts(kind, 'shrink'):
                cap = r['cpu_cap']
                self.assertEqual((top, 1), (cap['vcpus_plugged'],
                                            cap['vcpus_allowed']), r)
            for r in self._adjusts(kind):
                if r['vcpus'] == top:
                    self.assertIsNone(r['cpu_cap'], r)

    def test_agent_guest_takes_the_vcpus_offline(self):
        self.assertEqual([1] * ROUNDS, self.res['guest_seen']['agent'])
        for r in self._adjusts('agent', 'shrink'):
            guest = r['guest']
            self.assertTrue(guest['confirmed'], r)
            self.assertEqual(1, guest['vcpus_online'], r)
            self.assertEqual(1, r['cpu_cap']['vcpus_online'], r)
            self.assertIn('compute_xloud_guest_confirmed',
                          [e for e, _ in r['events']], r)
            self.assertIn('compute_xloud_cpu_capped',
                          [e for e, _ in r['events']], r)

    def test_plain_guest_keeps_its_vcpus(self):
        top = self.res['top']
        self.assertEqual([top] * ROUNDS, self.res['guest_seen']['plain'])
        for r in self._adjusts('plain', 'shrink'):
            guest = r['guest']
            self.assertFalse(guest['confirmed'], r)
            self.assertIsNone(guest['vcpus_online'], r)
            self.assertIn('no guest agent', guest['reason'], r)
            self.assertIn('compute_xloud_guest_unconfirmed',
                          [e for e, _ in r['events']], r)
            self.assertIn('compute_xloud_cpu_capped',
                          [e for e, _ in r['events']], r)

    # -- the memory the guest cannot give

    def test_memory_shrink_refused_at_once(self):
        status, text = self.res['refused']
        self.assertEqual(409, status, text)
        message = json.loads(text)['conflictingRequest']['message']
        self.assertRegex(message, r'the guest cannot shrink below \d+ MiB '
                         r'now \(asked: 512\)')
        self.assertRegex(message, r'it uses \d+ MiB of its \d+ MiB')
        # nothing changed, no action recorded
        self.assertEqual(FLAVOR['ram'], self.res['mem_after_refusal'])
        self.assertEqual(self.res['actions_before_refusal'],
                         self.res['actions_after_refusal'])

    def test_memory_right_after_a_growth(self):
        """Right after a memory growth (512 -> 1024 MiB) the guest's last
        balloon statistics are from before it (taken every 10 s): they are
        not its word on the new size, and a shrink it can give fits. (Found
        here on 2026-12-07: they were counted, and the growth looked like
        memory in use; fixed in xloud_guest_report.)
        """
        status, text = self.res['after_growth_dry_run']
        self.assertEqual(200, status, text)
        self.assertTrue(json.loads(text)['fits'], text)

    def test_memory_dry_run_says_it_does_not_fit(self):
        status, text = self.res['dry_run']
        self.assertEqual(200, status, text)
        body = json.loads(text)
        self.assertFalse(body['fits'], body)
        self.assertIn('the guest cannot shrink below', body['reason'])

    def test_memory_shrink_it_can_give(self):
        self.assertEqual([('compute_xloud_adjust', 'Success')],
                         self.res['can_give_event'])
        self.assertEqual((self.res['can_give'], self.res['can_give']),
                         self.res['can_give_state'])

    # -- the CPU cap from the host

    def test_cpu_cap_measured_from_the_host(self):
        top = self.res['top']
        self.assertEqual(top, self.res['cpuload_cpus'])
        self.assertEqual((top, 1), (self.res['cpuload_cap']['vcpus_plugged'],
                                    self.res['cpuload_cap']['vcpus_allowed']))
        # the load ran through every window
        self.assertEqual([], self.res['cpuload_stopped'])
        self.assertEqual([1, top, 1, top],
                         [r['vcpus'] for r in self.res['rates']])
        for r in self.res['rates']:
            if r['vcpus'] == 1:
                self.assertEqual((100000, 100000), r['quota'], r)
                self.assertEqual((top, 1), (r['cpu_cap']['vcpus_plugged'],
                                            r['cpu_cap']['vcpus_allowed']))
                self.assertLessEqual(r['libvirt'], 1.0 + CAP_TOLERANCE, r)
                self.assertLessEqual(r['proc'], 1.0 + CAP_TOLERANCE, r)
            else:
                # lifted: -1, no bandwidth limit
                self.assertEqual((100000, -1), r['quota'], r)
                self.assertIsNone(r['cpu_cap'], r)


if __name__ == '__main__':
    unittest.main()
