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

"""A live adjust followed by a move or a regeneration of the guest.

An adjust with ``persist=false`` changes only the running guest. A live
migration moves that running guest: its claim on the destination holds the
live values. Every other move (cold migration, evacuation, unshelve) and a
rebuild or a resize revert define the guest again from its persisted
values: the live values are dropped and placement holds the persisted
ones.

Nova's fake libvirt (a stand-in) with ``FakeLiveGuest`` (a stand-in for
libvirt's vCPU and balloon calls); placement is real.
"""

from nova.compute import xloud
from nova import objects
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.fixtures import xloud_libvirt
from nova.tests.functional.libvirt import base
from nova.tests.functional.libvirt import test_vcpu_current
from nova.virt.libvirt import xloud_memory

LIVE = fakelibvirt.VIR_DOMAIN_AFFECT_LIVE
CONFIG = fakelibvirt.VIR_DOMAIN_AFFECT_CONFIG


class _MovesBase(base.LibvirtMigrationMixin,
                 test_vcpu_current._VcpuCurrentBase):
    """Two computes, a stand-in live migration, and the checks of a
    server's values; ``source`` and ``other`` are set by the test.
    """

    def _migrate_stub(self, domain, destination, params, flags):
        # The stand-in live migration carries the running guest's vCPUs and
        # memory over, as QEMU does.
        self.src = self.computes[self.source]
        self.dest = self.computes[self.other]
        super()._migrate_stub(domain, destination, params, flags)
        moved = self.dest.driver._host.get_connection().lookupByUUIDString(
            self.server['id'])
        moved.vcpusFlags(LIVE)
        moved._xloud[LIVE] = dict(domain._xloud[LIVE])

    # helpers
    def _adjust(self, vcpus, memory_mb, persist):
        self.admin_api.api_post(
            '/servers/%s/os-xloud-adjust' % self.server['id'],
            {'current_vcpus': vcpus, 'current_memory_mb': memory_mb,
             'persist': persist}, check_response_status=[202])

    def _guest(self):
        server = self.api.get_server(self.server['id'])
        conn = self.computes[
            server['OS-EXT-SRV-ATTR:host']].driver._host.get_connection()
        dom = conn.lookupByUUIDString(self.server['id'])
        dom.vcpusFlags(LIVE)        # the state, from the XML
        return xloud_libvirt.vcpus_allowed(dom), dom.info()[2] // 1024

    def _shown(self):
        got = self.admin_api.api_get(
            '/servers/%s/os-xloud-adjust' % self.server['id']).body
        return got['vcpus']['current'], got['memory_mb']['current']

    def _instance(self):
        return objects.Instance.get_by_uuid(
            self.ctxt, self.server['id'],
            expected_attrs=['system_metadata', 'flavor'])

    def _held(self):
        res = self._allocation(self.server)
        return res['VCPU'], res['MEMORY_MB']

    def _assert_all(self, vcpus, memory_mb, live_only):
        """Guest, GET and placement agree; live-only values or not."""
        self.assertEqual((vcpus, memory_mb), self._guest())
        self.assertEqual((vcpus, memory_mb), self._shown())
        self.assertEqual((vcpus, memory_mb), self._held())
        self.assertEqual(live_only, xloud.has_live(self._instance()))

    def _grown_live_only(self):
        self._adjust(3, 3072, persist=False)
        self._assert_all(3, 3072, live_only=True)
        self.assertEqual((2, 2048), xloud.current(self._instance()))


class XloudAdjustMoveTest(_MovesBase):

    def setUp(self):
        # FakeLiveGuest: installed by _VcpuCurrentBase (a second one
        # autospecs its own mocks: oslotest of 2024.1 refuses that)
        super().setUp()
        self._start('compute1')
        self._start('compute2')
        # 4 vCPUs / 4096 MiB, minimum 2 / 2048: boots at 2 / 2048
        self.server = self._create_server(flavor_id=self.flavor_min,
                                          networks='none')
        self.source = self.server['OS-EXT-SRV-ATTR:host']
        self.other = 'compute2' if self.source == 'compute1' else 'compute1'

    # tests
    def test_boot_runs_the_xml_current_values(self):
        # the stand-in guest starts from the XML the driver defined
        self._assert_all(2, 2048, live_only=False)

    def test_live_migration_keeps_the_live_values(self):
        self._grown_live_only()
        server = self._live_migrate(self.server)
        self.assertTrue(self.migrate_stub_ran)
        self.assertEqual(self.other, server['OS-EXT-SRV-ATTR:host'])
        self._assert_all(3, 3072, live_only=True)
        # the destination gets no limit from its XML: its compute set the
        # live-only value's, live
        moved = self.dest.driver._host.get_connection().lookupByUUIDString(
            self.server['id'])
        self.assertEqual(xloud_memory.limit_kib(3072),
                         moved.memoryParameters(LIVE)['hard_limit'])
        self.assertEqual({'VCPU': 3, 'MEMORY_MB': 3072, 'DISK_GB': 1},
                         self._usage(self.other))
        self.assertEqual({'VCPU': 0, 'MEMORY_MB': 0, 'DISK_GB': 0},
                         self._usage(self.source))

    def test_live_migration_keeps_the_cpu_cap(self):
        # shrunk on a host that cannot unplug: 4 plugged, capped at 2
        self._adjust(4, 2048, persist=True)
        self._adjust(2, 2048, persist=True)
        self._assert_all(2, 2048, live_only=False)
        server = self._live_migrate(self.server)
        self.assertEqual(self.other, server['OS-EXT-SRV-ATTR:host'])
        moved = self.dest.driver._host.get_connection().lookupByUUIDString(
            self.server['id'])
        # the destination runs the 4 plugged vCPUs, under the cap its
        # compute set live (the XML carried none)
        self.assertEqual(4, moved.vcpusFlags(LIVE))
        self.assertEqual(200000, moved.schedulerParametersFlags(LIVE)[
            'global_quota'])
        self._assert_all(2, 2048, live_only=False)
        # and the next adjust there works: back to 4, the cap lifted
        self._adjust(4, 2048, persist=True)
        self._assert_all(4, 2048, live_only=False)
        self.assertEqual(-1, moved.schedulerParametersFlags(LIVE)[
            'global_quota'])

    def test_cold_migration_returns_to_the_persisted_values(self):
        self._grown_live_only()
        server = self._migrate_server(self.server)
        self.assertEqual(self.other, server['OS-EXT-SRV-ATTR:host'])
        self._confirm_resize(server)
        self._assert_all(2, 2048, live_only=False)
        self.assertEqual({'VCPU': 2, 'MEMORY_MB': 2048, 'DISK_GB': 1},
                         self._usage(self.other))

    def test_rebuild_returns_to_the_persisted_values(self):
        # persisted 3 / 3072, then shrunk live only to 2 / 2048: the
        # allocation holds 2 / 2048 while the rebuilt guest runs 3 / 3072
        self._adjust(3, 3072, persist=True)
        self._adjust(2, 2048, persist=False)
        self._assert_all(2, 2048, live_only=True)
        self._rebuild_server(self.server, self.server['image']['id'])
        self._assert_all(3, 3072, live_only=False)

    def test_resize_revert_returns_to_the_persisted_values(self):
        self.flags(allow_resize_to_same_host=False)
        bigger = self._create_flavor(
            name='bigger', vcpu=6, memory_mb=6144, disk=1, ephemeral=0,
            extra_spec={'minimum_cpu': '1', 'minimum_memory': '1024'})
        self._grown_live_only()
        server = self._resize_server(self.server, bigger)
        self._assert_all(1, 1024, live_only=False)
        self._revert_resize(server)
        self._assert_all(2, 2048, live_only=False)

    def test_evacuate_returns_to_the_persisted_values(self):
        self._grown_live_only()
        self.computes[self.source].stop()
        service = self.computes[self.source].service_ref.uuid
        self.api.put_service(service, {'forced_down': True})
        # CONF.host is the compute's own in production, this process's
        # last-started compute here: the evacuation's guest is defined on
        # (and its placement part followed for) the other host
        self.flags(host=self.other)
        # since microversion 2.95 an evacuated server is left stopped: the
        # guest is defined from the persisted values, not running
        server = self._evacuate_server(self.server, expected_host=self.other)
        self.assertEqual((2, 2048), self._shown())
        self.assertFalse(xloud.has_live(self._instance()))
        self.assertEqual({'VCPU': 2, 'MEMORY_MB': 2048, 'DISK_GB': 1},
                         self._usage(self.other))
        # Started while the allocation still spans the old host (upstream
        # keeps it there until that host's compute cleans up): only the
        # part of the node the guest runs on follows the guest.
        self._start_server(server)
        self.assertEqual((2, 2048), self._guest())
        self.assertEqual({'VCPU': 2, 'MEMORY_MB': 2048, 'DISK_GB': 1},
                         self._usage(self.other))
        self.assertEqual({'VCPU': 3, 'MEMORY_MB': 3072, 'DISK_GB': 1},
                         self._usage(self.source))
        self.restart_compute_service(self.source)
        self._assert_all(2, 2048, live_only=False)
        self.assertEqual({'VCPU': 0, 'MEMORY_MB': 0, 'DISK_GB': 0},
                         self._usage(self.source))

    def test_unshelve_returns_to_the_persisted_values(self):
        self._grown_live_only()
        server = self._shelve_server(self.server)
        self.assertEqual({'VCPU': 0, 'MEMORY_MB': 0, 'DISK_GB': 0},
                         self._usage(self.source))
        self._unshelve_server(server)
        self._assert_all(2, 2048, live_only=False)
