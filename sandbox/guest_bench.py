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

"""Bench part (c): from the adjust POST to the GUEST seeing the change.

On the sandbox's qemu mode (a real guest under QEMU TCG): the time from
``POST os-xloud-adjust`` to the first line of the guest's own serial
console (``XLOUD-GUEST cpus_online=N memtotal_kb=M``, written by its init)
that shows the new CPU online, or the MemTotal the balloon change gives.
The instance action's end is timed in the same loop, for comparison.

How it reads the guest: the console log Nova's libvirt driver set up in
the instance folder, polled every 10 ms from this process (the same file
os-getConsoleOutput serves; read directly so that no API round trip sits
in the figure). The guest's init looks every 0.2 s, so a figure is up to
~0.2 s late; the figures are printed, never asserted.

vCPUs: each server steps up from its minimum one vCPU at a time to the
most one server may hold here (the flavor's vCPUs, or placement's VCPU
max_unit: the host's CPU count). A vCPU unplug on QEMU/TCG times out
(libvirt error 68, see doc/real-libvirt.rst), so for more samples the
bench boots a fresh server rather than stepping down. Memory: one server,
the balloon moves between sizes in both directions.
"""

import time

from sandbox import client as sandbox_client
from sandbox import qemu_hypervisor

FLAVOR = {'vcpus': 4, 'ram': 1024, 'disk': 1}
MINIMUM = {'minimum_cpu': '1', 'minimum_memory': '512'}
# The balloon sizes the memory samples cycle through (MiB).
MEMORY_STEPS = (768, 1024, 640, 512)
BOOT_TIMEOUT = 240
GUEST_TIMEOUT = 60
POLL = 0.01
# Two MemTotal readings differ from the balloon's change by page rounding.
BALLOON_SLACK_KIB = 2 * 1024


class ConsoleTail(object):
    """The guest's XLOUD-GUEST lines, as they are appended to its log."""

    def __init__(self, path):
        self.path = path
        self.pos = 0
        self.buf = b''
        self.last = None

    def poll(self):
        """New complete guest lines since the last poll, parsed."""
        try:
            with open(self.path, 'rb') as f:
                f.seek(self.pos)
                data = f.read()
        except FileNotFoundError:
            return []
        self.pos += len(data)
        self.buf += data
        text, sep, rest = self.buf.rpartition(b'\n')
        if not sep:
            return []
        self.buf = rest
        lines = qemu_hypervisor.guest_lines(text.decode(errors='replace'))
        if lines:
            self.last = lines[-1]
        return lines

    def wait(self, accept, timeout, what):
        """Until a new line ``accept`` takes; returns (line, when)."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.poll():
                if accept(line):
                    return line, time.monotonic()
            if time.monotonic() > deadline:
                raise sandbox_client.StepFailed(
                    'the guest did not report %s in %d s (last: %s; log %s)'
                    % (what, timeout, self.last, self.path))
            time.sleep(POLL)


def timed(cloud, server_id, tail, vcpus, memory_mb, accept, what):
    """POST the adjust; (to the guest's line, to the action's end, line)."""
    tail.poll()                     # what came before the POST is old
    t0 = time.monotonic()
    req = cloud.adjust(server_id, vcpus, memory_mb)
    t_action = None
    deadline = t0 + GUEST_TIMEOUT
    seen = None
    while seen is None or t_action is None:
        if seen is None:
            for line in tail.poll():
                if accept(line):
                    seen = (line, time.monotonic())
                    break
        if t_action is None:
            act = cloud.nova('GET', '/servers/%s/os-instance-actions/%s' % (
                server_id, req))
            events = act.json()['instanceAction']['events'] if (
                act.status_code == 200) else []
            if events and all(e.get('finish_time') for e in events):
                t_action = time.monotonic()
                bad = [e for e in events if e['result'] != 'Success']
                if bad:
                    raise sandbox_client.StepFailed(
                        'adjust %s failed: %s' % (req, bad))
        if time.monotonic() > deadline:
            raise sandbox_client.StepFailed(
                'adjust to %s: no %s after %d s (last guest line %s)' % (
                    (vcpus, memory_mb), what, GUEST_TIMEOUT, tail.last))
        time.sleep(POLL)
    return seen[1] - t0, t_action - t0, seen[0]


def boot(sb, cloud, image, flavor, name):
    srv = cloud.boot(name, image['id'], flavor['id'])
    srv = cloud.wait_server(srv['id'], 'ACTIVE', timeout=BOOT_TIMEOUT)
    tail = ConsoleTail(sb.hyper.console_log(sb, srv['id']))
    first, _ = tail.wait(lambda g: g[0] == 1 and g[1] <= 512 * 1024,
                         BOOT_TIMEOUT, 'its first line at 1 CPU / 512 MiB')
    return srv['id'], tail, first


def guest_latency(sb, cloud, out, samples):
    """(c): adjust POST -> the guest's own console shows the change."""
    image = sb.hyper.upload_images(cloud)
    flavor = cloud.create_flavor('bench-guest', extra_specs=MINIMUM,
                                 **FLAVOR)
    rp = cloud.provider()
    max_unit = cloud.inventories(rp['uuid'])['VCPU']['max_unit']
    top = min(FLAVOR['vcpus'], max_unit)
    out('(c) a REAL guest (QEMU %s, TCG) adjusted over HTTP; the time to '
        'the line its own init prints on the serial console (polled every '
        '%.0f ms; the init looks every 0.2 s). Flavor %d vCPU / %d MiB, '
        'minimum 1 / 512; one server holds up to %d vCPUs here (placement '
        'VCPU max_unit %d).' % (
            qemu_hypervisor.qemu_version(), POLL * 1000, FLAVOR['vcpus'],
            FLAVOR['ram'], top, max_unit))
    cpu, mem = [], []
    n = 0
    while len(cpu) < samples:
        server_id, tail, _ = boot(sb, cloud, image, flavor,
                                  'bench-guest-%d' % n)
        n += 1
        for vcpus in range(2, top + 1):
            to_guest, to_action, line = timed(
                cloud, server_id, tail, vcpus, None,
                lambda g, v=vcpus: g[0] == v, '%d CPUs online' % vcpus)
            cpu.append((to_guest, to_action))
            out('    vCPU %d -> %d: guest %.2f s, action %.2f s (%s)' % (
                vcpus - 1, vcpus, to_guest, to_action,
                'cpus_online=%d' % line[0]))
        if len(cpu) < samples:
            cloud.delete_server(server_id)
    # the last server does the memory samples
    current_mib, memtotal = 512, tail.last[1]
    for i in range(samples):
        target = MEMORY_STEPS[i % len(MEMORY_STEPS)]
        want = memtotal + (target - current_mib) * 1024

        def accept(g, want=want):
            return abs(g[1] - want) <= BALLOON_SLACK_KIB
        to_guest, to_action, line = timed(
            cloud, server_id, tail, None, target, accept,
            'MemTotal ~%d kB' % want)
        mem.append((to_guest, to_action, target > current_mib))
        out('    balloon %d -> %d MiB: guest %.2f s, action %.2f s '
            '(MemTotal %d -> %d kB)' % (current_mib, target, to_guest,
                                        to_action, memtotal, line[1]))
        current_mib, memtotal = target, line[1]
    cloud.delete_server(server_id)
    return cpu, mem
