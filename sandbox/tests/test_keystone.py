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
- The CLI: the real ``openstack`` with our plugin (osc/), on the
  clouds.yaml the sandbox wrote, with keystone tokens.
"""

import json
import os
import subprocess
import sys
import time
import unittest

from sandbox import client as sandbox_client
from sandbox import demo
from sandbox import xloud_sandbox

RUN_DIR = os.path.join(xloud_sandbox.REPO, 'build', 'sandbox-keystone')
SELF_SERVICE = os.path.join(xloud_sandbox.REPO, 'doc',
                            'self-service-policy.yaml')
WHO = ('admin', 'member', 'reader', 'other', None)


def openstack(sb, cloud, *argv):
    """The real openstack CLI of the venv on the sandbox's clouds.yaml."""
    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=sb.path('clouds.yaml'),
               OS_CLOUD='xloud-%s' % cloud)
    return subprocess.run(
        [xloud_sandbox.venv_bin('openstack')] + list(argv), env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=300)


class KeystoneSandboxTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.timings = {}
        t0 = time.monotonic()
        cls.sb = xloud_sandbox.Sandbox(RUN_DIR)
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
        """Nova's policy file: the defaults (None) or a snippet; oslo.policy
        reloads it on its next check (a new mtime).
        """
        target = cls.sb.path('etc', 'nova-policy.yaml')
        text = '# the defaults\n'
        if path:
            with open(path) as f:
                text = f.read()
        with open(target, 'w') as f:
            f.write(text)
        st = os.stat(target)
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 10 ** 9))

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

    def matrix(self, policy, get, post):
        t0 = time.monotonic()
        self.set_policy(policy)
        for who in WHO:
            with self.subTest(method='GET', who=who):
                self.get_cell(who, get[who])
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
        # --dry-run: until nova knows the key it answers 400, said so
        run = openstack(self.sb, 'admin', 'server', 'adjust',
                        self.server_id, '--vcpus', str(self.minimum[0]),
                        '--dry-run', '-f', 'json')
        if run.returncode == 0:
            self.assertIs(True, json.loads(run.stdout)['dry_run'])
        else:
            self.assertEqual(1, run.returncode)
            self.assertIn('does not support --dry-run', run.stderr)
        self.assertEqual(before, self.state())
        self.timings['cli'] = time.monotonic() - t0


if __name__ == '__main__':
    unittest.main()
