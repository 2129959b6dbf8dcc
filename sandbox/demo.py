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

"""The demo: boot a minimum-flavor server and adjust it live, over HTTP.

Starts the all-in-one sandbox (xloud_sandbox.py), then, as a user's client
would: creates a flavor of 4 vCPUs / 4096 MiB with minimum_cpu=1 and
minimum_memory=1024, uploads an image to glance, boots a server, shows its
domain XML, its placement allocation and the provider's usage, POSTs
os-xloud-adjust to 3 vCPUs / 3072 MiB, waits for the instance action, and
shows GET os-xloud-adjust, the new XML, the new usage and the action's
events. Each step checks what it got and stops the demo (exit 1, the step
and the services' log tails) when it is not what it should be.

``--keep`` leaves the sandbox up afterwards and prints how to reach it,
until Ctrl-C. Every process is killed at the end, whatever happens.
"""

import argparse
import os
import re
import sys
import time
import traceback

if __name__ == '__main__':
    sys.path.insert(0, os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))

from sandbox import client as sandbox_client  # noqa: E402
from sandbox import xloud_sandbox  # noqa: E402

FLAVOR = {'vcpus': 4, 'ram': 4096, 'disk': 1}
MINIMUM = {'minimum_cpu': '1', 'minimum_memory': '1024'}
ADJUST_TO = (3, 3072)
LOG_TAILS = ('nova-api', 'nova-conductor', 'nova-scheduler', 'nova-compute',
             'placement-api')


class Step(object):
    """Names the running step, so a failure says which one it was."""
    current = None

    def __init__(self, title):
        self.title = title

    def __enter__(self):
        Step.current = self.title
        print('\n== %s' % self.title, flush=True)
        self.t0 = time.monotonic()
        return self

    def __exit__(self, exc_type, *rest):
        if exc_type is None:
            Step.current = None


def check(ok, message):
    if not ok:
        raise sandbox_client.StepFailed(message)


def xml_lines(path):
    """The <vcpu>, <memory> and <currentMemory> lines of a domain XML."""
    check(os.path.exists(path), 'no domain XML at %s' % path)
    with open(path) as f:
        text = f.read()
    return [line.strip() for line in text.splitlines()
            if re.search(r'<(vcpu|memory|currentMemory)[ >]', line)], text


def xml_current(text):
    """(current vCPUs, max vCPUs, currentMemory KiB, memory KiB)."""
    vcpu = re.search(r"<vcpu([^>]*)>(\d+)</vcpu>", text)
    cur = re.search(r"current=['\"](\d+)['\"]", vcpu.group(1))
    mem = re.search(r"<memory[^>]*>(\d+)</memory>", text)
    curmem = re.search(r"<currentMemory[^>]*>(\d+)</currentMemory>", text)
    maxv = int(vcpu.group(2))
    return (int(cur.group(1)) if cur else maxv, maxv,
            int(curmem.group(1)) if curmem else int(mem.group(1)),
            int(mem.group(1)))


def show_xml(sb, server_id, kind):
    path = sb.path('domains', '%s.%s.xml' % (server_id, kind))
    lines, text = xml_lines(path)
    print('   %s (%s):' % (os.path.relpath(path), kind))
    for line in lines:
        print('     %s' % line)
    return xml_current(text)


def show_placement(cloud, rp, server_id):
    alloc = cloud.allocations(server_id)
    check(rp['uuid'] in alloc, 'server %s has no allocation on %s: %s' % (
        server_id, rp['uuid'], alloc))
    res = alloc[rp['uuid']]['resources']
    usage = cloud.usages(rp['uuid'])
    print('   allocation of the server on %s: %s' % (rp['name'], res))
    print('   usage of the provider:            %s' % usage)
    return res, usage


def run(sb, out_results=None):
    """The demo's steps on a started sandbox; returns what it saw."""
    cloud = sandbox_client.Cloud(sb)
    res = out_results if out_results is not None else {}
    rp = cloud.provider()
    res['inventory'] = cloud.inventories(rp['uuid'])

    with Step('create flavor 4 vCPU / 4096 MiB, minimum_cpu=1, '
              'minimum_memory=1024'):
        flavor = cloud.create_flavor('xloud.demo', extra_specs=MINIMUM,
                                     **FLAVOR)
        specs = cloud.nova('GET', '/flavors/%s/os-extra_specs' %
                           flavor['id'], 200).json()['extra_specs']
        print('   flavor %s: %s' % (flavor['id'], specs))
        check(specs == MINIMUM, 'extra specs are %s' % specs)

    with Step('upload an image to glance'):
        image = cloud.upload_image('xloud-demo-image', os.urandom(64 * 1024))
        print('   image %s: status %s, %d bytes, stored by glance in %s' % (
            image['id'], image['status'], image['size'],
            os.path.relpath(sb.path('state', 'glance', 'images'))))
        check(image['status'] == 'active', 'image is %s' % image['status'])

    with Step('boot a server (networks: none)') as step:
        server = cloud.boot('xloud-demo', image['id'], flavor['id'])
        server = cloud.wait_server(server['id'], 'ACTIVE')
        res['server_id'] = server['id']
        res['boot_s'] = time.monotonic() - step.t0
        print('   server %s ACTIVE on %s in %.2f s' % (
            server['id'], server.get('OS-EXT-SRV-ATTR:host'), res['boot_s']))

    with Step('the domain XML Nova generated (written by the compute)'):
        res['xml_defined'] = show_xml(sb, server['id'], 'defined')
        res['xml_live_before'] = show_xml(sb, server['id'], 'live')
        check(res['xml_defined'] == (1, 4, 1024 * 1024, 4096 * 1024),
              'defined XML: (current vcpus, max, currentMemory, memory) = '
              '%s, expected (1, 4, 1048576, 4194304)' %
              (res['xml_defined'],))
        check(res['xml_live_before'][0::2] == (1, 1024 * 1024),
              'the domain runs %s' % (res['xml_live_before'],))

    with Step('placement: the allocation and the provider usage'):
        alloc, usage = show_placement(cloud, rp, server['id'])
        res['alloc_before'], res['usage_before'] = alloc, usage
        check((alloc.get('VCPU'), alloc.get('MEMORY_MB')) == (1, 1024),
              'allocation %s, expected VCPU 1, MEMORY_MB 1024' % alloc)

    with Step('GET os-xloud-adjust'):
        got = cloud.get_adjust(server['id'])
        print('   %s' % got)
        res['get_before'] = got

    with Step('POST os-xloud-adjust {"current_vcpus": %d, '
              '"current_memory_mb": %d, "persist": true}' % ADJUST_TO) as st:
        req = cloud.adjust(server['id'], *ADJUST_TO)
        print('   202, request %s; waiting for the instance action' % req)
        act = cloud.wait_action(server['id'], req)
        res['adjust_s'] = time.monotonic() - st.t0
        res['action'] = act
        print('   action %s finished in %.2f s' % (act['action'],
                                                   res['adjust_s']))
        check(act['action'] == 'xloud_adjust', 'action is %s' % act)

    with Step('GET os-xloud-adjust after'):
        got = cloud.get_adjust(server['id'])
        print('   %s' % got)
        res['get_after'] = got
        check((got['vcpus']['current'], got['memory_mb']['current']) ==
              ADJUST_TO, 'GET says %s' % got)

    with Step('the domain XML now (live and persistent)'):
        res['xml_live_after'] = show_xml(sb, server['id'], 'live')
        res['xml_config_after'] = show_xml(sb, server['id'], 'config')
        want = (ADJUST_TO[0], 4, ADJUST_TO[1] * 1024, 4096 * 1024)
        for kind in ('live', 'config'):
            check(res['xml_%s_after' % kind] == want,
                  '%s XML: %s, expected %s' % (
                      kind, res['xml_%s_after' % kind], want))

    with Step('placement after the adjust'):
        alloc, usage = show_placement(cloud, rp, server['id'])
        res['alloc_after'], res['usage_after'] = alloc, usage
        check((alloc.get('VCPU'), alloc.get('MEMORY_MB')) == ADJUST_TO,
              'allocation %s, expected VCPU %d, MEMORY_MB %d' % (
                  (alloc,) + ADJUST_TO))

    with Step('os-instance-actions: the adjust and its events'):
        actions = cloud.actions(server['id'])
        for a in actions:
            print('   %-14s request %s  %s' % (a['action'], a['request_id'],
                                                a['start_time']))
        events = cloud.action(server['id'], req)['events']
        for e in events:
            print('     event %s: %s (%s .. %s)' % (
                e['event'], e['result'], e['start_time'], e['finish_time']))
        res['events'] = events
        check(events and all(e['result'] == 'Success' for e in events),
              'events: %s' % events)
    return res


def banner(sb):
    print('\nWhat runs (REAL = the real program; STAND-IN = replaced):')
    for name, real, what in sb.describe():
        print('  %-9s %-30s %s' % ('REAL' if real else 'STAND-IN', name,
                                   what))


def keep_up(sb, server_id):
    env = sb.env_file({'NOVA_H': sandbox_client.NOVA_HEADERS,
                       'PLACEMENT_H': sandbox_client.PLACEMENT_HEADERS},
                      server_id)
    print("""
The sandbox stays up (Ctrl-C stops it and kills every process).
{env} has the endpoints, the demo's SERVER_ID and the auth headers
as curl arguments (NOVA_H, PLACEMENT_H). In bash:

  . {env}
  curl -s "${{NOVA_H[@]}}" $NOVA_URL/servers/detail
  curl -s "${{NOVA_H[@]}}" $NOVA_URL/servers/$SERVER_ID/os-xloud-adjust
  curl -s "${{NOVA_H[@]}}" -H 'Content-Type: application/json' \\
       -d '{{"current_vcpus": 2, "current_memory_mb": 2048}}' \\
       $NOVA_URL/servers/$SERVER_ID/os-xloud-adjust
  curl -s "${{NOVA_H[@]}}" $NOVA_URL/servers/$SERVER_ID/os-instance-actions
  curl -s "${{PLACEMENT_H[@]}}" $PLACEMENT_URL/allocations/$SERVER_ID
  grep -E '<vcpu|currentMemory' {domains}/$SERVER_ID.live.xml

No keystone runs, so the openstack CLI is not set up for it: nova-api
takes the identity from the X-* headers in NOVA_H (keystonecontext
without authtoken). Logs: {logs}""".format(
        env=env, domains=sb.path('domains'), logs=sb.path('logs')),
        flush=True)
    while True:
        time.sleep(3600)


def fail(sb, exc):
    step = Step.current or 'sandbox start-up (%s)' % sb.current_step
    print('\nDEMO FAILED at step: %s\n%s: %s' % (
        step, type(exc).__name__, exc),
        file=sys.stderr)
    if not isinstance(exc, (xloud_sandbox.SandboxError,
                            sandbox_client.StepFailed)):
        traceback.print_exc()
    if sb.procs:
        for name in LOG_TAILS:
            path = sb.path('logs', '%s.log' % name)
            if os.path.exists(path):
                print('\n--- %s: last errors and tail:\n%s' % (
                    path, xloud_sandbox.error_tail(path)), file=sys.stderr)
    sys.stderr.flush()


def parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--keep', action='store_true',
                   help='stay up after the demo, until Ctrl-C')
    p.add_argument('--hypervisor', default='fake',
                   choices=sorted(xloud_sandbox.HYPERVISORS),
                   help='what runs under nova-compute (default: fake)')
    p.add_argument('--run-dir', default=xloud_sandbox.DEFAULT_RUN_DIR)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    sb = xloud_sandbox.Sandbox(args.run_dir,
                               xloud_sandbox.hypervisor(args.hypervisor))
    code = 0
    try:
        print('Starting the sandbox in %s' % sb.run_dir, flush=True)
        sb.start()
        banner(sb)
        res = run(sb)
        print('\nDEMO OK: booted at (1 vCPU, 1024 MiB) of a 4 / 4096 flavor,'
              ' adjusted live to (%d, %d); XML, GET and placement agree.' %
              ADJUST_TO)
        banner(sb)
        if args.keep:
            keep_up(sb, res['server_id'])
    except KeyboardInterrupt:
        print('\ninterrupted', file=sys.stderr)
        code = 0 if args.keep and Step.current is None else 130
    except (xloud_sandbox.SandboxError, sandbox_client.StepFailed,
            Exception) as e:
        fail(sb, e)
        code = 1
    finally:
        left = sb.stop()
        if left:
            print('sandbox stopped, but %d processes had to be killed '
                  'after the stop: %s' % (len(left), left), file=sys.stderr)
            code = code or 1
        else:
            print('sandbox stopped: no process of it is left (checked in '
                  '/proc)', flush=True)
    return code


if __name__ == '__main__':
    sys.exit(main())
