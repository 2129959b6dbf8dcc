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

"""Real keystone, the policy matrix and the CLI, on the real sandbox.

One sandbox (real keystone under gunicorn, fernet tokens; hypervisor:
Nova's fake libvirt, a stand-in) with one server of the demo project.

- The policy matrix: admin, member and reader of the demo project, a
  member of another project and no token at all, for GET and POST
  os-xloud-adjust, under Nova's default rules and under the self-service
  rules of doc/self-service-policy.yaml. Each cell asserts the status; a
  refused POST must have changed nothing (GET values, instance actions,
  placement usage), an accepted one must have adjusted the server.
  The dry run has its row: the same answers as the POST, 200 with
  ``fits`` where the POST would be accepted, and never a change.
- The CLI: the real ``openstack`` with our plugin (osc/), on the
  clouds.yaml the sandbox wrote, with keystone tokens; as a member under
  the self-service rules, up to the project's ``cores`` quota and one
  step past it (usage counted from placement:
  ``[quota]count_usage_from_placement``), the dry run saying so first.
- The versioned notifications a billing system reads from RabbitMQ
  (``sandbox/notifications.py``): ``instance.xloud_adjust.start`` and
  ``.end`` of a successful adjust, ``.start`` and ``.error`` of one the
  guest did not follow (a fake guest that keeps its memory), with what the
  guest ran before and after.
- The SDK extension (sdk/, ``xloud_sdk``) on an openstacksdk connection
  of the same clouds.yaml, as a member under the self-service rules, and
  the Ansible example (sdk/examples/ansible) run by the real
  ``ansible-playbook``: its check mode (the dry run), its adjust, and a
  second run that changes nothing.
"""

import json
import os
import subprocess
import sys
import time
import unittest

from sandbox import client as sandbox_client
from sandbox import configs
from sandbox import demo
from sandbox import notifications
from sandbox import processes
from sandbox import xloud_sandbox

RUN_DIR = os.path.join(xloud_sandbox.REPO, 'build', 'sandbox-keystone')
SELF_SERVICE = os.path.join(xloud_sandbox.REPO, 'doc',
                            'self-service-policy.yaml')
WHO = ('admin', 'member', 'reader', 'other', None)
# quotas counted from placement, so that an increase can go over one; a
# guest that keeps its memory fails its shrink in 5 s, not 30
NOVA_OVERRIDES = {'quota': {'count_usage_from_placement': 'True'},
                  'xloud': {'memory_release_timeout': 5}}
ADJUST = 'instance.xloud_adjust.'


def openstack(sb, cloud, *argv):
    """The real openstack CLI of the venv on the sandbox's clouds.yaml."""
    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=sb.path('clouds.yaml'),
               OS_CLOUD='xloud-%s' % cloud)
    return subprocess.run(
        [processes.venv_bin('openstack')] + list(argv), env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=300)


class KeystoneSandboxTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.timings = {}
        t0 = time.monotonic()
        cls.sb = xloud_sandbox.Sandbox(RUN_DIR,
                                       nova_overrides=NOVA_OVERRIDES)
        cls.sb.start()
        try:
            cls.timings['start'] = time.monotonic() - t0
            cls.admin = sandbox_client.Cloud(cls.sb, user='admin')
            cls.clouds = {who: sandbox_client.Cloud(cls.sb, user=who)
                          for who in WHO}
            prof = demo.PROFILES['fake']
            flavor = cls.admin.create_flavor('xloud.ks', extra_specs=dict(
                prof.minimum), **prof.flavor)
            image = cls.admin.upload_image('ks', b'\0' * 1024)
            server = cls.admin.boot('ks', image['id'], flavor['id'])
            cls.server_id = cls.admin.wait_server(server['id'],
                                                  'ACTIVE')['id']
            cls.rp = cls.admin.provider()['uuid']
            cls.flavor = prof.flavor
            cls.minimum = prof.min
        except BaseException:
            cls.sb.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.set_policy(None)
        left = cls.sb.stop()
        print('\nkeystone sandbox timings: %s' % ', '.join(
            '%s %.1f s' % kv for kv in sorted(cls.timings.items())),
            file=sys.stderr)
        assert not left, 'processes left after stop: %s' % left

    # ---- helpers
    @classmethod
    def set_policy(cls, path):
        configs.set_nova_policy(cls.sb, path)

    def state(self):
        """What a refused request must leave as it was."""
        return {
            'get': self.admin.get_adjust(self.server_id),
            'actions': sorted(a['request_id'] for a in
                              self.admin.actions(self.server_id)),
            'usage': self.admin.usages(self.rp),
            'allocation': self.admin.allocations(self.server_id),
        }

    def get_cell(self, who, expect):
        before = self.state()
        resp = self.clouds[who].nova('GET', '/servers/%s/os-xloud-adjust'
                                     % self.server_id)
        self.assertEqual(expect, resp.status_code,
                         'GET as %s: %s' % (who, resp.text[:300]))
        if expect == 200:
            self.assertEqual(before['get'], resp.json())
        self.assertEqual(before, self.state(), 'GET as %s changed' % who)

    def post_cell(self, who, expect):
        before = self.state()
        cur = before['get']['vcpus']['current']
        want = self.minimum[0] if cur != self.minimum[0] else \
            self.flavor['vcpus']
        resp = self.clouds[who].nova(
            'POST', '/servers/%s/os-xloud-adjust' % self.server_id,
            json={'current_vcpus': want, 'persist': True})
        self.assertEqual(expect, resp.status_code,
                         'POST as %s: %s' % (who, resp.text[:300]))
        if expect != 202:
            self.assertEqual(before, self.state(),
                             'a refused POST as %s changed something' % who)
            return
        req = resp.headers['x-openstack-request-id']
        act = self.admin.wait_action(self.server_id, req)
        self.assertEqual(['Success'], [e['result'] for e in act['events']])
        after = self.state()
        self.assertEqual(want, after['get']['vcpus']['current'])
        self.assertEqual(want, after['allocation'][self.rp]['resources'][
            'VCPU'])
        self.assertEqual(sorted(before['actions'] + [req]),
                         after['actions'])

    def dry_cell(self, who, expect):
        """A dry run answers as its POST would (200 for 202) and changes
        nothing, allowed or not.
        """
        before = self.state()
        resp = self.clouds[who].nova(
            'POST', '/servers/%s/os-xloud-adjust' % self.server_id,
            json={'current_vcpus': self.flavor['vcpus'], 'dry_run': True})
        self.assertEqual(expect, resp.status_code,
                         'dry run as %s: %s' % (who, resp.text[:300]))
        if expect == 200:
            self.assertEqual({'fits': True}, resp.json())
        self.assertEqual(before, self.state(), 'a dry run as %s changed '
                         'something' % who)

    def matrix(self, policy, get, post):
        t0 = time.monotonic()
        self.set_policy(policy)
        for who in WHO:
            with self.subTest(method='GET', who=who):
                self.get_cell(who, get[who])
        for who in WHO:
            with self.subTest(method='dry run', who=who):
                self.dry_cell(who, 200 if post[who] == 202 else post[who])
        for who in WHO:
            with self.subTest(method='POST', who=who):
                self.post_cell(who, post[who])
        self.timings['matrix %s' % ('self-service' if policy else
                                    'default')] = time.monotonic() - t0

    # ---- the policy matrix
    def test_1_policy_defaults(self):
        self.matrix(None,
                    get={'admin': 200, 'member': 403, 'reader': 403,
                         'other': 404, None: 401},
                    post={'admin': 202, 'member': 403, 'reader': 403,
                          'other': 404, None: 401})

    def test_2_policy_self_service(self):
        self.matrix(SELF_SERVICE,
                    get={'admin': 200, 'member': 200, 'reader': 200,
                         'other': 404, None: 401},
                    post={'admin': 202, 'member': 202, 'reader': 403,
                          'other': 404, None: 401})

    # ---- keystone itself
    def test_keystone_tokens_and_catalog(self):
        tok = self.clouds['member'].token
        resp = self.admin.http.get(
            self.sb.keystone.url + '/v3/auth/tokens',
            headers={'X-Auth-Token': self.admin.token,
                     'X-Subject-Token': tok}, timeout=30)
        self.assertEqual(200, resp.status_code)
        token = resp.json()['token']
        self.assertEqual(['member', 'reader'],
                         sorted(r['name'] for r in token['roles']))
        self.assertEqual('xloud-demo', token['project']['name'])
        types = {s['type']: s['endpoints'][0]['url']
                 for s in token['catalog']}
        self.assertEqual(self.sb.nova_url, types['compute'])
        self.assertEqual(self.sb.placement_url, types['placement'])
        self.assertEqual(self.sb.glance_url, types['image'])
        # a made-up token is refused by nova, placement and glance
        for url in (self.sb.nova_url + '/servers',
                    self.sb.placement_url + '/resource_providers',
                    self.sb.glance_url + '/v2/images'):
            with self.subTest(url=url):
                self.assertEqual(401, self.admin.http.get(
                    url, headers={'X-Auth-Token': 'admin:admin'},
                    timeout=30).status_code)

    # ---- the CLI
    def test_cli_show_adjust_wait_and_dry_run(self):
        t0 = time.monotonic()
        self.set_policy(SELF_SERVICE)
        # a member adjusts its own server with the CLI (self-service)
        show = openstack(self.sb, 'member', 'server', 'adjust', 'show',
                         self.server_id, '-f', 'json')
        self.assertEqual(0, show.returncode, show.stderr)
        shown = json.loads(show.stdout)
        self.assertEqual(self.admin.get_adjust(self.server_id), shown)
        want = self.minimum[0] + 1
        mem = self.minimum[1] + 256
        run = openstack(self.sb, 'member', 'server', 'adjust',
                        self.server_id, '--vcpus', str(want), '--memory',
                        str(mem), '--wait', '-f', 'json')
        self.assertEqual(0, run.returncode, run.stderr)
        out = json.loads(run.stdout)
        self.assertEqual('done', out['status'])
        self.assertEqual(want, out['vcpus']['current'])
        self.assertEqual(mem, out['memory_mb']['current'])
        self.assertIn('compute_xloud_adjust Success', run.stderr)
        act = self.admin.action(self.server_id, out['request_id'])
        self.assertEqual('xloud_adjust', act['action'])
        alloc = self.admin.allocations(self.server_id)[self.rp]['resources']
        self.assertEqual((want, mem), (alloc['VCPU'], alloc['MEMORY_MB']))
        # a reader may look, not adjust: the CLI exits 1 with nova's word
        before = self.state()
        run = openstack(self.sb, 'reader', 'server', 'adjust',
                        self.server_id, '--vcpus', str(self.minimum[0]))
        self.assertEqual(1, run.returncode, run.stdout)
        self.assertIn('HTTP 403', run.stderr)
        self.assertEqual(before, self.state())
        # --dry-run checks, answers, changes nothing
        run = openstack(self.sb, 'admin', 'server', 'adjust',
                        self.server_id, '--vcpus', str(self.minimum[0]),
                        '--dry-run', '-f', 'json')
        self.assertEqual(0, run.returncode, run.stderr)
        out = json.loads(run.stdout)
        self.assertIs(True, out['dry_run'])
        self.assertEqual({'fits': True}, out['result'])
        self.assertEqual(before, self.state())
        self.timings['cli'] = time.monotonic() - t0

    # ---- the SDK extension and the Ansible example
    def test_sdk_and_ansible_as_a_member(self):
        import openstack
        import xloud_sdk

        t0 = time.monotonic()
        self.set_policy(SELF_SERVICE)
        self.adjust_and_wait(current_vcpus=self.minimum[0],
                             current_memory_mb=self.minimum[1])
        os.environ['OS_CLIENT_CONFIG_FILE'] = self.sb.path('clouds.yaml')
        adj = xloud_sdk.Adjust(openstack.connect(cloud='xloud-member'))
        self.assertEqual(self.admin.get_adjust(self.server_id),
                         adj.show(self.server_id))
        want = self.minimum[0] + 1
        self.assertEqual({'fits': True}, adj.check(self.server_id,
                                                   vcpus=want))
        request_id = adj.adjust(self.server_id, vcpus=want)
        action = adj.wait(self.server_id, request_id, timeout=120)
        self.assertEqual('xloud_adjust', action['action'])
        self.assertEqual(want, self.admin.get_adjust(self.server_id)[
            'vcpus']['current'])
        # out of range: Nova's 400 and its message, through the SDK
        with self.assertRaises(xloud_sdk.AdjustError) as e:
            adj.adjust(self.server_id, vcpus=self.flavor['vcpus'] + 1)
        self.assertEqual(400, e.exception.status_code)
        # the Ansible example: the playbook's dry run and adjust, then
        # again: nothing to change
        book = os.path.join(xloud_sandbox.REPO, 'sdk', 'examples',
                            'ansible', 'adjust.yml')
        mem = self.minimum[1] + 256

        def playbook():
            run = subprocess.run(
                [processes.venv_bin('ansible-playbook'), '-i', 'localhost,',
                 '-c', 'local', book, '-e', 'cloud=xloud-member',
                 '-e', 'server=%s' % self.server_id, '-e',
                 'memory_mb=%d' % mem, '-e',
                 'ansible_python_interpreter=%s' % sys.executable],
                env=dict(os.environ, ANSIBLE_NOCOLOR='1',
                         ANSIBLE_LOCAL_TEMP=self.sb.path('ansible-tmp'),
                         ANSIBLE_HOME=self.sb.path('ansible-home')),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                universal_newlines=True, timeout=300)
            self.assertEqual(0, run.returncode, run.stdout)
            return run.stdout

        out = playbook()
        # the dry run's task reports the change it would make, then the
        # adjust's
        self.assertIn('changed=2', out)
        self.assertIn('%d MiB' % mem, out)
        self.assertEqual(mem, self.admin.get_adjust(self.server_id)[
            'memory_mb']['current'])
        alloc = self.admin.allocations(self.server_id)[self.rp]['resources']
        self.assertEqual((want, mem), (alloc['VCPU'], alloc['MEMORY_MB']))
        self.assertIn('changed=0', playbook())
        self.timings['sdk+ansible'] = time.monotonic() - t0

    def adjust_and_wait(self, **body):
        resp = self.admin.nova(
            'POST', '/servers/%s/os-xloud-adjust' % self.server_id, 202,
            json=body)
        req = resp.headers['x-openstack-request-id']
        return req, self.admin.wait_action(self.server_id, req)

    def test_cli_quota_up_to_and_past(self):
        t0 = time.monotonic()
        self.set_policy(SELF_SERVICE)
        self.adjust_and_wait(current_vcpus=self.minimum[0])
        project = self.sb.keystone.project_id('member')
        quota = self.minimum[0] + 2
        self.assertLess(quota, self.flavor['vcpus'])
        self.admin.nova('PUT', '/os-quota-sets/%s' % project, 200,
                        json={'quota_set': {'cores': quota}})
        try:
            def dry(vcpus):
                run = openstack(self.sb, 'member', 'server', 'adjust',
                                self.server_id, '--vcpus', str(vcpus),
                                '--dry-run', '-f', 'json')
                self.assertEqual(0, run.returncode, run.stderr)
                return json.loads(run.stdout)['result']

            # up to the quota: the dry run says it fits, the adjust does it
            self.assertEqual({'fits': True}, dry(quota))
            run = openstack(self.sb, 'member', 'server', 'adjust',
                            self.server_id, '--vcpus', str(quota), '--wait',
                            '-f', 'json')
            self.assertEqual(0, run.returncode, run.stderr)
            self.assertEqual(quota, json.loads(run.stdout)['vcpus'][
                'current'])
            # one step past it: the dry run says what is short, the adjust
            # is refused with Nova's message, and nothing changed
            before = self.state()
            past = dry(quota + 1)
            self.assertIs(False, past['fits'], past)
            self.assertIn('cores', past['reason'])
            run = openstack(self.sb, 'member', 'server', 'adjust',
                            self.server_id, '--vcpus', str(quota + 1))
            self.assertEqual(1, run.returncode, run.stdout)
            self.assertIn('HTTP 403', run.stderr)
            self.assertIn('Quota exceeded for cores', run.stderr)
            self.assertEqual(before, self.state())
        finally:
            self.admin.nova('DELETE', '/os-quota-sets/%s' % project, 202)
        self.timings['quota'] = time.monotonic() - t0

    def test_notifications_for_billing(self):
        t0 = time.monotonic()
        keep = self.sb.path('domains', '%s.keep-memory' % self.server_id)
        low, high = self.minimum[1], self.minimum[1] + 1024
        self.adjust_and_wait(current_memory_mb=low)
        before = self.admin.get_adjust(self.server_id)
        with notifications.Listener(self.sb) as notes:
            # a success: start and end, what ran before and after
            ok, act = self.adjust_and_wait(current_vcpus=2,
                                           current_memory_mb=high)
            self.assertEqual(['Success'],
                             [e['result'] for e in act['events']])
            got = notes.wait_for(ok, {ADJUST + 'start', ADJUST + 'end'})
            # a guest that keeps its memory: the shrink ends in error
            with open(keep, 'w'):
                pass
            try:
                bad, act = self.adjust_and_wait(current_memory_mb=low)
            finally:
                os.remove(keep)
            self.assertEqual(['Error'], [e['result'] for e in act['events']])
            failed = notes.wait_for(bad, {ADJUST + 'start',
                                          ADJUST + 'error'})
        end = [n for n in got if n.event_type == ADJUST + 'end'][0]
        self.assertEqual('XloudAdjustPayload',
                         end.payload['nova_object.name'])
        self.assertEqual(
            (before['vcpus']['current'], 2, low, high, True,
             self.server_id),
            tuple(end.data[k] for k in ('old_vcpus', 'new_vcpus',
                                        'old_memory_mb', 'new_memory_mb',
                                        'persist', 'uuid')))
        error = [n for n in failed if n.event_type == ADJUST + 'error'][0]
        self.assertEqual('error', error.priority)
        # the guest kept its memory: before = after, and the fault says why
        self.assertEqual((high, high), (error.data['old_memory_mb'],
                                        error.data['new_memory_mb']))
        self.assertIsNotNone(error.data['fault'])
        self.assertEqual(high, self.admin.get_adjust(self.server_id)[
            'memory_mb']['current'])
        self.timings['notifications'] = time.monotonic() - t0


if __name__ == '__main__':
    unittest.main()
