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
would: creates a flavor with minimum_cpu/minimum_memory below its vCPUs and
RAM, uploads the image(s) to glance, boots a server, shows its domain XML,
its placement allocation and the provider's usage, POSTs os-xloud-adjust,
waits for the instance action, and shows GET os-xloud-adjust, the new XML,
the new usage and the action's events. Each step checks what it got and
stops the demo (exit 1, the step and the services' log tails) when it is
not what it should be.

``--hypervisor``: ``qemu`` runs a real guest (a private libvirtd, QEMU
with TCG; the flavor is 4 vCPUs / 1024 MiB, minimum 1 / 512, see
``PROFILES``); the XML is libvirt's own (``virsh dumpxml``) and the demo
also shows what the GUEST reports on its serial console (read with the
os-getConsoleOutput server action) before and after the adjust. ``fake``
is Nova's fake libvirt (a stand-in; 4 / 4096, minimum 1 / 1024). ``auto``
(the default) is qemu where this machine can run it, else fake, and says
why.

``--keep`` leaves the sandbox up afterwards and prints how to reach it,
until Ctrl-C. Every process is killed at the end, whatever happens.
"""

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import traceback

# run as a script (python sandbox/demo.py): the sandbox package it imports
# is a folder of the repository root, not an installed one
if __name__ == '__main__':
    sys.path.insert(0, os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))

from sandbox import client as sandbox_client  # noqa: E402
from sandbox import keystone as sandbox_keystone  # noqa: E402
from sandbox import processes  # noqa: E402
from sandbox import qemu_hypervisor  # noqa: E402
from sandbox import xloud_sandbox  # noqa: E402


class Profile(object):
    """The demo's flavor and adjust target for a hypervisor mode.

    fake: no guest runs, so the sizes only have to read well. qemu: a real
    guest under TCG on a 2-core machine: 1024 MiB boots the tiny guest in
    seconds and leaves the host room; minimum 512 MiB still holds its
    kernel and busybox with plenty to spare, and 768 MiB is a balloon
    change the guest's MemTotal shows clearly.
    """

    def __init__(self, vcpus, ram, min_cpu, min_ram, adjust_to):
        self.flavor = {'vcpus': vcpus, 'ram': ram, 'disk': 1}
        self.minimum = {'minimum_cpu': str(min_cpu),
                        'minimum_memory': str(min_ram)}
        self.min = (min_cpu, min_ram)
        self.adjust_to = adjust_to


PROFILES = {'fake': Profile(4, 4096, 1, 1024, (3, 3072)),
            'qemu': Profile(4, 1024, 1, 512, (3, 768))}
GUEST_BOOT_TIMEOUT = 240
GUEST_TIMEOUT = 60
# Two MemTotal readings differ from the balloon's change by page rounding.
BALLOON_SLACK_KIB = 2 * 1024
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


def xml_lines(text):
    """The <vcpu>, <memory> and <currentMemory> lines of a domain XML."""
    return [line.strip() for line in text.splitlines()
            if re.search(r'<(vcpu|memory|currentMemory)[ >]', line)]


def xml_current(text):
    """(current vCPUs, max vCPUs, currentMemory KiB, memory KiB).

    The current vCPUs are those the host lets the guest use: the plugged
    ones, or fewer under the live CPU cap (``<cputune><global_quota>`` of
    the live XML: a vCPU shrink keeps the vCPUs plugged where the host
    cannot confirm an unplug, ``doc/minimum-resources.rst``).
    """
    vcpu = re.search(r"<vcpu([^>]*)>(\d+)</vcpu>", text)
    cur = re.search(r"current=['\"](\d+)['\"]", vcpu.group(1))
    mem = re.search(r"<memory[^>]*>(\d+)</memory>", text)
    curmem = re.search(r"<currentMemory[^>]*>(\d+)</currentMemory>", text)
    maxv = int(vcpu.group(2))
    current = int(cur.group(1)) if cur else maxv
    period = re.search(r"<global_period>(\d+)</global_period>", text)
    quota = re.search(r"<global_quota>(-?\d+)</global_quota>", text)
    if period and quota and int(quota.group(1)) > 0:
        current = min(current, -(-int(quota.group(1)) //
                                 int(period.group(1))))
    return (current, maxv,
            int(curmem.group(1)) if curmem else int(mem.group(1)),
            int(mem.group(1)))


def show_xml(sb, server_id, kind, want=None, timeout=0, hyper=None):
    """Print and return the domain's current values. With ``want``, read
    again until they are that, up to ``timeout`` s: a real libvirt shows
    the balloon's size once the guest reported it, a little after the call.
    ``hyper``: the hypervisor of the compute the server is on (the first
    compute's by default).
    """
    hyper = hyper or sb.hyper
    deadline = time.monotonic() + timeout
    while True:
        where, text = hyper.domain_xml(sb, server_id, kind)
        got = xml_current(text)
        if want is None or got == want or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    print('   %s (%s):' % (where, kind))
    for line in xml_lines(text):
        print('     %s' % line)
    return got


def upload_images(cloud, sb):
    """The server's image: random bytes for the fake hypervisor (nothing
    boots it); for qemu the guest's kernel (aki) and initramfs (ari), and
    a small empty raw root disk whose kernel_id/ramdisk_id point at them,
    the way Nova boots a kernel/initrd image.
    """
    if sb.hyper.name != 'qemu':
        return cloud.upload_image('xloud-demo-image', os.urandom(64 * 1024))
    return sb.hyper.upload_images(cloud)


def guest_says(cloud, server_id, accept, timeout, what):
    """The guest's own last XLOUD-GUEST line, read with the real
    os-getConsoleOutput server action, once ``accept`` takes it.
    """
    deadline = time.monotonic() + timeout
    while True:
        out = cloud.console_output(server_id)
        lines = qemu_hypervisor.guest_lines(out)
        if lines and accept(lines[-1]):
            text = [ln for ln in out.splitlines() if 'XLOUD-GUEST' in ln]
            print('   os-getConsoleOutput, the guest says: %s' %
                  text[-1].strip())
            return lines[-1]
        if time.monotonic() > deadline:
            raise sandbox_client.StepFailed(
                'the guest did not report %s in %d s; its console ends '
                'with:\n%s' % (what, timeout, out[-1500:]))
        time.sleep(0.5)


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
    prof = PROFILES[sb.hyper.name]
    flv, minimum, target = prof.flavor, prof.minimum, prof.adjust_to
    real = sb.hyper.name == 'qemu'
    cloud = sandbox_client.Cloud(sb)
    res = out_results if out_results is not None else {}
    if sb.multi:
        with Step('the computes (os-hypervisors, placement)'):
            res['computes'] = show_computes(cloud, sb)
        # every compute is the same size: the first one's inventory
        rp = cloud.host_provider(sb.computes[0].host)
    else:
        rp = cloud.provider()
    res['inventory'] = cloud.inventories(rp['uuid'])
    max_unit = res['inventory']['VCPU']['max_unit']
    if target[0] > max_unit:
        # Placement's VCPU max_unit is the host's CPU count: one server
        # never holds more vCPUs than that (2 on a 2-core machine).
        print('\n(the host has %d CPUs, placement\'s VCPU max_unit: the '
              'adjust goes to %d vCPUs, not %d)' % (max_unit, max_unit,
                                                    target[0]))
        target = (max_unit, target[1])
    res['target'] = target

    with Step('create flavor %d vCPU / %d MiB, minimum_cpu=%s, '
              'minimum_memory=%s' % (flv['vcpus'], flv['ram'],
                                     minimum['minimum_cpu'],
                                     minimum['minimum_memory'])):
        flavor = cloud.create_flavor('xloud.demo', extra_specs=minimum,
                                     **flv)
        specs = cloud.nova('GET', '/flavors/%s/os-extra_specs' %
                           flavor['id'], 200).json()['extra_specs']
        print('   flavor %s: %s' % (flavor['id'], specs))
        check(specs == minimum, 'extra specs are %s' % specs)

    with Step('upload the image%s to glance' % ('s' if real else '')):
        image = upload_images(cloud, sb)
        print('   image %s: status %s, %d bytes, stored by glance in %s' % (
            image['id'], image['status'], image['size'],
            os.path.relpath(sb.path('state', 'glance', 'images'))))
        check(image['status'] == 'active', 'image is %s' % image['status'])

    with Step('boot a server (networks: none)') as step:
        server = cloud.boot('xloud-demo', image['id'], flavor['id'])
        server = cloud.wait_server(server['id'], 'ACTIVE',
                                   timeout=180 if real else 60)
        res['server_id'] = server['id']
        res['boot_s'] = time.monotonic() - step.t0
        res['host'] = host = server.get('OS-EXT-SRV-ATTR:host')
        print('   server %s ACTIVE on %s in %.2f s' % (
            server['id'], host, res['boot_s']))
        hyper = sb.compute(host).hyper
        if sb.multi:
            rp = cloud.host_provider(host)

    boot_want = (prof.min[0], flv['vcpus'], prof.min[1] * 1024,
                 flv['ram'] * 1024)
    with Step('the domain XML Nova generated (%s)' % (
            'libvirt\'s own, virsh dumpxml' if real else
            'written by the compute')):
        res['xml_defined'] = show_xml(sb, server['id'], 'defined',
                                      hyper=hyper)
        # the live balloon size shows once the guest's kernel has loaded
        # its balloon driver: a boot, which on loaded TCG cores can take
        # minutes, so the guest's boot bound, not a short one
        res['xml_live_before'] = show_xml(
            sb, server['id'], 'live', boot_want,
            GUEST_BOOT_TIMEOUT if real else 0, hyper=hyper)
        check(res['xml_defined'] == boot_want,
              'defined XML: (current vcpus, max, currentMemory, memory) = '
              '%s, expected %s' % (res['xml_defined'], boot_want))
        check(res['xml_live_before'] == boot_want,
              'the domain runs %s' % (res['xml_live_before'],))

    if real:
        with Step('what the GUEST ITSELF reports (its serial console)'):
            res['guest_before'] = guest_says(
                cloud, server['id'],
                lambda g: g[0] == prof.min[0] and
                g[1] <= prof.min[1] * 1024,
                GUEST_BOOT_TIMEOUT, '%d CPU online and MemTotal <= %d MiB'
                % prof.min)

    with Step('placement: the allocation and the provider usage'):
        alloc, usage = show_placement(cloud, rp, server['id'])
        res['alloc_before'], res['usage_before'] = alloc, usage
        check((alloc.get('VCPU'), alloc.get('MEMORY_MB')) == prof.min,
              'allocation %s, expected VCPU %d, MEMORY_MB %d' % (
                  (alloc,) + prof.min))

    with Step('GET os-xloud-adjust'):
        got = cloud.get_adjust(server['id'])
        print('   %s' % got)
        res['get_before'] = got

    if sb.keystone is not None:
        title = ('openstack server adjust %s --vcpus %d --memory %d --wait '
                 '(our CLI plugin, keystone token of xloud-admin)' % (
                     (server['id'],) + target))
    else:
        title = ('POST os-xloud-adjust {"current_vcpus": %d, '
                 '"current_memory_mb": %d, "persist": true}' % target)
    with Step(title) as st:
        if sb.keystone is not None:
            out = cli(sb, 'admin', 'server', 'adjust', server['id'],
                      '--vcpus', str(target[0]), '--memory', str(target[1]),
                      '--wait', '-f', 'json')
            req = out['request_id']
            print('   the CLI: %s' % out)
            act = cloud.action(server['id'], req)
        else:
            req = cloud.adjust(server['id'], *target)
            print('   202, request %s; waiting for the instance action'
                  % req)
            act = cloud.wait_action(server['id'], req)
        res['adjust_s'] = time.monotonic() - st.t0
        res['action'] = act
        print('   action %s finished in %.2f s%s' % (
            act['action'], res['adjust_s'], ' (the CLI\'s own start-up '
            'included)' if sb.keystone is not None else ''))
        check(act['action'] == 'xloud_adjust', 'action is %s' % act)

    with Step('GET os-xloud-adjust after'):
        got = cloud.get_adjust(server['id'])
        print('   %s' % got)
        res['get_after'] = got
        check((got['vcpus']['current'], got['memory_mb']['current']) ==
              target, 'GET says %s' % got)

    with Step('the domain XML now (live and persistent)'):
        want = (target[0], flv['vcpus'], target[1] * 1024,
                flv['ram'] * 1024)
        res['xml_live_after'] = show_xml(
            sb, server['id'], 'live', want,
            GUEST_BOOT_TIMEOUT if real else 0, hyper=hyper)
        res['xml_config_after'] = show_xml(sb, server['id'], 'config',
                                           hyper=hyper)
        for kind in ('live', 'config'):
            check(res['xml_%s_after' % kind] == want,
                  '%s XML: %s, expected %s' % (
                      kind, res['xml_%s_after' % kind], want))

    if real:
        with Step('what the GUEST ITSELF reports now'):
            before = res['guest_before']
            res['guest_after'] = after = guest_says(
                cloud, server['id'],
                lambda g: g[0] == target[0] and g[1] > before[1],
                GUEST_TIMEOUT, '%d CPUs online and a larger MemTotal'
                % target[0])
            grown = after[1] - before[1]
            print('   cpus_online %d -> %d, MemTotal %d -> %d kB (+%d kB; '
                  'the balloon gave back %d kB)' % (
                      before[0], after[0], before[1], after[1], grown,
                      (target[1] - prof.min[1]) * 1024))
            check(abs(grown - (target[1] - prof.min[1]) * 1024) <=
                  BALLOON_SLACK_KIB,
                  'MemTotal grew by %d kB, not by the %d MiB the balloon '
                  'gave back' % (grown, target[1] - prof.min[1]))

    with Step('placement after the adjust'):
        alloc, usage = show_placement(cloud, rp, server['id'])
        res['alloc_after'], res['usage_after'] = alloc, usage
        check((alloc.get('VCPU'), alloc.get('MEMORY_MB')) == target,
              'allocation %s, expected VCPU %d, MEMORY_MB %d' % (
                  (alloc,) + target))

    with Step('os-instance-actions: the adjust and its events'):
        actions = cloud.actions(server['id'])
        for a in actions:
            print('   %-14s request %s  %s' % (
                a['action'], a['request_id'], a['start_time']))
        # the guest's notes (compute_xloud_guest_*) follow the adjust's
        # own event, written just after it ended: wait for those too
        deadline = time.monotonic() + 10
        while True:
            events = cloud.action(server['id'], req)['events']
            if (all(e['finish_time'] for e in events) or
                    time.monotonic() > deadline):
                break
            time.sleep(0.2)
        for e in events:
            print('     event %s: %s (%s .. %s)' % (
                e['event'], e['result'], e['start_time'], e['finish_time']))
        res['events'] = events
        check(events and all(e['result'] == 'Success' for e in events),
              'events: %s' % events)
    if sb.multi:
        live_migration(sb, cloud, server['id'], host, res)
    return res


def show_computes(cloud, sb):
    """The computes as the API and placement see them: {host: rp}."""
    hyps = {h['service']['host']: h for h in cloud.hypervisors()}
    found = {}
    for c in sb.computes:
        h = hyps[c.host]
        rp = cloud.host_provider(c.host)
        inv = cloud.inventories(rp['uuid'])
        print('   %s: hypervisor %s %s/%s, provider %s: %d VCPU, %d MiB' % (
            c.host, h['hypervisor_hostname'], h['status'], h['state'],
            rp['uuid'], inv['VCPU']['total'], inv['MEMORY_MB']['total']))
        check(h['state'] == 'up', '%s is %s' % (c.host, h['state']))
        found[c.host] = rp
    check(len(set(rp['uuid'] for rp in found.values())) == len(found),
          'computes share a provider: %s' % found)
    return found


def live_migration(sb, cloud, server_id, source, res):
    """os-migrateLive to another compute: the current values go along,
    GET shows them, the destination's provider holds them, the source's
    none (and in the qemu mode the guest runs on: the same boot).
    """
    dest = [c.host for c in sb.computes if c.host != source][0]
    real = sb.hyper.name == 'qemu'
    src_rp, dest_rp = cloud.host_provider(source), cloud.host_provider(dest)
    with Step('live migration to %s (os-migrateLive, block_migration '
              'auto)' % dest) as st:
        before = cloud.get_adjust(server_id)
        current = (before['vcpus']['current'],
                   before['memory_mb']['current'])
        print('   GET before: current %d vCPUs / %d MiB on %s' % (
            current + (source,)))
        if real:
            guest = guest_says(cloud, server_id, lambda g: True,
                               GUEST_TIMEOUT, 'a line')
        cloud.live_migrate(server_id, dest)
        srv = cloud.wait_host(server_id, dest,
                              timeout=GUEST_BOOT_TIMEOUT if real else 120)
        # the source ends it (its allocation as the migration's consumer
        # gone) once the destination runs the server
        mig = cloud.wait_migration(server_id, 'live-migration', 'completed',
                                   released=True)
        res['migrate_s'] = time.monotonic() - st.t0
        print('   %s on %s after %.2f s (migration %s: %s, %s)' % (
            srv['status'], dest, res['migrate_s'], mig['id'],
            mig['migration_type'], mig['status']))
        after = cloud.get_adjust(server_id)
        print('   GET after:  current %d vCPUs / %d MiB' % (
            after['vcpus']['current'], after['memory_mb']['current']))
        check(after == before, 'GET after the migration %s, before %s' % (
            after, before))
        alloc = cloud.allocations(server_id)
        held = alloc.get(dest_rp['uuid'], {}).get('resources', {})
        src_usage = cloud.usages(src_rp['uuid'])
        print('   allocation on %s: %s; on %s: %s (its usage %s)' % (
            dest, held, source,
            alloc.get(src_rp['uuid'], {}).get('resources', 'none'),
            src_usage))
        check((held.get('VCPU'), held.get('MEMORY_MB')) == current and
              src_rp['uuid'] not in alloc,
              'allocations %s, expected %s on %s only' % (
                  alloc, current, dest))
        check(not src_usage.get('VCPU') and not src_usage.get('MEMORY_MB'),
              '%s still has usage %s' % (source, src_usage))
        hyper = sb.compute(dest).hyper
        flavor_max = (before['vcpus']['maximum'],
                      before['memory_mb']['maximum'])
        want = (current[0], flavor_max[0], current[1] * 1024,
                flavor_max[1] * 1024)
        res['xml_live_migrated'] = show_xml(
            sb, server_id, 'live', want, GUEST_TIMEOUT if real else 0,
            hyper=hyper)
        check(res['xml_live_migrated'] == want, 'the domain on %s runs %s, '
              'expected %s' % (dest, res['xml_live_migrated'], want))
        if real:
            # the same boot: its uptime goes on; the same CPUs and memory
            moved = guest_says(
                cloud, server_id, lambda g: g[2] > guest[2], GUEST_TIMEOUT,
                'a line of the same boot')
            print('   the same guest: up %.1f s before, %.1f s on %s' % (
                guest[2], moved[2], dest))
            check(moved[:2] == guest[:2], 'the guest reports %s on %s, '
                  '%s before' % (moved, dest, guest))
            res['guest_migrated'] = (guest, moved)
        res['migration'] = {'source': source, 'dest': dest, 'get_before':
                            before, 'get_after': after, 'alloc': alloc,
                            'dest_rp': dest_rp['uuid'],
                            'src_rp': src_rp['uuid']}


def cli_env(sb, user):
    return dict(os.environ, OS_CLIENT_CONFIG_FILE=sb.path('clouds.yaml'),
                OS_CLOUD=sandbox_keystone.user_name(user))


def cli(sb, user, *argv):
    """The real ``openstack`` CLI (with our plugin, osc/) as ``user`` of
    the sandbox's clouds.yaml; its JSON output.
    """
    cmd = [processes.venv_bin('openstack')] + list(argv)
    proc = subprocess.run(cmd, env=cli_env(sb, user), timeout=300,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    progress = [line.replace('\033[K', '').strip() for line in
                proc.stderr.replace('\r', '\n').splitlines()
                if 'compute_xloud_adjust' in line]
    if progress:
        print('   its progress line, last: %s' % progress[-1])
    if proc.returncode != 0:
        raise sandbox_client.StepFailed('openstack %s: exit %d: %s' % (
            ' '.join(argv), proc.returncode, proc.stderr.strip()[-1000:]))
    return json.loads(proc.stdout)


def banner(sb):
    print('\nWhat runs (REAL = the real program; STAND-IN = replaced):')
    for name, real, what in sb.describe():
        print('  %-9s %-30s %s' % ('REAL' if real else 'STAND-IN', name,
                                   what))


def keep_up(sb, server_id):
    cloud = sandbox_client.Cloud(sb)
    env = sb.env_file({'NOVA_H': cloud.nova_headers,
                       'PLACEMENT_H': cloud.placement_headers},
                      server_id)
    # the compute the server is on now (several: after its migration)
    host = cloud.server(server_id).get('OS-EXT-SRV-ATTR:host')
    hyper = sb.compute(host).hyper
    # an adjust that fits the mode's flavor (a vCPU unplug times out on
    # QEMU/TCG: the qemu example grows the memory only)
    body = '"current_vcpus": 2, "current_memory_mb": 2048'
    if sb.hyper.name == 'qemu':
        body = '"current_memory_mb": 1024'
        xml_cmd = ("virsh -c '%s' dumpxml $SERVER_ID | grep -E "
                   "'<vcpu|currentMemory'\n  curl -s \"${NOVA_H[@]}\" -H "
                   "'Content-Type: application/json' -d "
                   "'{\"os-getConsoleOutput\": {\"length\": 5}}' "
                   "$NOVA_URL/servers/$SERVER_ID/action" %
                   hyper.daemon.uri)
    else:
        xml_cmd = ("grep -E '<vcpu|currentMemory' %s/$SERVER_ID.live.xml"
                   % hyper.domains_dir(sb))
    print("""
The sandbox stays up (Ctrl-C stops it and kills every process).
{env} has the endpoints, the demo's SERVER_ID and the auth headers
as curl arguments (NOVA_H, PLACEMENT_H). In bash:

  . {env}
  curl -s "${{NOVA_H[@]}}" $NOVA_URL/servers/detail
  curl -s "${{NOVA_H[@]}}" $NOVA_URL/servers/$SERVER_ID/os-xloud-adjust
  curl -s "${{NOVA_H[@]}}" -H 'Content-Type: application/json' \\
       -d '{{{body}}}' \\
       $NOVA_URL/servers/$SERVER_ID/os-xloud-adjust
  curl -s "${{NOVA_H[@]}}" $NOVA_URL/servers/$SERVER_ID/os-instance-actions
  curl -s "${{PLACEMENT_H[@]}}" $PLACEMENT_URL/allocations/$SERVER_ID
  {xml_cmd}

The adjust's versioned notifications (start, end, error), as a billing
system reads them from RabbitMQ, as they come:

  (cd {repo} && {python} -m sandbox.notifications '{url}')

{cli}{dashboard}Logs: {logs}""".format(
        env=env, body=body, xml_cmd=xml_cmd, logs=sb.path('logs'),
        cli=keep_cli(sb), dashboard=keep_dashboard(sb),
        repo=xloud_sandbox.REPO, python=sys.executable,
        url=sb.transport_url), flush=True)
    while True:
        time.sleep(3600)


def keep_cli(sb):
    if sb.keystone is None:
        return ('No keystone runs (auth=headers), so the openstack CLI is '
                'not set up for it:\nnova-api takes the identity from the '
                'X-* headers in NOVA_H.\n')
    venv = os.path.dirname(sys.executable)
    return '''NOVA_H carries a keystone token of xloud-admin (valid an hour).
The openstack CLI with our plugin, one cloud per user (xloud-admin,
xloud-member, xloud-reader: demo project; xloud-other: another project):

  export OS_CLIENT_CONFIG_FILE={clouds}
  export OS_CLOUD=xloud-admin
  {venv}/openstack server adjust show $SERVER_ID
  {venv}/openstack server adjust $SERVER_ID --vcpus 2 --memory 2048 --wait
  {venv}/openstack server event list $SERVER_ID

'''.format(clouds=sb.path('clouds.yaml'), venv=venv)


def keep_dashboard(sb):
    """Horizon's URL and its logins (the passwords are drawn at each
    start, as clouds.yaml's).
    """
    if sb.horizon is None:
        return ''
    users = '\n'.join(
        '  %-13s %s   (%s of %s)' % (
            sandbox_keystone.user_name(who), sb.keystone.passwords[who],
            role, project)
        for who, (project, role) in sorted(sandbox_keystone.USERS.items()))
    return '''Horizon with our plugin (Project > Instances: "Adjust resources";
Admin > Flavors: "Minimum resources"): {url}
Logins (user, password):
{users}
The member adjusts only under doc/self-service-policy.yaml, written into
{policy} (nova-api and Horizon read it).

'''.format(url=sb.horizon.url, users=users,
           policy=sb.path('etc', 'nova-policy.yaml'))


def fail(sb, exc):
    if sb is None:
        step = 'choosing the hypervisor'
    else:
        step = Step.current or 'sandbox start-up (%s)' % sb.current_step
    print('\nDEMO FAILED at step: %s\n%s: %s' % (
        step, type(exc).__name__, exc),
        file=sys.stderr)
    if not isinstance(exc, (processes.SandboxError,
                            sandbox_client.StepFailed)):
        traceback.print_exc()
    if sb is not None and sb.procs:
        names = list(LOG_TAILS)
        if sb.multi:
            names.remove('nova-compute')
            names[3:3] = [c.name for c in sb.computes]
        for name in names:
            path = sb.path('logs', '%s.log' % name)
            if os.path.exists(path):
                print('\n--- %s: last errors and tail:\n%s' % (
                    path, processes.error_tail(path)), file=sys.stderr)
    sys.stderr.flush()


def parser():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--keep', action='store_true',
                   help='stay up after the demo, until Ctrl-C')
    p.add_argument('--hypervisor', default='auto',
                   choices=xloud_sandbox.MODES,
                   help='what runs under nova-compute: qemu (real libvirtd '
                   '+ QEMU TCG), fake (a stand-in), auto (qemu where this '
                   'machine can, else fake; the default)')
    p.add_argument('--computes', type=int, default=1, metavar='N',
                   help='N nova-compute hosts (compute1..N) of one cloud, '
                   'each with its own hypervisor; with 2 or more the demo '
                   'also live-migrates the adjusted server to another host '
                   '(default 1)')
    p.add_argument('--no-dashboard', dest='dashboard', action='store_false',
                   help='do not start Horizon with our plugin (started by '
                   'default with keystone auth; --keep prints its URL and '
                   'logins)')
    p.add_argument('--run-dir', default=xloud_sandbox.DEFAULT_RUN_DIR)
    p.add_argument('--auth', default='keystone',
                   choices=xloud_sandbox.AUTH_MODES,
                   help='keystone (real keystone, authtoken; the default) '
                   'or headers (NO keystone: nova-api trusts X-Roles '
                   'headers, a stand-in kept for comparison)')
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    code = 0
    sb = None
    try:
        hyper, why = xloud_sandbox.choose(args.hypervisor)
        print('Hypervisor: %s (%s)\n  %s' % (hyper.name, why,
                                             hyper.description), flush=True)
        dashboard = args.dashboard and args.auth == 'keystone'
        if dashboard and importlib.util.find_spec(
                'openstack_dashboard') is None:
            print('Horizon: not installed for this series (see '
                  'sandbox/horizon-<series>.txt): the demo runs without '
                  'it', flush=True)
            dashboard = False
        sb = xloud_sandbox.Sandbox(
            args.run_dir, hyper, auth=args.auth, computes=args.computes,
            dashboard=dashboard)
        print('Starting the sandbox in %s' % sb.run_dir, flush=True)
        sb.start()
        banner(sb)
        res = run(sb)
        prof = PROFILES[hyper.name]
        guest = (', and so does the guest itself' if hyper.name == 'qemu'
                 else '')
        moved = ''
        if 'migration' in res:
            moved = (', then live-migrated from %s to %s keeping them' % (
                res['migration']['source'], res['migration']['dest']))
        print('\nDEMO OK (%s hypervisor%s): booted at (%d vCPU, %d MiB) of '
              'a %d / %d flavor, adjusted live to (%d, %d)%s; XML, GET and '
              'placement agree%s.' % (
                  (hyper.name, ', %d computes' % args.computes
                   if args.computes > 1 else '') + prof.min +
                  (prof.flavor['vcpus'], prof.flavor['ram']) +
                  res['target'] + (moved, guest)))
        banner(sb)
        if args.keep:
            keep_up(sb, res['server_id'])
    except KeyboardInterrupt:
        print('\ninterrupted', file=sys.stderr)
        code = 0 if args.keep and Step.current is None else 130
    except (processes.SandboxError, sandbox_client.StepFailed,
            Exception) as e:
        fail(sb, e)
        code = 1
    finally:
        left = sb.stop() if sb is not None else []
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
