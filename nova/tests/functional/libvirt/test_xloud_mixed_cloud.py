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

"""A cloud in a rolling upgrade: one compute without XLoud.

A pristine compute reports none of the live adjust's traits
(``xloud_traits``). The scheduler must never send it a server of a
minimum-resources flavor (it would boot it at its flavor's full size while
placement holds its minimum): not at a boot, not in a move. Its other
servers are not concerned.

The pristine compute is a stand-in: a patched compute whose provider's
live adjust traits were taken away (no periodic update runs in these
tests to report them again); the sandbox's rolling upgrade runs a real
pristine nova-compute.
"""

from nova.compute import xloud
from nova.compute import xloud_traits
from nova import context
from nova import objects
from nova.tests.functional.libvirt import base
from nova.tests.functional.libvirt import test_vcpu_current


class XloudMixedCloudTest(base.LibvirtMigrationMixin,
                          test_vcpu_current._VcpuCurrentBase):

    # as in a cloud: a move the scheduler refuses ends in its action, the
    # request that started it has its 202
    CAST_AS_CALL = False

    def setUp(self):
        super().setUp()
        self._start('compute1')
        self._start('compute2')
        # compute2 as a compute without XLoud
        rp = self.compute_rp_uuids['compute2']
        self._set_provider_traits(rp, [
            t for t in self._get_provider_traits(rp)
            if t not in (xloud_traits.LIVE_ADJUST, xloud_traits.RPC_1_0)])

    def _host(self, server):
        return self.admin_api.get_server(server['id'])[
            'OS-EXT-SRV-ATTR:host']

    def test_minimum_flavor_servers_go_to_the_xloud_compute(self):
        for _ in range(3):
            server = self._create_server(flavor_id=self.flavor_min,
                                         networks='none')
            self.assertEqual('compute1', self._host(server))

    def test_not_even_when_asked_for(self):
        server = self._create_server(
            flavor_id=self.flavor_min, networks='none', host='compute2',
            expected_state='ERROR')
        self.assertIn('No valid host', server['fault']['message'])

    def test_other_servers_still_go_there(self):
        server = self._create_server(flavor_id=self.flavor_plain,
                                     networks='none', host='compute2')
        self.assertEqual('compute2', self._host(server))

    def test_no_live_migration_to_it(self):
        server = self._create_server(flavor_id=self.flavor_min,
                                     networks='none')
        self.admin_api.post_server_action(server['id'], {'os-migrateLive': {
            'host': 'compute2', 'block_migration': 'auto'}})
        self._wait_for_migration_status(server, ['error'])
        server = self._wait_for_state_change(server, 'ACTIVE')
        self.assertEqual('compute1', self._host(server))
        self.assertIsNone(server['OS-EXT-STS:task_state'])

    def test_no_resize_to_it(self):
        self.flags(allow_resize_to_same_host=False)
        bigger = self._create_flavor(
            name='bigger', vcpu=6, memory_mb=6144, disk=1,
            extra_spec={'minimum_cpu': '1', 'minimum_memory': '1024'})
        server = self._create_server(flavor_id=self.flavor_min,
                                     networks='none')
        self.api.post_server_action(
            server['id'], {'resize': {'flavorRef': bigger}},
            check_response_status=[202])
        event = self._assert_resize_migrate_action_fail(
            server, 'resize', 'NoValidHost')
        self.assertIn('No valid host was found', event['details'])
        self.assertEqual('compute1', self._host(server))
        self.assertEqual((2, 2048), xloud.live(self._instance(server)))

    def _instance(self, server):
        return objects.Instance.get_by_uuid(
            context.get_admin_context(), server['id'],
            expected_attrs=['system_metadata', 'flavor'])
