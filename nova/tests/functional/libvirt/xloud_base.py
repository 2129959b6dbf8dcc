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

"""The server every functional test of the live adjust starts from.

One compute (``compute1``, Nova's fake libvirt with our
``FakeLiveGuest`` stand-in for libvirt's vCPU and balloon calls), real
placement, allocation ratios of 1 so that placement's figures are the
guest's, and one server of a flavor with the maximum (4, 4096) and the
minimum (1, 1024), booted at its minimum. The helpers read each side
that must agree: the guest, the API's GET, placement.
"""

from nova.compute import xloud
from nova import context as nova_context
from nova import objects
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.fixtures import xloud_libvirt
from nova.tests.functional.api import client
from nova.tests.functional.libvirt import base

LIVE = fakelibvirt.VIR_DOMAIN_AFFECT_LIVE


def adjust_events(events):
    """The adjust's own event of an action's events.

    The guest's events (compute_xloud_guest_*, compute_xloud_cpu_capped)
    follow it in the same action.
    """
    return [e for e in events if e['event'] == xloud.EVENT]


class XloudServerTestBase(base.ServersTestBase):

    ADMIN_API = False
    microversion = 'latest'

    # the host's size: a campaign that boots more servers wants a bigger one
    HOST_CORES = 4
    HOST_MEMORY_GIB = 8
    # the server's flavor: (4, 4096) at most, (1, 1024) at least
    SPECS = {'minimum_cpu': '1', 'minimum_memory': '1024'}

    def setUp(self):
        super().setUp()
        self.guest = self.useFixture(xloud_libvirt.FakeLiveGuest())
        self.flags(cpu_allocation_ratio=1.0, ram_allocation_ratio=1.0)
        self._configure()
        self.start_compute(host_info=fakelibvirt.HostInfo(
            cpu_nodes=1, cpu_sockets=1, cpu_cores=self.HOST_CORES,
            cpu_threads=1, kB_mem=self.HOST_MEMORY_GIB * 1024 * 1024))
        self.rp = self.compute_rp_uuids['compute1']
        self.flavor = self._create_flavor(
            vcpu=4, memory_mb=4096, disk=1, extra_spec=dict(self.SPECS))
        self.server = self._create_server(flavor_id=self.flavor,
                                          networks='none')
        self.ctxt = nova_context.get_admin_context()

    def _configure(self):
        """Flags and fixtures a test needs before the compute starts."""

    def _update_resources(self, host='compute1'):
        """The compute's periodic update: it reports its traits again."""
        self.computes[host].manager.update_available_resource(self.ctxt)

    # what each side says
    def _dom(self):
        conn = self.computes['compute1'].driver._host.get_connection()
        return conn.lookupByUUIDString(self.server['id'])

    def _guest(self):
        """What the fake hypervisor runs.

        (vCPUs the host lets the guest use, balloon MiB).
        """
        dom = self._dom()
        dom.vcpusFlags(LIVE)        # the state, from the XML
        return xloud_libvirt.vcpus_allowed(dom), dom.info()[2] // 1024

    def _instance(self):
        return objects.Instance.get_by_uuid(
            self.ctxt, self.server['id'],
            expected_attrs=['system_metadata', 'flavor'])

    def _placement(self):
        allocs = self._get_allocations_by_server_uuid(self.server['id'])
        res = allocs[self.rp]['resources']
        return res['VCPU'], res['MEMORY_MB']

    def _path(self, alias=False):
        return ('/os-xloud-adjust/%s' if alias else
                '/servers/%s/os-xloud-adjust') % self.server['id']

    def _post(self, body, api=None, alias=False, status=202):
        api = api or self.admin_api
        if status == 202:
            return api.api_post(self._path(alias), body,
                                check_response_status=[202])
        ex = self.assertRaises(client.OpenStackApiException, api.api_post,
                               self._path(alias), body)
        self.assertEqual(status, ex.response.status_code)
        return ex

    def _get(self, api=None, alias=False):
        return (api or self.admin_api).api_get(self._path(alias)).body

    def _current(self):
        got = self._get()
        return got['vcpus']['current'], got['memory_mb']['current']

    def _assert_consistent(self, vcpus, memory_mb):
        """Guest, GET, placement all say the same, and no task is left."""
        self.assertEqual((vcpus, memory_mb), self._guest())
        self.assertEqual((vcpus, memory_mb), self._current())
        self.assertEqual((vcpus, memory_mb), self._placement())
        self.assertIsNone(self._instance().task_state)
