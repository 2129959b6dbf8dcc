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

"""Minimum-resource flavors, end to end through Nova's services.

The API, conductor, scheduler and compute services run for real with the
libvirt driver; libvirt itself is Nova's fake libvirt (a stand-in, from
nova.tests.fixtures.libvirt) and placement is real (openstack-placement
through Nova's PlacementFixture).
"""

import time

import fixtures
from lxml import etree

from nova.compute import xloud
from nova.compute import xloud_traits
from nova import context as nova_context
from nova import objects
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.fixtures import xloud_libvirt
from nova.tests.functional.api import client
from nova.tests.functional.libvirt import base

MIN_SPECS = {'minimum_cpu': '2', 'minimum_memory': '2048'}


class _VcpuCurrentBase(base.ServersTestBase):

    microversion = 'latest'
    ADMIN_API = True

    def setUp(self):
        super().setUp()
        # the memory cgroup limit every guest of a minimum flavor starts
        # under (setMemoryParameters), with the balloon and vCPU calls
        self.useFixture(xloud_libvirt.FakeLiveGuest())
        self.ctxt = nova_context.get_admin_context()
        # Quotas count the flavor's maximum; room for the density tests.
        self.flags(instances=50, cores=200, ram=512 * 1024, group='quota')
        # The base class reports 16 online host CPUs: make the VCPU
        # inventory the host's own cores.
        self.flags(cpu_shared_set='0-7', group='compute')
        # As upstream's libvirt functional tests do: there is no real disk
        # to measure. (A stand-in for the disk copy of a cold migration.)
        self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.LibvirtDriver.migrate_disk_and_power_off',
            return_value='{}'))
        # The fake libvirt keeps only part of a domain's XML, so record what
        # the driver defines: the XML real libvirt would get, per host.
        self.defined = {}
        real_define = fakelibvirt.Connection.defineXML

        def define_xml(conn, xml):
            dom = real_define(conn, xml)
            self.defined[(conn.hostname, dom.UUIDString())] = xml
            return dom
        self.useFixture(fixtures.MonkeyPatch(
            'nova.tests.fixtures.libvirt.Connection.defineXML', define_xml))
        self.flavor_min = self._create_flavor(
            name='scalable', vcpu=4, memory_mb=4096, disk=1, ephemeral=0,
            extra_spec=MIN_SPECS)
        self.flavor_plain = self._create_flavor(
            name='plain', vcpu=4, memory_mb=4096, disk=1, ephemeral=0)

    def _start(self, hostname='compute1', cores=8):
        return self.start_compute(hostname, host_info=fakelibvirt.HostInfo(
            cpu_nodes=1, cpu_sockets=1, cpu_cores=cores, cpu_threads=1,
            kB_mem=64 * 1024 * 1024))

    def _domain(self, server):
        host = server['OS-EXT-SRV-ATTR:host']
        conn = self.computes[host].driver._host.get_connection()
        # the domain is defined on that host now...
        conn.lookupByUUIDString(server['id'])
        # ...from the XML the driver last gave it there
        return etree.fromstring(self.defined[(host, server['id'])])

    def _xml_values(self, server):
        root = self._domain(server)
        vcpu = root.find('vcpu')
        return {
            'vcpus': int(vcpu.text),
            'current_vcpus': vcpu.get('current'),
            'memory_kib': int(root.find('memory').text),
            'current_memory_kib': (root.find('currentMemory').text
                                   if root.find('currentMemory') is not None
                                   else None),
            'balloon': [b.get('model') for b in
                        root.findall('./devices/memballoon')],
        }

    def _assert_guest_runs(self, server, vcpus, memory_mb):
        """The domain the driver defined runs these current values."""
        values = self._xml_values(server)
        self.assertEqual((str(vcpus), str(memory_mb * 1024)),
                         (values['current_vcpus'],
                          values['current_memory_kib']))

    def _server_on_one_of_two_hosts(self):
        """A server of the minimum flavor running 3/3072, and its hosts."""
        self._start('compute1')
        self._start('compute2')
        server = self._create_server(flavor_id=self.flavor_min,
                                     networks='none')
        source = server['OS-EXT-SRV-ATTR:host']
        dest = 'compute2' if source == 'compute1' else 'compute1'
        self._set_current(server, 3, 3072)
        return server, source, dest

    def _usage(self, hostname):
        return self._get_provider_usages(self.compute_rp_uuids[hostname])

    def _allocation(self, server):
        allocs = self._get_allocations_by_server_uuid(server['id'])
        self.assertEqual(1, len(allocs))
        return list(allocs.values())[0]['resources']

    def _set_current(self, server, vcpus, memory_mb):
        """Stand in for a persisted live adjust: system metadata+placement."""
        instance = objects.Instance.get_by_uuid(
            self.ctxt, server['id'], expected_attrs=['system_metadata',
                                                     'flavor'])
        xloud.set_current(instance, vcpus, memory_mb)
        instance.save()
        allocs = self.placement.get(
            '/allocations/%s' % server['id'], version='1.28').body
        for rp in allocs['allocations'].values():
            rp['resources'].update(VCPU=vcpus, MEMORY_MB=memory_mb)
        allocs['project_id'] = server['tenant_id']
        allocs['user_id'] = server['user_id']
        resp = self.placement.put('/allocations/%s' % server['id'], allocs,
                                  version='1.28')
        self.assertEqual(204, resp.status)


class VcpuCurrentTest(_VcpuCurrentBase):

    def test_boot_at_the_minimum(self):
        self._start()
        server = self._create_server(flavor_id=self.flavor_min,
                                     networks='none')
        self.assertEqual({
            'vcpus': 4, 'current_vcpus': '2',
            'memory_kib': 4096 * 1024, 'current_memory_kib': str(2048 * 1024),
            'balloon': ['virtio'],
        }, self._xml_values(server))
        self.assertEqual({'VCPU': 2, 'MEMORY_MB': 2048, 'DISK_GB': 1},
                         self._allocation(server))
        self.assertEqual({'VCPU': 2, 'MEMORY_MB': 2048, 'DISK_GB': 1},
                         self._usage('compute1'))
        sysmeta = objects.Instance.get_by_uuid(
            self.ctxt, server['id'],
            expected_attrs=['system_metadata']).system_metadata
        self.assertEqual('2', sysmeta[xloud.SYSMETA_VCPUS])
        self.assertEqual('2048', sysmeta[xloud.SYSMETA_MEMORY_MB])

    def test_flavor_without_specs_is_upstream(self):
        self._start()
        server = self._create_server(flavor_id=self.flavor_plain,
                                     networks='none')
        values = self._xml_values(server)
        self.assertIsNone(values['current_vcpus'])
        self.assertEqual(4, values['vcpus'])
        self.assertIn(values['current_memory_kib'], (None, str(4096 * 1024)))
        self.assertEqual({'VCPU': 4, 'MEMORY_MB': 4096, 'DISK_GB': 1},
                         self._allocation(server))

    def _fill(self, flavor_id, limit):
        """Boot servers until the scheduler refuses one; return how many fit.

        Each server is waited for before the next is posted, so the answer
        does not depend on how fast the compute service claims.
        """
        for booted in range(limit):
            body = self._build_server(name='s%d' % booted,
                                      flavor_id=flavor_id, networks='none')
            server = self.api.post_server({'server': body})
            for _ in range(100):
                server = self.api.get_server(server['id'])
                if server['status'] in ('ACTIVE', 'ERROR'):
                    break
                time.sleep(0.1)
            if server['status'] != 'ACTIVE':
                self.assertIn('No valid host', server['fault']['message'])
                return booted
        return limit

    def test_density_with_cpu_allocation_ratio_one(self):
        self.flags(cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0)
        self._start(cores=8)
        one_cpu = self._create_flavor(
            name='one-cpu', vcpu=4, memory_mb=1024, disk=1, ephemeral=0,
            extra_spec={'minimum_cpu': '1'})
        self.assertEqual(8, self._fill(one_cpu, 10))
        self.assertEqual({'VCPU': 8}, {
            'VCPU': self._usage('compute1')['VCPU']})

    def test_density_without_minimum(self):
        self.flags(cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0)
        self._start(cores=8)
        plain = self._create_flavor(
            name='plain-small', vcpu=4, memory_mb=1024, disk=1, ephemeral=0)
        self.assertEqual(2, self._fill(plain, 4))

    def test_hard_reboot_and_stop_start_keep_the_values(self):
        self._start()
        server = self._create_server(flavor_id=self.flavor_min,
                                     networks='none')
        self._set_current(server, 3, 3072)
        self._reboot_server(server, hard=True)
        self._assert_guest_runs(server, 3, 3072)
        server = self._stop_server(server)
        server = self._start_server(server)
        self._assert_guest_runs(self.api.get_server(server['id']), 3, 3072)
        self.assertEqual({'VCPU': 3, 'MEMORY_MB': 3072, 'DISK_GB': 1},
                         self._usage('compute1'))

    def test_migration_claims_the_current_values(self):
        server, source, dest = self._server_on_one_of_two_hosts()
        server = self._migrate_server(server)
        self.assertEqual(dest, server['OS-EXT-SRV-ATTR:host'])
        self.assertEqual({'VCPU': 3, 'MEMORY_MB': 3072, 'DISK_GB': 1},
                         self._usage(dest))
        self._assert_guest_runs(server, 3, 3072)
        self._confirm_resize(server)
        self.assertEqual({'VCPU': 0, 'MEMORY_MB': 0, 'DISK_GB': 0},
                         self._usage(source))
        self.assertEqual({'VCPU': 3, 'MEMORY_MB': 3072, 'DISK_GB': 1},
                         self._allocation(server))

    def test_resize_starts_at_the_new_minimums_and_revert_restores(self):
        self._start('compute1')
        self._start('compute2')
        self.flags(allow_resize_to_same_host=False)
        bigger = self._create_flavor(
            name='bigger', vcpu=6, memory_mb=6144, disk=1, ephemeral=0,
            extra_spec={'minimum_cpu': '1', 'minimum_memory': '1024'})
        server = self._create_server(flavor_id=self.flavor_min,
                                     networks='none')
        self._set_current(server, 3, 3072)
        server = self._resize_server(server, bigger)
        self.assertEqual({'VCPU': 1, 'MEMORY_MB': 1024, 'DISK_GB': 1},
                         self._allocation(server))
        self._revert_resize(server)
        server = self.api.get_server(server['id'])
        self.assertEqual({'VCPU': 3, 'MEMORY_MB': 3072, 'DISK_GB': 1},
                         self._allocation(server))
        self._assert_guest_runs(server, 3, 3072)

    def test_rebuild_keeps_the_values(self):
        self._start()
        server = self._create_server(flavor_id=self.flavor_min,
                                     networks='none')
        self._set_current(server, 3, 3072)
        self.defined.clear()
        server = self._rebuild_server(server, server['image']['id'])
        # the driver defined the guest again, from the current values
        self._assert_guest_runs(server, 3, 3072)
        self.assertEqual({'VCPU': 3, 'MEMORY_MB': 3072, 'DISK_GB': 1},
                         self._allocation(server))

    def test_evacuate_claims_the_current_values(self):
        server, source, dest = self._server_on_one_of_two_hosts()
        self.computes[source].stop()
        service = self.computes[source].service_ref.uuid
        self.api.put_service(service, {'forced_down': True})
        # since microversion 2.95 an evacuated server is left stopped
        server = self._evacuate_server(server, expected_host=dest)
        self._assert_guest_runs(server, 3, 3072)
        self.assertEqual({'VCPU': 3, 'MEMORY_MB': 3072, 'DISK_GB': 1},
                         self._usage(dest))
        # Upstream keeps the source's part of the allocation until its
        # compute comes back and cleans up the evacuated server.
        self.assertEqual({'VCPU': 3, 'MEMORY_MB': 3072, 'DISK_GB': 1},
                         self._usage(source))
        self.restart_compute_service(source)
        self.assertEqual({'VCPU': 0, 'MEMORY_MB': 0, 'DISK_GB': 0},
                         self._usage(source))
        self.assertEqual({'VCPU': 3, 'MEMORY_MB': 3072, 'DISK_GB': 1},
                         self._allocation(server))

    def test_create_with_a_conflicting_flavor_is_refused(self):
        # A flavor that got a conflicting spec before the checks existed
        # (written straight to the database, past the flavor API's check).
        self._start()
        flavor = objects.Flavor.get_by_flavor_id(self.ctxt, self.flavor_min)
        flavor.extra_specs = dict(flavor.extra_specs,
                                  **{'hw:mem_page_size': 'large'})
        flavor.save()
        ex = self.assertRaises(
            client.OpenStackApiException, self._create_server,
            flavor_id=self.flavor_min, networks='none')
        self.assertEqual(400, ex.response.status_code)
        self.assertIn("'hw:mem_page_size=large' cannot be combined",
                      str(ex))

    def test_flavor_api_refuses_a_minimum_above_the_flavor(self):
        ex = self.assertRaises(
            client.OpenStackApiException,
            self.api_fixture.admin_api.post_extra_spec, self.flavor_plain,
            {'extra_specs': {'minimum_memory': '8192'}})
        self.assertEqual(400, ex.response.status_code)
        self.assertIn("above the flavor's memory_mb (4096)", str(ex))


class VcpuCurrentMoveTest(base.LibvirtMigrationMixin, _VcpuCurrentBase):
    """Live migration and unshelve claim the current values too."""

    def test_live_migration_claims_the_current_values(self):
        self._start('compute1')
        self._start('compute2')
        self.server = self._create_server(flavor_id=self.flavor_min,
                                          networks='none')
        source = self.server['OS-EXT-SRV-ATTR:host']
        dest = 'compute2' if source == 'compute1' else 'compute1'
        self.src, self.dest = self.computes[source], self.computes[dest]
        self._set_current(self.server, 3, 3072)
        server = self._live_migrate(self.server)
        self.assertTrue(self.migrate_stub_ran)
        self.assertEqual(dest, server['OS-EXT-SRV-ATTR:host'])
        self.assertEqual({'VCPU': 3, 'MEMORY_MB': 3072, 'DISK_GB': 1},
                         self._allocation(server))
        self.assertEqual({'VCPU': 3, 'MEMORY_MB': 3072, 'DISK_GB': 1},
                         self._usage(dest))
        self.assertEqual({'VCPU': 0, 'MEMORY_MB': 0, 'DISK_GB': 0},
                         self._usage(source))

    def test_unshelve_claims_the_current_values(self):
        self._start('compute1')
        server = self._create_server(flavor_id=self.flavor_min,
                                     networks='none')
        self._set_current(server, 3, 3072)
        server = self._shelve_server(server)
        self.assertEqual({'VCPU': 0, 'MEMORY_MB': 0, 'DISK_GB': 0},
                         self._usage('compute1'))
        server = self._unshelve_server(server)
        self.assertEqual({'VCPU': 3, 'MEMORY_MB': 3072, 'DISK_GB': 1},
                         self._allocation(server))
        self._assert_guest_runs(server, 3, 3072)


class VcpuCurrentWithoutBalloonTest(_VcpuCurrentBase):
    """A virt type without a memory balloon refuses minimum flavors.

    Such a host cannot run a server below its flavor: it does not report
    CUSTOM_XLOUD_LIVE_ADJUST, so the scheduler never sends it one; and
    were the trait left on its provider, the build is refused there,
    never run above its claim.
    """

    def test_lxc_host_refuses_a_minimum_flavor(self):
        self.flags(virt_type='lxc', group='libvirt')
        self._start()
        server = self._create_server(flavor_id=self.flavor_min,
                                     networks='none', expected_state='ERROR')
        self.assertIn('No valid host', server['fault']['message'])
        self.assertNotIn(xloud_traits.LIVE_ADJUST, self._get_provider_traits(
            self.compute_rp_uuids['compute1']))

    def test_lxc_host_with_a_stale_trait_refuses_the_build(self):
        self.flags(virt_type='lxc', group='libvirt')
        self._start()
        rp = self.compute_rp_uuids['compute1']
        self._create_trait(xloud_traits.LIVE_ADJUST)
        self._set_provider_traits(rp, self._get_provider_traits(rp) + [
            xloud_traits.LIVE_ADJUST])
        server = self._create_server(flavor_id=self.flavor_min,
                                     networks='none', expected_state='ERROR')
        self.assertIn('Exceeded maximum number of retries',
                      server['fault']['message'])
        # the refusal came from the driver, before a domain was defined;
        # the scheduler logs why the host failed the build
        self.assertIn('MinimumResourcesNotSupported: Flavor scalable asks '
                      'for minimum resources, which virt_type lxc cannot '
                      'honour', self.stdlog.logger.output)
        self.assertEqual({}, self.defined)
        self.assertEqual({'VCPU': 0, 'MEMORY_MB': 0, 'DISK_GB': 0},
                         self._usage('compute1'))
