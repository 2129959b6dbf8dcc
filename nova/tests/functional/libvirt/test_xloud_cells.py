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

"""Functional tests of the live adjust in a cloud of two cells.

Large clouds split their computes into cells: each cell has its own
database (instances, instance actions, services, compute nodes), while
the API database (instance and host mappings, quotas) and placement are
shared. The API finds a server's cell from its instance mapping and
targets that cell's database for everything after it; the adjust reads
and writes the server, its action and its compute's service through that
targeted context, and the quota of an increase is the project's, counted
over every cell.

One compute in each cell (Nova's ``NUMBER_OF_CELLS = 2``, as upstream's
multi-cell tests: ``compute1`` in ``cell1``, the default cell, and
``compute2`` in ``cell2``), one server of the minimum-resources flavor on
each (the second forced onto ``compute2`` with the ``nova:<host>``
availability zone), Nova's fake libvirt with ``FakeLiveGuest`` and real
placement.

Nova's RPC fixture carries every cell's messages on one bus (its
``RPCFixture`` collapses all transport URLs into one), so these tests show
that the adjust reaches the right compute and database; which message
queue it takes (its cell's: ``xloud_rpcapi`` routes by the targeted
context, as upstream's compute client) is a unit test's.
"""

import contextlib

from oslo_limit import fixture as limit_fixture

from nova.compute import xloud
from nova.compute import xloud_quota
from nova import context as nova_context
from nova import exception
from nova import objects
from nova.tests import fixtures as nova_fixtures
from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.fixtures import xloud_libvirt
from nova.tests.functional.api import client
from nova.tests.functional.libvirt import xloud_base

LIVE = fakelibvirt.VIR_DOMAIN_AFFECT_LIVE


class _TwoCellsBase(xloud_base.XloudServerTestBase):
    """A server of the minimum flavor in each of two cells.

    The base class starts ``compute1`` (in ``cell1``, the default cell)
    and boots ``self.server`` on it; ``compute2`` in ``cell2`` and its
    server are added here. ``self.cells`` names them by cell.
    """

    NUMBER_OF_CELLS = 2

    def setUp(self):
        super(_TwoCellsBase, self).setUp()
        self.start_compute('compute2', cell_name='cell2',
                           host_info=fakelibvirt.HostInfo(
                               cpu_nodes=1, cpu_sockets=1,
                               cpu_cores=self.HOST_CORES, cpu_threads=1,
                               kB_mem=self.HOST_MEMORY_GIB * 1024 * 1024))
        other = self._create_server(flavor_id=self.flavor, networks='none',
                                    az='nova:compute2')
        self.cells = {'cell1': (self.server, 'compute1'),
                      'cell2': (other, 'compute2')}
        # the test runs where it thinks it does: each server's instance
        # mapping names its cell, the other cell's database does not have
        # it, and its host is its cell's compute
        for cell, (server, host) in self.cells.items():
            self.assertEqual(cell, self._mapping(server).cell_mapping.name)
            for other_cell in set(self.cells) - {cell}:
                with nova_context.target_cell(
                        self.ctxt, self.cell_mappings[other_cell]) as cctxt:
                    self.assertRaises(exception.InstanceNotFound,
                                      objects.Instance.get_by_uuid, cctxt,
                                      server['id'])
            self.assertEqual(host, self.admin_api.get_server(
                server['id'])['OS-EXT-SRV-ATTR:host'])

    # each side of one server, wherever its cell
    def _mapping(self, server):
        return objects.InstanceMapping.get_by_instance_uuid(
            self.ctxt, server['id'])

    @contextlib.contextmanager
    def _in_cell(self, server):
        """An admin context targeted at the server's cell database."""
        with nova_context.target_cell(
                self.ctxt, self._mapping(server).cell_mapping) as cctxt:
            yield cctxt

    def _instance_of(self, server):
        with self._in_cell(server) as cctxt:
            return objects.Instance.get_by_uuid(
                cctxt, server['id'],
                expected_attrs=['system_metadata', 'flavor'])

    def _guest_of(self, server, host):
        dom = self.computes[host].driver._host.get_connection(
        ).lookupByUUIDString(server['id'])
        dom.vcpusFlags(LIVE)        # the state, from the XML
        return xloud_libvirt.vcpus_allowed(dom), dom.info()[2] // 1024

    def _allocation_of(self, server, host):
        """(VCPU, MEMORY_MB) the server holds, all of it on its host."""
        allocs = self._get_allocations_by_server_uuid(server['id'])
        self.assertEqual([self.compute_rp_uuids[host]], list(allocs))
        res = allocs[self.compute_rp_uuids[host]]['resources']
        return res['VCPU'], res['MEMORY_MB']

    def _show(self, server):
        return self.admin_api.api_get(
            '/servers/%s/os-xloud-adjust' % server['id']).body

    def _current_of(self, server):
        got = self._show(server)
        return got['vcpus']['current'], got['memory_mb']['current']

    def _adjust(self, server, body, status=202):
        """POST the adjust; the response, or the error of another status."""
        path = '/servers/%s/os-xloud-adjust' % server['id']
        expected = 200 if body.get('dry_run') else 202
        if status == expected:
            return self.admin_api.api_post(path, body,
                                           check_response_status=[status])
        ex = self.assertRaises(client.OpenStackApiException,
                               self.admin_api.api_post, path, body)
        self.assertEqual(status, ex.response.status_code)
        return ex

    def _actions_of(self, server):
        return [a for a in self.admin_api.get_instance_actions(server['id'])
                if a['action'] == xloud.ACTION]

    def _assert_runs(self, server, host, vcpus, memory_mb):
        """The guest, GET and placement agree, and no task is left."""
        self.assertEqual((vcpus, memory_mb), self._guest_of(server, host))
        self.assertEqual((vcpus, memory_mb), self._current_of(server))
        self.assertEqual((vcpus, memory_mb),
                         self._allocation_of(server, host))
        self.assertIsNone(self._instance_of(server).task_state)

    def _usage(self, rc):
        """The usage of a resource class on both cells' computes.

        Placement does not know cells: the providers of both are counted.
        """
        return sum(self._get_provider_usages(rp)[rc]
                   for rp in self.compute_rp_uuids.values())


class XloudAdjustTwoCellsTest(_TwoCellsBase):

    def test_adjust_in_each_cell(self):
        # different values for each server, so that an adjust that reached
        # the other cell's server or compute shows
        wanted = {'cell1': (3, 3072), 'cell2': (2, 2048)}
        for cell in sorted(self.cells):
            server, host = self.cells[cell]
            others = {c: self._current_of(s)
                      for c, (s, h) in self.cells.items() if c != cell}
            vcpus, memory_mb = wanted[cell]
            self._adjust(server, {'current_vcpus': vcpus,
                                  'current_memory_mb': memory_mb})
            self._assert_runs(server, host, vcpus, memory_mb)
            shown = self._show(server)
            self.assertEqual({
                'server_id': server['id'],
                'vcpus': {'minimum': 1, 'current': vcpus, 'maximum': 4},
                'memory_mb': {'minimum': 1024, 'current': memory_mb,
                              'maximum': 4096}},
                {k: shown[k] for k in ('server_id', 'vcpus', 'memory_mb')})
            # what the guest said, read by its compute in its own cell
            self.assertEqual(memory_mb - xloud_libvirt.KERNEL_RESERVE_MB,
                             shown['guest']['memory_mb'])
            # recorded in the server's own cell (system metadata), to be
            # the values of its next definition
            self.assertEqual((vcpus, memory_mb),
                             xloud.current(self._instance_of(server)))
            # the action lives in the cell database too: one for this
            # request, by its caller, its compute's event a success on the
            # server's host
            actions = self._actions_of(server)
            self.assertEqual([('admin', server['tenant_id'])],
                             [(a['user_id'], a['project_id'])
                              for a in actions])
            events = xloud_base.adjust_events(
                self.admin_api.get_instance_action_details(
                    server['id'], actions[0]['request_id'])['events'])
            self.assertEqual(
                [('compute_xloud_adjust', 'Success', host)],
                [(e['event'], e['result'], e['host']) for e in events])
            # the other cell's server is as it was
            for c, current in others.items():
                self.assertEqual(current, self._current_of(self.cells[c][0]))
        # each host's provider holds its own server's claim and no more
        for cell, (server, host) in self.cells.items():
            usages = self._get_provider_usages(self.compute_rp_uuids[host])
            self.assertEqual(wanted[cell],
                             (usages['VCPU'], usages['MEMORY_MB']))
        # and down again, in each cell
        for cell in sorted(self.cells):
            server, host = self.cells[cell]
            self._adjust(server, {'current_vcpus': 1,
                                  'current_memory_mb': 1024})
            self._assert_runs(server, host, 1, 1024)
            self.assertEqual(2, len(self._actions_of(server)))

    def test_list_across_cells(self):
        self._adjust(self.cells['cell2'][0], {'current_vcpus': 2})
        for api in (self.api, self.admin_api):
            listed = {s['id']: s for s in api.get_servers()}
            self.assertEqual(
                sorted(s['id'] for s, h in self.cells.values()),
                sorted(listed))
            for server, host in self.cells.values():
                self.assertEqual('ACTIVE', listed[server['id']]['status'])
        # the admin's view says where each runs
        listed = {s['id']: s for s in self.admin_api.get_servers()}
        for server, host in self.cells.values():
            self.assertEqual(host,
                             listed[server['id']]['OS-EXT-SRV-ATTR:host'])

    def test_cell_down(self):
        """A server whose cell does not answer is not adjusted, and the
        other cell's server still is.

        DownCellFixture makes the API's reads of cell2 fail as a cell
        database that does not answer does (DBError).
        """
        down, down_host = self.cells['cell2']
        up, up_host = self.cells['cell1']
        allocation = self._allocation_of(down, down_host)
        with nova_fixtures.DownCellFixture(
                [self.cell_mappings['cell2']]):
            # listed all the same, the down cell's server as UNKNOWN (the
            # partial record of microversion 2.69 and later)
            listed = {s['id']: s['status']
                      for s in self.api.get_servers()}
            self.assertEqual({up['id']: 'ACTIVE', down['id']: 'UNKNOWN'},
                             listed)
            # Its adjust, dry run and GET answer 503 saying that its cell
            # does not answer, and nothing is claimed for it.
            path = '/servers/%s/os-xloud-adjust' % down['id']
            for call, args in (
                    (self.admin_api.api_post, (path, {'current_vcpus': 2})),
                    (self.admin_api.api_post,
                     (path, {'current_vcpus': 2, 'dry_run': True})),
                    (self.admin_api.api_get, (path,))):
                ex = self.assertRaises(client.OpenStackApiException, call,
                                       *args)
                self.assertEqual(503, ex.response.status_code)
                self.assertIn('is not responding', str(ex))
            self.assertEqual(allocation, self._allocation_of(down, down_host))
            # the other cell is not affected
            self._adjust(up, {'current_vcpus': 2})
            self._assert_runs(up, up_host, 2, 1024)
        # back up: the server was not touched and adjusts
        self._assert_runs(down, down_host, *allocation)
        self.assertEqual([], self._actions_of(down))
        self._adjust(down, {'current_vcpus': 2})
        self._assert_runs(down, down_host, 2, 1024)


class XloudQuotaDefaultCountingTwoCellsTest(_TwoCellsBase):
    """The default counting: the flavors of the servers of every cell.

    An adjust stays within its flavor, so it never changes the usage
    counted: at a quota that both cells' flavors fill exactly, both
    servers still grow to their maximum.
    """

    def test_no_check_across_cells(self):
        self.assertIsNone(xloud_quota.mode())
        flavor = self.admin_api.api_get(
            '/flavors/%s' % self.flavor).body['flavor']
        counted = self.api.get_limits()['absolute']
        # Nova counts both cells' servers, each by its flavor
        self.assertEqual(len(self.cells) * flavor['vcpus'],
                         counted['totalCoresUsed'])
        self.assertEqual(len(self.cells) * flavor['ram'],
                         counted['totalRAMUsed'])
        self.flags(cores=counted['totalCoresUsed'],
                   ram=counted['totalRAMUsed'], group='quota')
        for cell in sorted(self.cells):
            server, host = self.cells[cell]
            body = {'current_vcpus': flavor['vcpus'],
                    'current_memory_mb': flavor['ram']}
            self.assertEqual({'fits': True}, self._adjust(
                server, dict(body, dry_run=True), status=200).body)
            self._adjust(server, body)
            self._assert_runs(server, host, flavor['vcpus'], flavor['ram'])
        after = self.api.get_limits()['absolute']
        self.assertEqual(
            (counted['totalCoresUsed'], counted['totalRAMUsed']),
            (after['totalCoresUsed'], after['totalRAMUsed']))


class _PlacementCountedQuotaTests(object):
    """The quota of an increase counted from placement: every cell's
    servers of the project, by what they run.

    The quota leaves room for the increase of one server: the first cell's
    is accepted, then the same increase of the second cell's, which would
    fit alone, is over the quota counted with the first one's.
    """

    def _limit(self, cores, ram):
        raise NotImplementedError()

    def test_over_quota_counted_over_both_cells(self):
        first, first_host = self.cells['cell1']
        second, second_host = self.cells['cell2']
        cores, ram = self._usage('VCPU'), self._usage('MEMORY_MB')
        # placement counts what both servers run, one in each cell
        self.assertEqual(
            tuple(map(sum, zip(*(self._current_of(s)
                                 for s, h in self.cells.values())))),
            (cores, ram))
        # room for one increase of (2, 2048) and half of another
        more_vcpus, more_mb = 2, 2048
        limit_cores = cores + more_vcpus + more_vcpus // 2
        limit_ram = ram + more_mb + more_mb // 2
        self._limit(cores=limit_cores, ram=limit_ram)
        vcpus, memory_mb = self._current_of(first)
        grow = {'current_vcpus': vcpus + more_vcpus,
                'current_memory_mb': memory_mb + more_mb}
        self.assertEqual({'fits': True}, self._adjust(
            first, dict(grow, dry_run=True), status=200).body)
        self._adjust(first, grow)
        self._assert_runs(first, first_host, grow['current_vcpus'],
                          grow['current_memory_mb'])
        self.assertEqual((cores + more_vcpus, ram + more_mb),
                         (self._usage('VCPU'), self._usage('MEMORY_MB')))

        # The second cell's server asks for the same increase. Alone (its
        # own cell's usage) it would fit; counted with the first cell's
        # increase it does not.
        self.assertEqual((vcpus, memory_mb), self._current_of(second))
        self.assertLessEqual(vcpus + more_vcpus, limit_cores)
        self.assertLessEqual(memory_mb + more_mb, limit_ram)
        used_cores, used_ram = self._usage('VCPU'), self._usage('MEMORY_MB')
        usages = {h: self._get_provider_usages(rp)
                  for h, rp in self.compute_rp_uuids.items()}
        ex = self._adjust(second, {'current_vcpus': grow['current_vcpus']},
                          status=403)
        self.assertIn(
            'Quota exceeded for cores: Requested %d, but already used %d '
            'of %d cores' % (more_vcpus, used_cores, limit_cores), str(ex))
        ex = self._adjust(
            second, {'current_memory_mb': grow['current_memory_mb']},
            status=403)
        self.assertIn(
            'Quota exceeded for ram: Requested %d, but already used %d '
            'of %d ram' % (more_mb, used_ram, limit_ram), str(ex))
        got = self._adjust(second, dict(grow, dry_run=True), status=200).body
        self.assertFalse(got['fits'])
        self.assertIn(
            'Quota exceeded for cores, ram: Requested %d, %d, but already '
            'used %d, %d of %d, %d' % (more_vcpus, more_mb, used_cores,
                                       used_ram, limit_cores, limit_ram),
            got['reason'])
        # the host has room: the quota is the only reason
        self.assertNotIn('no room', got['reason'])
        # nothing was claimed, recorded or started for the refused ones
        self.assertEqual(usages, {h: self._get_provider_usages(rp)
                                  for h, rp in self.compute_rp_uuids.items()})
        self._assert_runs(second, second_host, vcpus, memory_mb)
        self.assertEqual([], self._actions_of(second))

        # what is left of the quota is accepted
        left = {'current_vcpus': vcpus + limit_cores - used_cores,
                'current_memory_mb': memory_mb + limit_ram - used_ram}
        self._adjust(second, left)
        self._assert_runs(second, second_host, left['current_vcpus'],
                          left['current_memory_mb'])
        self._adjust(second, grow, status=403)
        # a decrease in the first cell makes room in the second
        self._adjust(first, {'current_vcpus': vcpus,
                             'current_memory_mb': memory_mb})
        self._adjust(second, grow)
        self._assert_runs(second, second_host, grow['current_vcpus'],
                          grow['current_memory_mb'])
        self._assert_runs(first, first_host, vcpus, memory_mb)


class XloudQuotaPlacementCountingTwoCellsTest(_PlacementCountedQuotaTests,
                                              _TwoCellsBase):

    def setUp(self):
        self.flags(count_usage_from_placement=True, group='quota')
        super(XloudQuotaPlacementCountingTwoCellsTest, self).setUp()
        self.assertEqual('placement', xloud_quota.mode())

    def _limit(self, cores, ram):
        self.flags(cores=cores, ram=ram, group='quota')

    def test_limits_count_both_cells(self):
        """GET /limits (Nova's own count) is what the adjust checks.

        It counts what the servers of both cells run, from placement.
        """
        first, second = self.cells['cell1'][0], self.cells['cell2'][0]
        self._adjust(first, {'current_vcpus': 3})
        self._adjust(second, {'current_memory_mb': 2048})
        counted = self.api.get_limits()['absolute']
        runs = [self._current_of(first), self._current_of(second)]
        self.assertEqual(((3, 1024), (1, 2048)), tuple(runs))
        self.assertEqual(
            (sum(v for v, m in runs), sum(m for v, m in runs)),
            (counted['totalCoresUsed'], counted['totalRAMUsed']))
        self.assertEqual((self._usage('VCPU'), self._usage('MEMORY_MB')),
                         (counted['totalCoresUsed'], counted['totalRAMUsed']))


class XloudQuotaUnifiedLimitsTwoCellsTest(_PlacementCountedQuotaTests,
                                          _TwoCellsBase):

    def setUp(self):
        super(XloudQuotaUnifiedLimitsTwoCellsTest, self).setUp()
        self.flags(driver='nova.quota.UnifiedLimitsDriver', group='quota')
        self.assertEqual('unified', xloud_quota.mode())
        self.limits = self.useFixture(limit_fixture.LimitFixture(
            {'servers': 10, 'class:DISK_GB': 100}, {}))

    def _limit(self, cores, ram):
        # the fixture reads its dicts at each look-up
        self.limits.reglimits.update({'class:VCPU': cores,
                                      'class:MEMORY_MB': ram})
