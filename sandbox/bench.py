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

"""Benchmarks on the all-in-one sandbox; figures printed, never asserted.

(a) density: how many servers the scheduler places on the one host with a
    minimum flavor (4 vCPUs, minimum_cpu=1) and with the same flavor
    without minimum specs, cpu_allocation_ratio=1.0: boot one at a time
    until a boot ends in NoValidHost.
(b) adjust latency: POST os-xloud-adjust until its instance action has
    finished, against a stock pause (POST the action until it has finished
    and the server is PAUSED); median and p90 over --samples of each.
(d) a hung compute: the server's nova-compute frozen (SIGSTOP) while
    adjusts, dry runs and a GET of every server are sent at once: each
    answer's time; then thawed, until the accepted adjust finished.

(c) on a REAL guest (a second sandbox in the qemu mode: a private libvirtd,
    QEMU with TCG): from the adjust POST to the guest's own serial console
    showing the new CPU online, and the balloon's new MemTotal
    (guest_bench.py); run where this machine can (``--guest auto``), and
    the figures say so when it cannot.
(e) the autoscaler on REAL guests in the same sandbox (autoscale_bench.py):
    loads started inside the guests, the cloud sizing them by itself.
(f) the autoscaler's cost: its CPU time per pass for 10, 100 and 500
    guests (autoscale_cost.py, in a process of its own; no sandbox).
(g) load (load_bench.py): adjusts, dry runs and GETs from many clients on
    half the servers, beside pause/unpause on the other half, on a fake
    host big enough for them: answers, p50/p99, throughput, and what is
    left unsettled after. Short here (--load-*); ``tox -e load`` is the
    long run (50 servers, 20 clients, 10 minutes).

All run through the real API, conductor, scheduler, placement and
compute. (a) and (b) run on ``--hypervisor`` (default ``fake``, Nova's fake
libvirt, so (b) measures Nova's own path, not a guest's).
The figures also go to ``build/bench-figures.txt``.
"""

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback

# run as a script (python sandbox/bench.py): the sandbox package it imports
# is a folder of the repository root, not an installed one
if __name__ == '__main__':
    sys.path.insert(0, os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))

from sandbox import autoscale_bench  # noqa: E402
from sandbox import client as sandbox_client  # noqa: E402
from sandbox import guest_bench  # noqa: E402
from sandbox import load_bench  # noqa: E402
from sandbox.measure import pct  # noqa: E402
from sandbox import processes  # noqa: E402
from sandbox import qemu_hypervisor  # noqa: E402
from sandbox import xloud_sandbox  # noqa: E402

FIGURES = os.path.join(xloud_sandbox.REPO, 'build', 'bench-figures.txt')
DENSITY_FLAVOR = {'vcpus': 4, 'ram': 1024, 'disk': 1}
MAX_BOOTS = 64
# Nova's quotas count a flavor's vCPUs, not its minimum: unlimited, so that
# the scheduler, not the quota, says when the host is full.
QUOTAS_OFF = {'cores': -1, 'instances': -1, 'ram': -1}


def machine():
    model = '?'
    with open('/proc/cpuinfo') as f:
        for line in f:
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    with open('/proc/meminfo') as f:
        mem_kib = int(f.readline().split()[1])
    return ('machine: %s; %d cores; %.1f GiB RAM; Linux %s; Python %s' % (
        model, os.cpu_count(), mem_kib / 1024.0 / 1024.0, platform.release(),
        platform.python_version()))


def summary(name, values):
    ms = [v * 1000.0 for v in values]
    return ('%-38s n=%d  median %.0f ms  p90 %.0f ms  (min %.0f, max %.0f)'
            % (name, len(ms), statistics.median(ms), pct(ms, 90), min(ms),
               max(ms)))


def density(sb, cloud, image, out):
    """(a): servers placed until NoValidHost, with and without minimum."""
    rp = cloud.provider()
    inv = cloud.inventories(rp['uuid'])
    out('(a) density on one host: VCPU %d x %.1f, MEMORY_MB %d (reserved '
        '%d), flavor %d vCPU / %d MiB / %d GB' % (
            inv['VCPU']['total'], inv['VCPU']['allocation_ratio'],
            inv['MEMORY_MB']['total'], inv['MEMORY_MB']['reserved'],
            DENSITY_FLAVOR['vcpus'], DENSITY_FLAVOR['ram'],
            DENSITY_FLAVOR['disk']))
    out('    (quotas lifted in nova.conf: Nova counts a flavor\'s %d vCPUs '
        'against the cores quota, minimum or not)' % DENSITY_FLAVOR['vcpus'])
    counts = {}
    for label, specs in (('with minimum_cpu=1', {'minimum_cpu': '1'}),
                         ('without minimum specs', None)):
        flavor = cloud.create_flavor('bench-%d' % len(counts),
                                     extra_specs=specs, **DENSITY_FLAVOR)
        placed, last = [], None
        for i in range(MAX_BOOTS):
            srv = cloud.boot('bench-%d' % i, image, flavor['id'])
            srv = cloud.wait_server(srv['id'], ('ACTIVE', 'ERROR'))
            if srv['status'] == 'ERROR':
                last = srv
                break
            placed.append(srv['id'])
        fault = (last or {}).get('fault', {}).get('message', '')
        if last is None or 'No valid host' not in fault:
            raise sandbox_client.StepFailed(
                'density %s: expected NoValidHost after %d servers, got %s'
                % (label, len(placed), fault or 'no failure'))
        usage = cloud.usages(rp['uuid'])
        counts[label] = len(placed)
        out('    %-22s %2d servers, then NoValidHost; usage then %s' % (
            label, len(placed), usage))
        for server_id in placed + [last['id']]:
            cloud.delete_server(server_id)
    out('    -> %d vs %d servers on the same host' % tuple(counts.values()))
    return counts


def timed_adjust(cloud, server_id, vcpus, memory_mb):
    t0 = time.monotonic()
    req = cloud.adjust(server_id, vcpus, memory_mb)
    t_post = time.monotonic() - t0
    act = cloud.wait_action(server_id, req, poll=0.01)
    t_done = time.monotonic() - t0
    bad = [e for e in act['events'] if e['result'] != 'Success']
    if bad:
        raise sandbox_client.StepFailed('adjust %s failed: %s' % (req, bad))
    return t_post, t_done


def timed_pause(cloud, server_id):
    t0 = time.monotonic()
    req = cloud.server_action(server_id, {'pause': None})
    t_post = time.monotonic() - t0
    cloud.wait_action(server_id, req, poll=0.01)
    cloud.wait_server(server_id, 'PAUSED')
    t_done = time.monotonic() - t0
    cloud.server_action(server_id, {'unpause': None})
    cloud.wait_server(server_id, 'ACTIVE')
    return t_post, t_done


def latency(sb, cloud, image, out, samples):
    """(b): live adjust vs pause, each until its action finished."""
    flavor = cloud.create_flavor('bench-adjust', vcpus=4, ram=4096, disk=1,
                                 extra_specs={'minimum_cpu': '1',
                                              'minimum_memory': '1024'})
    srv = cloud.boot('bench-latency', image, flavor['id'])
    cloud.wait_server(srv['id'], 'ACTIVE')
    adj, pause = [], []
    targets = [(3, 3072), (2, 2048)]
    for i in range(samples):
        adj.append(timed_adjust(cloud, srv['id'], *targets[i % 2]))
        pause.append(timed_pause(cloud, srv['id']))
    out('(b) latency, one server, %d samples each (client polls the action '
        'every 10 ms)' % samples)
    out('    ' + summary('os-xloud-adjust until finished', [
        d for _, d in adj]))
    out('    ' + summary('pause until finished + PAUSED', [
        d for _, d in pause]))
    out('    ' + summary('os-xloud-adjust POST -> 202', [p for p, _ in adj]))
    out('    ' + summary('pause POST -> 202', [p for p, _ in pause]))
    cloud.delete_server(srv['id'])
    return adj, pause


def frozen_compute(sb, cloud, image, out, parallel=6):
    """(d): the server's nova-compute frozen (SIGSTOP), as a hung host.

    ``parallel`` adjusts and dry runs sent at once, and a GET of every
    server meanwhile: each answer's time and status. The API decides from
    the service group and the compute's traits, never by calling it: every
    answer should come at once. Then the compute is thawed, and the time
    until the adjust that was accepted (cast into its queue) finished.
    """
    flavor = cloud.create_flavor('bench-frozen', vcpus=4, ram=4096, disk=1,
                                 extra_specs={'minimum_cpu': '1',
                                              'minimum_memory': '1024'})
    srv = cloud.boot('bench-frozen', image, flavor['id'])
    cloud.wait_server(srv['id'], 'ACTIVE')
    # one client each: a requests session is not shared between threads
    clients = [sandbox_client.Cloud(sb) for _ in range(parallel + 1)]
    compute = [p for p in sb.procs if p.name == 'nova-compute'][0]
    results = [None] * (parallel + 1)
    path = '/servers/%s/os-xloud-adjust' % srv['id']

    def send(i):
        body = {'current_vcpus': 2 + i % 2}
        if i % 2:
            body['dry_run'] = True
        t0 = time.monotonic()
        try:
            if i == parallel:
                resp = clients[i].nova('GET', '/servers/detail')
            else:
                resp = clients[i].nova('POST', path, json=body)
            results[i] = (resp.status_code, time.monotonic() - t0,
                          resp.headers.get('x-openstack-request-id'))
        except Exception as e:
            results[i] = ('%s' % type(e).__name__, time.monotonic() - t0,
                          None)

    os.kill(compute.popen.pid, signal.SIGSTOP)
    try:
        threads = [threading.Thread(target=send, args=(i,))
                   for i in range(parallel + 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    finally:
        os.kill(compute.popen.pid, signal.SIGCONT)
    thawed = time.monotonic()
    accepted = [r for r in results[:parallel] if r[0] == 202]
    done = None
    if accepted:
        cloud.wait_action(srv['id'], accepted[0][2], timeout=120, poll=0.05)
        done = time.monotonic() - thawed
    out('(d) the server\'s nova-compute frozen (SIGSTOP): %d adjusts and '
        'dry runs at once, and GET /servers/detail meanwhile' % parallel)
    out('    answers: %s' % ', '.join(
        '%s %.0f ms' % (r[0], r[1] * 1000.0) for r in results[:parallel]))
    out('    ' + summary('answer time (all %d)' % parallel,
                         [r[1] for r in results[:parallel]]))
    out('    GET /servers/detail meanwhile: %s in %.0f ms' % (
        results[parallel][0], results[parallel][1] * 1000.0))
    out('    thawed: the accepted adjust finished %s' % (
        'after %.1f s' % done if done is not None else '(none accepted)'))
    cloud.delete_server(srv['id'])
    return results


def parts(sb, args):
    """The parts this sandbox's hypervisor can run, in order."""
    if sb.hyper.name == 'qemu':
        return [('guest', lambda c, i, o: guest_part(sb, c, o,
                                                     args.guest_samples)),
                ('autoscale', lambda c, i, o: autoscale_part(sb, c, o,
                                                             args))]
    return [('density', lambda c, i, o: density(sb, c, i, o)),
            ('latency', lambda c, i, o: latency(sb, c, i, o, args.samples)),
            ('frozen', lambda c, i, o: frozen_compute(sb, c, i, o)),
            ('load', lambda c, i, o: load_bench.run(
                sb, c, i, o, args.load_servers, args.load_clients,
                args.load_seconds))]


def autoscale_part(sb, cloud, out, args):
    out('(e) the autoscaler on REAL guests (QEMU %s, TCG): %d CPU rounds, '
        '%d memory ramps on each of two servers, a load %d s on / %d s off '
        'for %g min' % (
            qemu_hypervisor.qemu_version(), args.autoscale_rounds,
            args.autoscale_ramps, autoscale_bench.FLAP_ON,
            autoscale_bench.FLAP_OFF, args.autoscale_flap))
    res = autoscale_bench.run(sb, cloud, args.autoscale_rounds,
                              args.autoscale_ramps, args.autoscale_flap)
    for name, value, unit in autoscale_bench.figures(res):
        out('    %s: %s %s' % (name, value, unit))
    for error in res['errors']:
        out('    FAILED: %s' % error)


def cost_part(out):
    """(f), in its own process: it imports the installed Nova."""
    proc = subprocess.run(
        [sys.executable, os.path.join(os.path.dirname(
            os.path.abspath(__file__)), 'autoscale_cost.py')],
        cwd='/', capture_output=True, text=True, timeout=1800)
    if proc.returncode:
        raise RuntimeError('autoscale_cost.py failed:\n%s' % proc.stderr)
    for line in proc.stdout.splitlines():
        out('(f) ' + line if not line.startswith(' ') else line)


def guest_part(sb, cloud, out, samples):
    cpu, mem = guest_bench.guest_latency(sb, cloud, out, samples)
    out('    ' + summary('vCPU hotplug: POST -> guest online',
                         [g for g, _ in cpu]))
    out('    ' + summary('vCPU hotplug: POST -> action done',
                         [a for _, a in cpu]))
    out('    ' + summary('balloon: POST -> guest MemTotal',
                         [g for g, _, _ in mem]))
    for label, grow in (('balloon grow', True), ('balloon shrink', False)):
        part = [g for g, _, up in mem if up == grow]
        if part:
            out('    ' + summary('%s: POST -> guest MemTotal' % label,
                                 part))
    out('    ' + summary('balloon: POST -> action done',
                         [a for _, a, _ in mem]))


def run_sandbox(args, hyper, run_dir, out, only, skip=()):
    """Start a sandbox on ``hyper``, run its parts (but ``skip``), stop
    it.
    """
    sb = xloud_sandbox.Sandbox(run_dir, hyper,
                               cpu_allocation_ratio=(
                                   1.0 if hyper.name == 'fake' else None),
                               ram_allocation_ratio=1.0,
                               nova_overrides={'quota': QUOTAS_OFF})
    try:
        sb.start()
        cloud = sandbox_client.Cloud(sb)
        image = None
        if hyper.name == 'fake':
            image = cloud.upload_image('bench-image',
                                       os.urandom(64 * 1024))['id']
        for name, real, what in sb.describe():
            if not real:
                out('%s: %s' % (name, what))
        out('sandbox (%s hypervisor) start-up: %.1f s' % (
            hyper.name, sb.timings['total']))
        for name, part in parts(sb, args):
            if only in (None, name) and name not in skip:
                part(cloud, image, out)
    except Exception as e:
        print('\nBENCH FAILED (%s hypervisor): %s: %s' % (
            hyper.name, type(e).__name__, e), file=sys.stderr)
        for name in ('nova-compute', 'nova-conductor', 'nova-scheduler'):
            print('--- %s:\n%s' % (name, processes.error_tail(
                sb.path('logs', '%s.log' % name))), file=sys.stderr)
        raise
    finally:
        sb.stop()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--samples', type=int, default=20,
                   help='samples of each latency in (b)')
    p.add_argument('--guest-samples', type=int, default=8,
                   help='samples of each latency in (c), the real guest')
    p.add_argument('--hypervisor', default='fake',
                   choices=sorted(xloud_sandbox.HYPERVISORS),
                   help='the hypervisor of (a) and (b) (default fake)')
    p.add_argument('--guest', default='auto', choices=('auto', 'qemu', 'off'),
                   help='(c) on a real QEMU guest: auto (where this machine '
                   'can run one), qemu (fail when it cannot), off')
    p.add_argument('--run-dir', default=os.path.join(
        xloud_sandbox.REPO, 'build', 'sandbox-bench'))
    p.add_argument('--only', choices=('density', 'latency', 'frozen',
                                      'guest', 'autoscale',
                                      'autoscale-cost', 'load'))
    p.add_argument('--load-servers', type=int, default=20,
                   help='(g): servers, half adjusted, half paused')
    p.add_argument('--load-clients', type=int, default=8,
                   help='(g): client threads of each of the two loads')
    p.add_argument('--load-seconds', type=float, default=60,
                   help='(g): how long the loads run')
    p.add_argument('--autoscale-rounds', type=int, default=6,
                   help='(e): CPU load rounds')
    p.add_argument('--autoscale-ramps', type=int, default=10,
                   help='(e): memory ramps on each of the two servers')
    p.add_argument('--autoscale-flap', type=float, default=10,
                   help='(e): minutes of a load 20 s on, 20 s off')
    args = p.parse_args(argv)
    lines = []

    def out(line):
        print(line, flush=True)
        lines.append(line)

    code = 0
    try:
        out('XLoud Nova sandbox benchmark, %s' % time.strftime(
            '%Y-%m-%d %H:%M UTC', time.gmtime()))
        out(machine())
        if args.only in (None, 'density', 'latency', 'frozen'):
            hyper = xloud_sandbox.hypervisor(args.hypervisor)
            out('(a), (b): on the %s hypervisor' % hyper.name)
            run_sandbox(args, hyper, args.run_dir, out, args.only,
                        skip=('load',))
        if args.only in (None, 'load'):
            # a fake host with room for every server at its flavor
            hyper = xloud_sandbox.hypervisor(
                'fake', pcpus=2 * args.load_servers + 8,
                memory_mib=1024 * args.load_servers + 4096)
            out('(g): on the fake hypervisor, %d pCPUs, %d MiB' % (
                hyper.pcpus, hyper.memory_mib))
            run_sandbox(args, hyper, args.run_dir + '-load', out, 'load')
        if args.only in (None, 'autoscale-cost'):
            cost_part(out)
        if (args.only in (None, 'guest', 'autoscale') and
                args.guest != 'off'):
            hyper, why = xloud_sandbox.choose(
                'auto' if args.guest == 'auto' else 'qemu')
            if hyper.name != 'qemu':
                out('(c) real guest: NOT RUN: %s' % why)
            else:
                out('(c): hypervisor %s' % hyper.description)
                run_sandbox(args, hyper, args.run_dir + '-qemu', out,
                            args.only)
        with open(FIGURES, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        print('figures written to %s' % FIGURES)
    except KeyboardInterrupt:
        code = 130
    except Exception as e:
        if not isinstance(e, (sandbox_client.StepFailed,
                              processes.SandboxError)):
            traceback.print_exc()
        code = 1
    return code


if __name__ == '__main__':
    sys.exit(main())
