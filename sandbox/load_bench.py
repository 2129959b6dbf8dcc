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

"""The adjust under load, beside the same load of pause/unpause.

Half the servers get adjusts, dry runs and GETs from ``clients`` threads;
the other half get pause/unpause from as many threads, at the same time,
so that both see the same machine. Each client owns its servers (a 409
between two clients of one server would measure the guard, not the
path). An adjust or a pause is timed from its POST to the end of its
instance action (and, for a pause, the server's new status), polled
every ``POLL`` s by both. Figures: answers by status (5xx counted), p50
and p99 of the POST and of the end, operations a second; then the checks
that must hold after: every action ended, no task state, GET = placement
for every server. Printed, never asserted here (``bench.py`` part (g)).

The hypervisor is Nova's fake libvirt (a stand-in): this measures Nova's
own path (API, RabbitMQ, conductor, compute, placement, MariaDB), not a
guest's.
"""

import collections
import random
import threading
import time

import requests

from sandbox import client as sandbox_client
from sandbox.measure import pct

POLL = 0.2
FLAVOR = {'vcpus': 2, 'ram': 1024, 'disk': 1}
MINIMUM = {'minimum_cpu': '1', 'minimum_memory': '512'}
SIZES = ((1, 512), (2, 1024))


class Tally(object):
    """What one kind of operation saw, from many threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = collections.Counter()
        self.post, self.end = [], []
        self.failed = []

    def add(self, status, post=None, end=None, failed=None):
        with self.lock:
            self.statuses[status] += 1
            if post is not None:
                self.post.append(post)
            if end is not None:
                self.end.append(end)
            if failed:
                self.failed.append(failed)


def _wait_end(cloud, sid, req, timeout):
    """The action's events, once all have finished."""
    deadline = time.monotonic() + timeout
    while True:
        resp = cloud.nova('GET', '/servers/%s/os-instance-actions/%s' % (
            sid, req))
        if resp.status_code == 200:
            events = resp.json()['instanceAction'].get('events') or []
            if events and all(e.get('finish_time') for e in events):
                return events
        if time.monotonic() > deadline:
            return None
        time.sleep(POLL)


def _wait_status(cloud, sid, status, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cloud.server(sid)['status'] == status:
            return True
        time.sleep(POLL)
    return False


def adjust_client(cloud, owned, stop, tally, seed):
    """Adjusts (60%), dry runs (20%) and GETs (20%) of its servers."""
    rnd = random.Random(seed)
    size = {sid: 0 for sid in owned}
    while not stop.is_set():
        sid = rnd.choice(owned)
        pick = rnd.random()
        path = '/servers/%s/os-xloud-adjust' % sid
        t0 = time.monotonic()
        try:
            if pick < 0.6:
                size[sid] = 1 - size[sid]
                vcpus, mem = SIZES[size[sid]]
                resp = cloud.nova('POST', path, json={
                    'current_vcpus': vcpus, 'current_memory_mb': mem})
                post = time.monotonic() - t0
                if resp.status_code != 202:
                    tally['adjust'].add(resp.status_code, post,
                                        failed=resp.text[:200])
                    continue
                events = _wait_end(cloud, sid, resp.headers[
                    'x-openstack-request-id'], 300)
                bad = None if events and all(
                    e['result'] == 'Success' for e in events) else events
                tally['adjust'].add(202, post, time.monotonic() - t0, bad)
            elif pick < 0.8:
                vcpus, mem = SIZES[1 - size[sid]]
                resp = cloud.nova('POST', path, json={
                    'current_vcpus': vcpus, 'dry_run': True})
                tally['dry run'].add(resp.status_code,
                                     time.monotonic() - t0)
            else:
                resp = cloud.nova('GET', path)
                tally['GET'].add(resp.status_code, time.monotonic() - t0)
        except requests.RequestException as e:
            tally['adjust'].add('no answer', failed=str(e)[:200])


def pause_client(cloud, owned, stop, tally, seed):
    """Pause, then unpause, of its servers: each timed like an adjust."""
    rnd = random.Random(seed)
    while not stop.is_set():
        sid = rnd.choice(owned)
        for action, status in (('pause', 'PAUSED'), ('unpause', 'ACTIVE')):
            t0 = time.monotonic()
            try:
                resp = cloud.nova('POST', '/servers/%s/action' % sid,
                                  json={action: None})
                post = time.monotonic() - t0
                if resp.status_code != 202:
                    tally['pause'].add(resp.status_code, post,
                                       failed=resp.text[:200])
                    break
                events = _wait_end(cloud, sid, resp.headers[
                    'x-openstack-request-id'], 300)
                ok = events is not None and _wait_status(cloud, sid,
                                                         status, 300)
                tally['pause'].add(202, post, time.monotonic() - t0,
                                   None if ok else events)
            except requests.RequestException as e:
                tally['pause'].add('no answer', failed=str(e)[:200])
                break


def leftovers(cloud, servers, rp):
    """Servers whose actions, task state or placement are not settled."""
    bad = []
    for sid in servers:
        srv = cloud.server(sid)
        if srv['OS-EXT-STS:task_state'] is not None:
            bad.append('%s task state %s' % (sid, srv[
                'OS-EXT-STS:task_state']))
        got = cloud.get_adjust(sid)
        alloc = cloud.allocations(sid)[rp]['resources']
        if ((got['vcpus']['current'], got['memory_mb']['current']) !=
                (alloc['VCPU'], alloc['MEMORY_MB'])):
            bad.append('%s GET %s/%s, placement %s/%s' % (
                sid, got['vcpus']['current'], got['memory_mb']['current'],
                alloc['VCPU'], alloc['MEMORY_MB']))
        for action in cloud.actions(sid):
            events = cloud.action(sid, action['request_id'])['events']
            if any(not e.get('finish_time') for e in events):
                bad.append('%s action %s %s unfinished' % (
                    sid, action['action'], action['request_id']))
    return bad


def run(sb, cloud, image, out, servers=20, clients=8, seconds=60):
    """(g): ``servers`` servers, ``clients`` threads of each kind."""
    flavor = cloud.create_flavor('bench-load', extra_specs=MINIMUM,
                                 **FLAVOR)
    t0 = time.monotonic()
    ids = [cloud.boot('load-%d' % i, image, flavor['id'])['id']
           for i in range(servers)]
    for sid in ids:
        cloud.wait_server(sid, 'ACTIVE', timeout=600)
    out('(g) load: %d servers booted in %.0f s; %d clients of adjusts, dry '
        'runs and GETs on %d of them, %d clients of pause/unpause on the '
        'other %d, for %d s' % (servers, time.monotonic() - t0, clients,
                                servers // 2, clients,
                                servers - servers // 2, seconds))
    half = ids[:servers // 2], ids[servers // 2:]
    tally = {k: Tally() for k in ('adjust', 'dry run', 'GET', 'pause')}
    stop = threading.Event()
    threads = []
    for c in range(clients):
        for kind, func in enumerate((adjust_client, pause_client)):
            owned = half[kind][c::clients] or [half[kind][
                c % len(half[kind])]]
            th = threading.Thread(target=func, daemon=True, args=(
                sandbox_client.Cloud(sb, timeout=120), owned, stop, tally,
                c * 2 + kind))
            threads.append(th)
    start = time.monotonic()
    for th in threads:
        th.start()
    stop.wait(seconds)
    stop.set()
    for th in threads:
        th.join(timeout=400)
    took = time.monotonic() - start
    for name, t in tally.items():
        n = sum(t.statuses.values())
        fives = sum(v for k, v in t.statuses.items()
                    if isinstance(k, int) and k >= 500)
        line = '    %-8s %5d (%.1f/s), answers %s, 5xx %d' % (
            name, n, n / took, dict(sorted(t.statuses.items(),
                                           key=lambda kv: str(kv[0]))),
            fives)
        if t.post:
            line += '; POST p50 %.0f / p99 %.0f ms' % (
                pct(t.post, 50) * 1000, pct(t.post, 99) * 1000)
        if t.end:
            line += '; end p50 %.2f / p99 %.2f s' % (pct(t.end, 50),
                                                     pct(t.end, 99))
        if t.failed:
            line += '; FAILED %d, e.g. %s' % (len(t.failed), t.failed[0])
        out(line)
    if tally['adjust'].end and tally['pause'].end:
        out('    adjust p99 end / pause p99 end: %.2f (goal <= 1.5)' % (
            pct(tally['adjust'].end, 99) / pct(tally['pause'].end, 99)))
    rp = cloud.provider()['uuid']
    bad = leftovers(cloud, ids, rp)
    out('    after: %d of %d servers not settled%s' % (
        len(bad), servers, (': ' + '; '.join(bad[:5])) if bad else
        ' (every action ended, no task state, GET = placement)'))
    for sid in ids:
        cloud.delete_server(sid, timeout=300)
    return tally, bad
