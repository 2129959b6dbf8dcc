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

"""A rolling upgrade: one compute still runs upstream Nova.

``tox -e sandbox -- sandbox.tests.test_rolling_upgrade``: one cloud of two
nova-computes; compute1 runs XLoud Nova, compute2 pristine upstream Nova of
the same release (the same pinned sdist, without our overlay and patches:
``xloud_sandbox.pristine_tree()``), as during a rolling upgrade where the
controllers and some computes are upgraded first. Hypervisor: Nova's fake
libvirt (a STAND-IN) under both. Through nova-api with keystone tokens of
xloud-admin, in this order (one scenario, each step's result checked by a
test):

1. compute2's provider has no ``CUSTOM_XLOUD_*`` trait (upstream never
   reports one); compute1's has both.
2. Servers of a minimum flavor are scheduled to compute1 only (three
   booted); one forced onto compute2 ends in ERROR with NoValidHost (a
   pristine compute would boot it at its full size while placement holds
   its minimum); a plain flavor forced onto compute2 boots there.
3. An adjust (and its dry run) of the plain server on compute2 answers 409
   at once naming the reason; a live migration of a minimum server forced
   onto compute2 fails and leaves it on compute1, at its values.
4. compute2 is upgraded in place: its process stopped and started again on
   the patched files (as ``upgrade/deploy_to_containers.sh`` does to a
   container). Its plain server is still ACTIVE; its provider reports the
   traits; a minimum server forced onto it boots, and its adjust works.
"""

import os
import time
import unittest

from sandbox import client as sandbox_client
from sandbox.tests import test_demo
from sandbox import xloud_sandbox

RUN_DIR = os.path.join(xloud_sandbox.REPO, 'build', 'sandbox-rolling')
FLAVOR = {'vcpus': 4, 'ram': 4096, 'disk': 1}
MINIMUM = {'minimum_cpu': '1', 'minimum_memory': '1024'}
TRAITS = ('CUSTOM_XLOUD_LIVE_ADJUST', 'CUSTOM_XLOUD_RPC_1_0')
TIMEOUT = 120


class RollingUpgradeTest(unittest.TestCase):

    res = {}

    @classmethod
    def setUpClass(cls):
        t0 = time.monotonic()
        # Nova counts a flavor's 4 vCPUs against the cores quota (20 by
        # default), minimum or not, and a server in ERROR too
        cls.sb = xloud_sandbox.Sandbox(
            RUN_DIR, computes=2, pristine=('compute2',),
            nova_overrides={'quota': {'cores': 200, 'ram': 512 * 1024,
                                      'instances': 50}})
        cls.sb.start()
        try:
            cls.res['start_s'] = time.monotonic() - t0
            cls.api = sandbox_client.Cloud(cls.sb, user='admin', timeout=60)
            cls.scenario(cls.api, cls.sb, cls.res)
        except BaseException as e:
            cls.res['error'] = '%s: %s' % (type(e).__name__, e)
        finally:
            cls.sb.stop()

    def setUp(self):
        if 'error' in self.res:
            self.fail('the scenario stopped: %s' % self.res['error'])

    @classmethod
    def traits(cls, api, host):
        rp = api.host_provider(host)['uuid']
        return set(api.placement(
            'GET', '/resource_providers/%s/traits' % rp, 200,
            headers={'OpenStack-API-Version': 'placement 1.6'}).json()[
            'traits'])

    @classmethod
    def boot(cls, api, name, flavor, image, host=None, status='ACTIVE'):
        body = {'server': {'name': name, 'imageRef': image['id'],
                           'flavorRef': flavor['id'], 'networks': 'none'}}
        if host:
            body['server']['availability_zone'] = 'nova:%s' % host
        server = api.nova('POST', '/servers', 202, json=body,
                          headers={'X-OpenStack-Nova-API-Version': '2.37'}
                          ).json()['server']
        return api.wait_server(server['id'], status, timeout=TIMEOUT)

    @classmethod
    def scenario(cls, api, sb, res):
        flavor = api.create_flavor('xloud.ru', extra_specs=dict(MINIMUM),
                                   **FLAVOR)
        plain = api.create_flavor('xloud.ru.plain', **FLAVOR)
        image = api.upload_image('ru', os.urandom(64 * 1024))
        with open(sb.compute('compute2').log_path) as f:
            res['pristine_log'] = f.read()

        # 1. the traits
        res['traits'] = {h: cls.traits(api, h) for h in ('compute1',
                                                         'compute2')}
        # 2. scheduling
        res['min_hosts'] = [cls.boot(api, 'ru-min%d' % i, flavor, image)[
            'OS-EXT-SRV-ATTR:host'] for i in range(3)]
        forced = cls.boot(api, 'ru-forced', flavor, image, host='compute2',
                          status='ERROR')
        res['forced_fault'] = forced.get('fault', {}).get('message')
        res['plain'] = cls.boot(api, 'ru-plain', plain, image,
                                host='compute2')
        # 3. the adjust and a live migration onto compute2
        pid = res['plain']['id']
        t0 = time.monotonic()
        resp = api.nova('POST', '/servers/%s/os-xloud-adjust' % pid,
                        json={'current_vcpus': 4})
        res['adjust'] = (resp.status_code, resp.text,
                         (time.monotonic() - t0) * 1000)
        resp = api.nova('POST', '/servers/%s/os-xloud-adjust' % pid,
                        json={'current_vcpus': 4, 'dry_run': True})
        res['dry_run'] = (resp.status_code, resp.text)
        mover = api.nova('GET', '/servers/detail?name=ru-min0', 200).json()[
            'servers'][0]
        res['mover'] = mover['id']
        res['mover_before'] = api.get_adjust(mover['id'])
        api.nova('POST', '/servers/%s/action' % mover['id'], 202,
                 json={'os-migrateLive': {'host': 'compute2',
                                          'block_migration': 'auto'}},
                 headers={'X-OpenStack-Nova-API-Version': '2.68'})
        res['mover_migration'] = cls.wait_failed_migration(api, mover['id'])
        res['mover_after'] = api.wait_server(mover['id'], 'ACTIVE',
                                             timeout=TIMEOUT)
        res['mover_adjust'] = api.get_adjust(mover['id'])

        # 4. compute2 upgraded in place
        c2 = sb.compute('compute2')
        t0 = time.monotonic()
        sb.stop_compute(c2)
        c2.pristine = False
        sb.start_compute(c2)
        sb.wait_computes([c2], timeout=TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        while not set(TRAITS) <= cls.traits(api, 'compute2'):
            if time.monotonic() > deadline:
                raise sandbox_client.StepFailed(
                    'compute2 reports no XLoud traits %d s after its '
                    'upgrade' % TIMEOUT)
            time.sleep(1)
        res['upgrade_s'] = time.monotonic() - t0
        res['traits_after'] = cls.traits(api, 'compute2')
        res['plain_after'] = api.server(pid)
        upgraded = cls.boot(api, 'ru-upgraded', flavor, image,
                            host='compute2')
        res['upgraded'] = upgraded
        request_id = api.adjust(upgraded['id'], 3, 3072)
        res['upgraded_action'] = api.wait_action(upgraded['id'], request_id,
                                                 timeout=TIMEOUT)
        res['upgraded_adjust'] = api.get_adjust(upgraded['id'])
        print('\n   rolling upgrade: adjust on the pristine compute '
              'answered %d in %.0f ms; compute2 upgraded in place and '
              'reporting its traits in %.1f s' % (
                  res['adjust'][0], res['adjust'][2], res['upgrade_s']),
              flush=True)

    @staticmethod
    def wait_failed_migration(api, server_id):
        """The live migration's record once it failed (or None if Nova
        refused it before making one), after the server is ACTIVE again.
        """
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            migs = [m for m in api.migrations_all(server_id)
                    if m['migration_type'] == 'live-migration']
            srv = api.server(server_id)
            if srv['status'] == 'ACTIVE' and srv.get(
                    'OS-EXT-STS:task_state') is None and (
                    not migs or migs[-1]['status'] in ('error', 'failed')):
                return migs[-1] if migs else None
            time.sleep(0.5)
        raise sandbox_client.StepFailed('live migration of %s did not end'
                                        % server_id)

    # 0. what runs
    def test_compute2_ran_upstream_nova(self):
        self.assertIn('upstream Nova (pristine', self.res['pristine_log'])

    # 1.
    def test_only_the_patched_compute_reports_the_traits(self):
        self.assertTrue(set(TRAITS) <= self.res['traits']['compute1'])
        self.assertFalse([t for t in self.res['traits']['compute2']
                          if t.startswith('CUSTOM_XLOUD')])

    # 2.
    def test_minimum_servers_only_on_the_patched_compute(self):
        self.assertEqual(['compute1'] * 3, self.res['min_hosts'])
        self.assertIn('No valid host', self.res['forced_fault'])

    def test_plain_servers_still_go_to_the_pristine_compute(self):
        self.assertEqual('compute2',
                         self.res['plain']['OS-EXT-SRV-ATTR:host'])

    # 3.
    def test_adjust_on_the_pristine_compute_409_at_once(self):
        status, text, ms = self.res['adjust']
        self.assertEqual(409, status)
        self.assertIn('predates live adjust', text)
        self.assertLess(ms, 1000)
        status, text = self.res['dry_run']
        self.assertEqual(409, status)
        self.assertIn('predates live adjust', text)

    def test_no_live_migration_onto_the_pristine_compute(self):
        mig = self.res['mover_migration']
        self.assertTrue(mig is None or mig['status'] in ('error', 'failed'),
                        mig)
        self.assertEqual('compute1',
                         self.res['mover_after']['OS-EXT-SRV-ATTR:host'])
        self.assertEqual(self.res['mover_before'], self.res['mover_adjust'])

    # 4.
    def test_upgraded_in_place_it_adjusts(self):
        self.assertTrue(set(TRAITS) <= self.res['traits_after'])
        self.assertEqual('ACTIVE', self.res['plain_after']['status'])
        self.assertEqual('compute2',
                         self.res['plain_after']['OS-EXT-SRV-ATTR:host'])
        self.assertEqual('compute2',
                         self.res['upgraded']['OS-EXT-SRV-ATTR:host'])
        self.assertEqual(
            [('compute_xloud_adjust', 'Success')],
            test_demo.own_events(self.res['upgraded_action']['events']))
        got = self.res['upgraded_adjust']
        self.assertEqual((3, 3072), (got['vcpus']['current'],
                                     got['memory_mb']['current']))


if __name__ == '__main__':
    unittest.main()
