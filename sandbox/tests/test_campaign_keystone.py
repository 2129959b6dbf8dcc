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

"""The reliability campaign over real HTTP with keystone in front (``tox
-e sandbox``).

The functional campaign (``nova/tests/functional/libvirt/
test_xloud_campaign.py``) runs in Nova's fixtures; this one sends the same
generated bad requests (``xloud_bad_requests``, seeded) to the all-in-one
sandbox: nova-api under gunicorn behind keystonemiddleware's authtoken,
real keystone tokens, MariaDB, RabbitMQ, real placement; the hypervisor is
Nova's fake libvirt (a stand-in). Each request goes as one of the
identities a cloud has: the demo project's admin, member and reader, a
member of another project, no token, a token keystone never issued;
mostly the admin, so that most requests get past the policy to the body
and state checks.

- Bad requests: never a 5xx; a request answered anything but 202 changed
  nothing (the GET, the server's state and task, its instance actions,
  placement's usage and its allocation). After a 202 the adjust is waited
  for and its result becomes the state to keep.
- Concurrency rounds: N simultaneous adjusts with the admin's token answer
  202 or 409; once they ended, the fake guest (its live XML), the GET and
  placement agree and the provider's usage is the sum of its allocations.

Sizes as the functional campaign's: ``XLOUD_CAMPAIGN_CASES`` (default
1000), ``_ROUNDS``, ``_CONCURRENT``, ``_SEED``. The figures (cases,
statuses per identity, violations, time) are printed.
"""

import collections
import functools
import json
import os
import random
import sys
import time
import unittest

from nova.tests.functional.libvirt import xloud_bad_requests

from sandbox import client as sandbox_client
from sandbox import demo
from sandbox import xloud_sandbox

RUN_DIR = os.path.join(xloud_sandbox.REPO, 'build', 'sandbox-campaign')
CASES = int(os.environ.get('XLOUD_CAMPAIGN_CASES', 1000))
ROUNDS = int(os.environ.get('XLOUD_CAMPAIGN_ROUNDS', 3))
CONCURRENT = int(os.environ.get('XLOUD_CAMPAIGN_CONCURRENT', 8))
SEED = int(os.environ.get('XLOUD_CAMPAIGN_SEED', 13))
# who sends a request: None has no token, 'forged' one keystone never issued
WHO = ('admin',) * 6 + ('member', 'reader', 'other', None, 'forged')
FORGED_TOKEN = 'gAAAAABforged-by-the-campaign'
ADJUST_TIMEOUT = 120


class KeystoneCampaignTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        t0 = time.monotonic()
        cls.sb = xloud_sandbox.Sandbox(RUN_DIR)
        cls.sb.start()
        try:
            cls.start_s = time.monotonic() - t0
            cls.admin = sandbox_client.Cloud(cls.sb, user='admin')
            cls.clouds = {who: sandbox_client.Cloud(cls.sb, user=who)
                          for who in set(WHO) - {'forged'}}
            forged = sandbox_client.Cloud(cls.sb, user=None)
            forged.nova_headers['X-Auth-Token'] = FORGED_TOKEN
            cls.clouds['forged'] = forged
            prof = demo.PROFILES['fake']
            flavor = cls.admin.create_flavor('xloud.campaign',
                                             extra_specs=dict(prof.minimum),
                                             **prof.flavor)
            image = cls.admin.upload_image('campaign', b'\0' * 1024)
            server = cls.admin.boot('campaign', image['id'], flavor['id'])
            cls.server_id = cls.admin.wait_server(server['id'],
                                                  'ACTIVE')['id']
            cls.rp = cls.admin.provider()['uuid']
            cls.prof = prof
        except BaseException:
            cls.sb.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        left = cls.sb.stop()
        print('\nkeystone campaign sandbox: start %.1f s' % cls.start_s,
              file=sys.stderr)
        assert not left, 'processes left after stop: %s' % left

    # ---- what must agree, and what a refused request must leave alone
    def state(self):
        server = self.admin.server(self.server_id)
        return {
            'get': self.admin.get_adjust(self.server_id),
            'status': (server['status'], server.get('OS-EXT-STS:task_state')),
            'actions': len(self.admin.actions(self.server_id)),
            'usage': self.admin.usages(self.rp),
            'allocation': self.admin.allocations(self.server_id),
        }

    def wait_adjusts(self):
        """Until every adjust of the server has ended."""
        for act in self.admin.actions(self.server_id):
            if act['action'] == 'xloud_adjust':
                self.admin.wait_action(self.server_id, act['request_id'],
                                       timeout=ADJUST_TIMEOUT, poll=0.1)
        self.admin.wait_server(self.server_id, 'ACTIVE',
                               timeout=ADJUST_TIMEOUT)

    def assert_invariants(self):
        """Guest = GET = placement; provider usage = its allocations."""
        _, xml = self.sb.hyper.domain_xml(self.sb, self.server_id, 'live')
        vcpus, _, kib, _ = demo.xml_current(xml)
        got = self.admin.get_adjust(self.server_id)
        held = self.admin.allocations(self.server_id)[self.rp]['resources']
        self.assertEqual((vcpus, kib // 1024),
                         (got['vcpus']['current'],
                          got['memory_mb']['current']))
        self.assertEqual((vcpus, kib // 1024),
                         (held['VCPU'], held['MEMORY_MB']))
        total = collections.Counter()
        allocs = self.admin.placement(
            'GET', '/resource_providers/%s/allocations' % self.rp,
            200).json()['allocations']
        for alloc in allocs.values():
            total.update(alloc['resources'])
        usage = self.admin.usages(self.rp)
        self.assertEqual(dict(total), {k: v for k, v in usage.items()
                                       if v or k in total})

    # ---- the campaign
    def test_bad_requests(self):
        rng = random.Random(SEED)
        statuses = collections.Counter()
        per_who = collections.defaultdict(collections.Counter)
        violations = []
        before = self.state()
        started = time.monotonic()
        for case in range(CASES):
            method, path, body, content_type, text = (
                xloud_bad_requests.bad_request(rng, self.server_id))
            who = rng.choice(WHO)
            resp = self.clouds[who].nova(
                method, path, data=body,
                headers={'Content-Type': content_type})
            status = resp.status_code
            statuses[status] += 1
            per_who[who or 'no token'][status] += 1
            if status >= 500:
                violations.append('case %d: %d as %s for %s: %s' % (
                    case, status, who, text, resp.text[:300]))
            if status == 202:
                self.wait_adjusts()
                before = self.state()
                continue
            after = self.state()
            if after != before:
                violations.append('case %d: %d as %s for %s changed %s -> '
                                  '%s' % (case, status, who, text,
                                          json.dumps(before),
                                          json.dumps(after)))
                before = after
        elapsed = time.monotonic() - started
        print('\nkeystone campaign, bad requests (seed %d): %d cases in '
              '%.1f s; statuses %s; per identity %s; violations %d' % (
                  SEED, CASES, elapsed, dict(sorted(statuses.items())),
                  {k: dict(sorted(v.items()))
                   for k, v in sorted(per_who.items())},
                  len(violations)), file=sys.stderr)
        self.assertEqual([], violations[:20], '%d violations' %
                         len(violations))
        self.assertEqual(CASES, sum(statuses.values()))
        # who may not adjust never started one
        for who in ('reader', 'other', 'no token', 'forged'):
            self.assertNotIn(202, per_who[who], (who, per_who[who]))
        self.assert_invariants()

    def test_concurrent_adjusts(self):
        rng = random.Random(SEED)
        statuses = collections.Counter()
        (max_vcpus, max_mb), (min_vcpus, min_mb) = (
            (self.prof.flavor['vcpus'], self.prof.flavor['ram']),
            self.prof.min)
        path = '/servers/%s/os-xloud-adjust' % self.server_id
        for round_ in range(ROUNDS):
            # one session each: a requests.Session is not for threads
            clouds = [sandbox_client.Cloud(self.sb, user='admin')
                      for _ in range(CONCURRENT)]
            bodies = [{'current_vcpus': rng.randint(min_vcpus, max_vcpus),
                       'current_memory_mb': rng.randrange(
                           min_mb, max_mb + 1, 1024)} for _ in clouds]
            answers = [r.status_code for r in xloud_bad_requests.at_once([
                functools.partial(cloud.nova, 'POST', path, json=body)
                for cloud, body in zip(clouds, bodies)])]
            statuses.update(answers)
            self.assertEqual(CONCURRENT, len(answers))
            self.assertEqual(set(), set(answers) - {202, 409},
                             'round %d: %s' % (round_, answers))
            self.wait_adjusts()
            self.assert_invariants()
        print('\nkeystone campaign, concurrency: %d rounds of %d: %s' % (
            ROUNDS, CONCURRENT, dict(sorted(statuses.items()))),
            file=sys.stderr)


if __name__ == '__main__':
    unittest.main()
