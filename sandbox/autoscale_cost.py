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

"""What the autoscaler costs a compute: its CPU time per pass, N guests.

``python sandbox/autoscale_cost.py`` (``tox -e bench`` runs it): a script
of its own, run in its own process, because it imports the installed,
patched Nova (the repository root on ``sys.path`` would put the overlay's
bare ``nova/`` in its place). Prints the figures, asserts nothing.
"""

import sys
import time

# beside this script (sys.path[0]), standard library only
from measure import pct  # noqa: I202


def cost(out, sizes=(10, 100, 500), passes=60):
    """The autoscaler's own CPU time per pass, for N guests.

    Nova's real loop (``Autoscaler.tick``: the bulk read through
    ``xloud_stats.sample``, every server's samples and decision) against a
    stand-in connection whose ``getAllDomainStats`` returns, per guest,
    the fields libvirt returns for a QEMU guest (fresh dicts each call, as
    libvirt builds them), guests using 10-60% of their vCPUs (nothing to
    change: the decisions, not the adjusts, are timed). The listing of the
    servers (the database, every 10 s) is a stand-in too. Then libvirt's
    own call, in its test driver, for N running domains (state only: what
    that driver fills).
    """
    import random
    import types
    import uuid as uuidlib

    from unittest import mock

    from nova.compute import xloud_autoscaler
    from nova import objects
    from nova.virt.libvirt import xloud_stats

    objects.register_all()
    out('autoscaler cost per pass (process CPU time), %d passes each' %
        passes)
    rng = random.Random(7)
    for n in sizes:
        doms = []
        for _ in range(n):
            u = str(uuidlib.uuid4())
            doms.append(types.SimpleNamespace(
                UUIDString=(lambda u=u: u), ID=(lambda: 7),
                setMemoryStatsPeriod=lambda *a: None,
                cpu=0, share=rng.uniform(0.1, 0.6)))

        class Conn(object):
            def getAllDomainStats(self, stats, flags):
                found = []
                now = int(time.time())
                for d in doms:
                    d.cpu += int(d.share * 1e9)
                    values = {'state.state': 1, 'state.reason': 1,
                              'cpu.time': d.cpu, 'cpu.user': d.cpu // 2,
                              'cpu.system': d.cpu // 4,
                              'vcpu.current': 1, 'vcpu.maximum': 4,
                              'vcpu.0.state': 1, 'vcpu.0.time': d.cpu,
                              'vcpu.0.wait': 0, 'vcpu.0.delay': 0,
                              'balloon.current': 1048576,
                              'balloon.maximum': 4194304,
                              'balloon.swap_in': 0, 'balloon.swap_out': 0,
                              'balloon.major_fault': 0,
                              'balloon.minor_fault': 0,
                              'balloon.unused': 700000,
                              'balloon.available': 1000000,
                              'balloon.usable': 800000,
                              'balloon.last-update': now,
                              'balloon.disk_caches': 50000,
                              'balloon.rss': 1100000}
                    found.append((d, values))
                return found

        conn = Conn()
        driver = types.SimpleNamespace(
            _host=types.SimpleNamespace(get_connection=lambda: conn))
        driver.xloud_sample = (
            lambda watched, driver=driver: xloud_stats.sample(driver,
                                                              watched))
        manager = types.SimpleNamespace(host='bench', driver=driver)
        flavor = objects.Flavor(
            flavorid='as', vcpus=4, memory_mb=4096, extra_specs={
                'minimum_cpu': '1', 'minimum_memory': '1024',
                'xloud:autoscale': 'cpu,memory'})
        instances = [objects.Instance(
            uuid=d.UUIDString(), host='bench', flavor=flavor,
            system_metadata={}, metadata={}, task_state=None,
            vm_state='active') for d in doms]
        loop = xloud_autoscaler.Autoscaler(manager)
        acted = []
        loop.spawn = lambda func, server, decision: acted.append(decision)
        clock = [1000.0]
        loop.clock = lambda: clock[0]
        with mock.patch.object(xloud_autoscaler, '_opted_in',
                               return_value=instances):
            times = []
            for _ in range(passes):
                clock[0] += 1
                c0 = time.process_time()
                loop.tick()
                times.append(time.process_time() - c0)
        per = sum(times) / len(times)
        out('    %4d guests: %.2f ms a pass (p95 %.2f ms), %.2f%% of one '
            'core at a 1 s interval; %d changes decided' % (
                n, per * 1000, pct(times, 95) * 1000, per * 100,
                len(acted)))
    try:
        import libvirt
    except ImportError as e:
        out('    libvirt test driver: NOT RUN (%s)' % e)
        return
    for n in sizes:
        conn = libvirt.open('test:///default')
        for i in range(n):
            dom = conn.defineXML(
                "<domain type='test'><name>bench-%d-%d</name><memory>65536"
                "</memory><vcpu>1</vcpu><os><type>hvm</type></os>"
                "</domain>" % (n, i))
            dom.create()
        times = []
        for _ in range(passes):
            c0 = time.process_time()
            found = conn.getAllDomainStats(0, 16)
            times.append(time.process_time() - c0)
        out('    libvirt test driver, getAllDomainStats of %d running '
            'domains (%d found, state only): %.2f ms a call' % (
                n, len(found), 1000 * sum(times) / len(times)))
        for dom in conn.listAllDomains():
            if dom.name().startswith('bench-'):
                dom.destroy()
                dom.undefine()
        conn.close()


def main(argv=None):
    sizes = [int(x) for x in (argv or sys.argv[1:])] or [10, 100, 500]
    cost(lambda line: print(line, flush=True), sizes)
    return 0


if __name__ == '__main__':
    sys.exit(main())
