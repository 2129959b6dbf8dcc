#!/usr/bin/env python3
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

"""Does QEMU confirm a vCPU unplug? QEMU alone, over QMP, no libvirt.

libvirt counts a vCPU as unplugged only when QEMU sends ``DEVICE_DELETED``
with the vCPU's device id; QEMU 7.2 (TCG) sends it only for
``/machine/peripheral/vcpu2/lapic`` (doc/real-libvirt.rst, "vCPU unplug
times out here"). This starts the project's test guest
(``tools/xloud_guest_image.py``) with ``-smp 1,maxcpus=N``, hot-plugs
``vcpu1`` .. ``vcpuN-1`` with ``device_add`` (the driver and properties
from ``query-hotpluggable-cpus``), waits until the guest's own console
says ``cpus_online=N``, sends ``device_del id=vcpuN-1`` and records every
QMP event for ``--watch`` seconds, stamped from the ``device_del``.
Then it asks QEMU what is plugged and tries ``device_add`` of the same id
again (the next adjust: it fails while QEMU still holds the id).

Standard library only::

    python3 realvirt/probe_vcpu_unplug.py /usr/bin/qemu-system-x86_64
    python3 realvirt/probe_vcpu_unplug.py QEMU --machine q35 \\
        -L /x/usr/share/qemu -L /x/usr/share/seabios

Output: ``FIGURE`` lines (``unplug_confirmed`` yes/no, the times), the
events as JSON lines (``EVENT t=+S.SSS``) and the guest's console lines
(``CONSOLE t=+S.SSS``). Exit status 0 when the run completed, whatever
QEMU did; 2 when the probe itself could not run.
"""

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(os.path.dirname(HERE), 'tools')
GUEST_LINE = re.compile(r'XLOUD-GUEST cpus_online=(\d+)')
BOOT_TIMEOUT = 120.0
ONLINE_TIMEOUT = 60.0


def guest_image():
    """(kernel, initrd) of the project's guest, built or from its cache."""
    sys.path.insert(0, TOOLS)
    from xloud_tools import guest_image as image
    return image.build()


class Qmp(object):
    """A QMP client: commands answered in order, events kept with times."""

    def __init__(self, path, clock):
        self.clock = clock
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.file = self.sock.makefile('rb')
        self.events = []
        self.replies = []
        self.cond = threading.Condition()
        json.loads(self.file.readline())   # the greeting
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        self.command('qmp_capabilities')

    def _read(self):
        try:
            for line in self.file:
                stamp = self.clock()
                msg = json.loads(line)
                with self.cond:
                    if 'event' in msg:
                        self.events.append((stamp, msg))
                    else:
                        self.replies.append(msg)
                    self.cond.notify_all()
        except OSError:
            pass
        with self.cond:
            self.replies.append({'error': {'desc': 'QMP connection closed'}})
            self.cond.notify_all()

    def command(self, name, timeout=30.0, **arguments):
        """The reply's 'return', or the error dict as {'error': ...}."""
        msg = {'execute': name}
        if arguments:
            msg['arguments'] = arguments
        with self.cond:
            self.replies.clear()
            try:
                self.sock.sendall(json.dumps(msg).encode() + b'\n')
            except OSError as e:
                return {'error': {'desc': 'QMP send: %s' % e}}
            if not self.cond.wait_for(lambda: self.replies, timeout):
                return {'error': {'desc': 'no reply in %d s' % timeout}}
            reply = self.replies.pop(0)
        if 'error' in reply:
            return {'error': reply['error']}
        return reply['return']

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Console(object):
    """The guest's serial console (QEMU's stdout), each line stamped."""

    def __init__(self, stream, clock):
        self.clock = clock
        self.lines = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, args=(stream,),
                                       daemon=True)
        self.thread.start()

    def _read(self, stream):
        for raw in stream:
            text = raw.decode('utf-8', 'replace').rstrip('\r\n')
            with self.lock:
                self.lines.append((self.clock(), text))

    def online(self):
        """[(time, cpus_online)] the guest reported so far."""
        with self.lock:
            lines = list(self.lines)
        return [(t, int(m.group(1))) for t, m in
                ((t, GUEST_LINE.search(text)) for t, text in lines) if m]

    def wait_for(self, predicate, since, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for stamp, count in self.online():
                if stamp >= since and predicate(count):
                    return stamp, count
            time.sleep(0.05)
        return None


def figure(name, value):
    print('FIGURE %s: %s' % (name, value), flush=True)


def plugged_ids(qmp):
    """{qom-path: props} of the plugged hotpluggable CPUs."""
    return {cpu['qom-path']: cpu['props']
            for cpu in qmp.command('query-hotpluggable-cpus')
            if 'qom-path' in cpu}


def run(args):
    kernel, initrd = (args.kernel, args.initrd)
    if not (kernel and initrd):
        kernel, initrd = guest_image()
    work = tempfile.mkdtemp(prefix='xloud-vcpu-probe-')
    qmp_path = os.path.join(work, 'qmp.sock')
    cmd = [args.qemu]
    for path in args.L or ():
        cmd += ['-L', path]
    cmd += ['-machine', args.machine, '-accel', args.accel,
            '-smp', '1,maxcpus=%d' % args.maxcpus, '-m', str(args.memory),
            '-nodefaults', '-no-user-config', '-display', 'none',
            '-kernel', kernel, '-initrd', initrd,
            '-append', 'console=ttyS0 ' + args.append,
            '-serial', 'stdio',
            '-qmp', 'unix:%s,server=on,wait=off' % qmp_path]
    started = time.monotonic()

    def clock():
        return time.monotonic() - started

    version = subprocess.run([args.qemu, '--version'], stdout=subprocess.PIPE,
                             text=True).stdout.splitlines()[0]
    figure('qemu', version)
    figure('machine', args.machine)
    figure('accel', args.accel)
    print('COMMAND %s' % ' '.join(cmd), flush=True)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    qmp = None
    try:
        console = Console(proc.stdout, clock)
        deadline = time.monotonic() + 30
        while not os.path.exists(qmp_path):
            if proc.poll() is not None or time.monotonic() > deadline:
                time.sleep(0.2)
                raise RuntimeError('QEMU exited or no QMP socket: %s' % (
                    '\n'.join(t for _, t in console.lines)))
            time.sleep(0.05)
        qmp = Qmp(qmp_path, clock)
        figure('qemu_qmp_version', '%(major)d.%(minor)d.%(micro)d' %
               qmp.command('query-version')['qemu'])
        booted = console.wait_for(lambda n: n == 1, 0, BOOT_TIMEOUT)
        if not booted:
            raise RuntimeError('the guest never reported cpus_online=1')
        figure('boot_to_first_guest_line_s', '%.1f' % booted[0])

        free = [cpu for cpu in qmp.command('query-hotpluggable-cpus')
                if 'qom-path' not in cpu]
        free.sort(key=lambda cpu: sorted(cpu['props'].items()))
        ids = ['vcpu%d' % i for i in range(1, args.maxcpus)]
        for dev_id, cpu in zip(ids, free):
            t = clock()
            reply = qmp.command('device_add', driver=cpu['type'], id=dev_id,
                                **cpu['props'])
            print('DEVICE_ADD t=%.3f id=%s driver=%s props=%s -> %s' % (
                t, dev_id, cpu['type'], json.dumps(cpu['props']),
                json.dumps(reply)), flush=True)
            if 'error' in reply:
                raise RuntimeError('device_add %s failed: %s' % (dev_id,
                                                                 reply))
        plugged_at = clock()
        online = console.wait_for(lambda n: n == args.maxcpus, plugged_at,
                                  ONLINE_TIMEOUT)
        if not online:
            raise RuntimeError('the guest never reported cpus_online=%d' %
                               args.maxcpus)
        figure('hotplug_to_guest_online_s', '%.2f' % (
            online[0] - plugged_at))

        victim = ids[-1]
        before = len(qmp.events)
        t0 = clock()
        reply = qmp.command('device_del', id=victim)
        figure('device_del_reply', json.dumps(reply))
        time.sleep(args.watch)
        events = qmp.events[before:]
        for stamp, msg in events:
            print('EVENT t=+%.3f %s' % (stamp - t0, json.dumps(
                msg, sort_keys=True)), flush=True)
        for stamp, text in console.lines:
            if stamp >= t0 - 1:
                print('CONSOLE t=+%.3f %s' % (stamp - t0, text), flush=True)
        deleted = [stamp for stamp, msg in events
                   if msg['event'] == 'DEVICE_DELETED'
                   and msg.get('data', {}).get('device') == victim]
        figure('unplug_confirmed', 'yes' if deleted else 'no')
        figure('device_deleted_for_id_s',
               '%.3f' % (deleted[0] - t0) if deleted else 'never in %d s'
               % args.watch)
        figure('device_deleted_events', json.dumps(
            [msg.get('data') for _, msg in events
             if msg['event'] == 'DEVICE_DELETED']))
        gone = console.wait_for(lambda n: n == args.maxcpus - 1, t0, 0.1)
        figure('device_del_to_guest_online_%d_s' % (args.maxcpus - 1),
               '%.2f' % (gone[0] - t0) if gone else 'never')
        plugged = plugged_ids(qmp)
        figure('qemu_plugged_vcpus_after', len(plugged))
        figure('victim_still_plugged_in_qemu', any(
            '/%s' % victim in path for path in plugged))
        # the next adjust: plug the same vCPU again under the same id
        again = [cpu for cpu in qmp.command('query-hotpluggable-cpus')
                 if 'qom-path' not in cpu]
        if again:
            t1 = clock()
            reply = qmp.command('device_add', timeout=15,
                                driver=again[0]['type'], id=victim,
                                **again[0]['props'])
            figure('replug_same_id_reply', json.dumps(reply))
            if 'error' not in reply:
                back = console.wait_for(lambda n: n == args.maxcpus, t1,
                                        ONLINE_TIMEOUT)
                figure('replug_to_guest_online_s',
                       '%.2f' % (back[0] - t1) if back else 'never')
            time.sleep(1)
            figure('qemu_alive_1s_after_replug', proc.poll() is None)
            for stamp, text in console.lines:
                if stamp >= t1:
                    print('CONSOLE t=+%.3f %s' % (stamp - t0, text),
                          flush=True)
        else:
            figure('replug_same_id_reply', 'no free vCPU slot in QEMU')
        return 0
    finally:
        if qmp:
            try:
                qmp.command('quit', timeout=5)
            except RuntimeError:
                pass
            qmp.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        figure('qemu_exit_status', proc.returncode)
        for name in os.listdir(work):
            os.unlink(os.path.join(work, name))
        os.rmdir(work)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('qemu', help='the qemu-system-x86_64 binary')
    parser.add_argument('--machine', default='pc', help='pc (default), q35')
    parser.add_argument('--accel', default='tcg',
                        help='tcg (default), tcg,thread=single, kvm')
    parser.add_argument('-L', action='append',
                        help="QEMU's data folders (firmware), repeatable")
    parser.add_argument('--maxcpus', type=int, default=3)
    parser.add_argument('--memory', type=int, default=512, help='MiB')
    parser.add_argument('--watch', type=float, default=10.0,
                        help='seconds of events after device_del')
    parser.add_argument('--append', default='',
                        help='more of the guest kernel command line')
    parser.add_argument('--kernel')
    parser.add_argument('--initrd')
    args = parser.parse_args(argv)
    try:
        return run(args)
    except RuntimeError as e:
        print('probe failed: %s' % e, file=sys.stderr, flush=True)
        return 2


if __name__ == '__main__':
    sys.exit(main())
