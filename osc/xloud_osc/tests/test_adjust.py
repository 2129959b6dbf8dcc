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

"""Unit tests of the plugin. The HTTP is MOCKED (requests-mock under a
real keystoneauth session and adapter): no cloud runs here. The sandbox's
tests (sandbox/tests/test_cli.py) run the same commands through the real
``openstack`` against real keystone and Nova.
"""

import io
import unittest
from unittest import mock

from keystoneauth1 import adapter
from keystoneauth1 import session
from osc_lib import exceptions
import requests_mock

from xloud_osc import plugin
from xloud_osc.v2 import adjust

NOVA = 'http://nova.test/v2.1'
SID = '9168b536-cd40-4630-b43f-b259807c6e87'
REQ = 'req-1b2c'
RANGE = {'server_id': SID,
         'vcpus': {'minimum': 1, 'current': 2, 'maximum': 4},
         'memory_mb': {'minimum': 512, 'current': 2048, 'maximum': 4096}}


def event(result, finish=True, **kw):
    return dict(kw, event='compute_xloud_adjust', result=result,
                start_time='2026-01-01T00:00:00',
                finish_time='2026-01-01T00:00:01' if finish else None)


class Base(unittest.TestCase):

    def setUp(self):
        self.http = requests_mock.Mocker()
        self.http.start()
        self.addCleanup(self.http.stop)
        compute = adapter.Adapter(session.Session(), service_type='compute',
                                  endpoint_override=NOVA)
        self.app = mock.Mock(stderr=io.StringIO(), stdout=io.StringIO())
        self.app.client_manager.sdk_connection.compute = compute
        self.http.get(NOVA + '/servers/' + SID,
                      json={'server': {'id': SID, 'name': 'vm1'}})

    def run_cmd(self, cls, argv):
        cmd = cls(self.app, None)
        args = cmd.get_parser('openstack server adjust').parse_args(argv)
        return cmd.take_action(args)

    def posted(self):
        posts = [r for r in self.http.request_history if r.method == 'POST']
        self.assertEqual(1, len(posts))
        self.assertEqual('/v2.1/servers/%s/os-xloud-adjust' % SID,
                         posts[0].path)
        return posts[0].json()


class ShowTest(Base):

    def test_show_by_id(self):
        self.http.get(NOVA + '/servers/%s/os-xloud-adjust' % SID,
                      json=RANGE)
        cols, vals = self.run_cmd(adjust.ShowServerAdjust, [SID])
        self.assertEqual(('server_id', 'vcpus', 'memory_mb'), cols)
        self.assertEqual(SID, vals[0])
        self.assertEqual(RANGE['vcpus'], vals[1].machine_readable())
        self.assertIn("current='2'", vals[1].human_readable())

    def test_show_the_guest_and_the_cpu_cap(self):
        guest = {'confirmed': True, 'vcpus_online': 1, 'memory_mb': 1990,
                 'usable_mb': 1500, 'read_at': '2026-12-07T15:00:00Z',
                 'reason': None}
        cap = {'vcpus_plugged': 2, 'vcpus_allowed': 1, 'vcpus_online': 1,
               'reason': 'the guest agent took the others offline'}
        self.http.get(NOVA + '/servers/%s/os-xloud-adjust' % SID,
                      json=dict(RANGE, guest=guest, cpu_cap=cap))
        cols, vals = self.run_cmd(adjust.ShowServerAdjust, [SID])
        self.assertEqual(('server_id', 'vcpus', 'memory_mb', 'guest',
                          'cpu_cap'), cols)
        self.assertEqual(guest, vals[3].machine_readable())
        self.assertIn("vcpus_allowed='1'", vals[4].human_readable())
        # no cap: shown empty
        self.http.get(NOVA + '/servers/%s/os-xloud-adjust' % SID,
                      json=dict(RANGE, guest=guest, cpu_cap=None))
        cols, vals = self.run_cmd(adjust.ShowServerAdjust, [SID])
        self.assertIsNone(vals[4])

    def test_show_the_autoscaler(self):
        autoscale = {'enabled': True, 'settings': {
            'resources': ['cpu'], 'cpu_target': 70,
            'memory_headroom_mb': 256, 'cooldown': 300},
            'last_decision': {'at': '2026-12-07T19:00:00Z',
                              'action': 'grow',
                              'reason': 'CPU 93% of 2 vCPUs for 2 s'}}
        self.http.get(NOVA + '/servers/%s/os-xloud-adjust' % SID,
                      json=dict(RANGE, autoscale=autoscale))
        cols, vals = self.run_cmd(adjust.ShowServerAdjust, [SID])
        self.assertEqual(('server_id', 'vcpus', 'memory_mb', 'autoscale'),
                         cols)
        self.assertEqual(autoscale, vals[3].machine_readable())
        self.assertIn('CPU 93% of 2 vCPUs for 2 s', vals[3].human_readable())

    def test_show_by_name(self):
        self.http.get(NOVA + '/servers/vm1', status_code=404,
                      json={'itemNotFound': {'message': 'no'}})
        self.http.get(NOVA + '/servers?name=^vm1$',
                      json={'servers': [{'id': SID}]})
        self.http.get(NOVA + '/servers/%s/os-xloud-adjust' % SID,
                      json=RANGE)
        cols, vals = self.run_cmd(adjust.ShowServerAdjust, ['vm1'])
        self.assertEqual(SID, vals[0])
        self.assertEqual(RANGE['memory_mb'], vals[2].machine_readable())

    def test_show_no_such_server(self):
        self.http.get(NOVA + '/servers/nope', status_code=404,
                      json={'itemNotFound': {'message': 'no'}})
        self.http.get(NOVA + '/servers?name=^nope$', json={'servers': []})
        with self.assertRaisesRegex(exceptions.CommandError,
                                    "No server with a name or ID of 'nope'"):
            self.run_cmd(adjust.ShowServerAdjust, ['nope'])

    def test_show_forbidden_says_the_policy_message(self):
        self.http.get(NOVA + '/servers/%s/os-xloud-adjust' % SID,
                      status_code=403, json={'forbidden': {
                          'message': 'Policy doesn\'t allow it'}})
        with self.assertRaisesRegex(exceptions.CommandError,
                                    "HTTP 403: Policy doesn't allow it"):
            self.run_cmd(adjust.ShowServerAdjust, [SID])


class AdjustTest(Base):

    def test_adjust_sends_the_body_and_shows_the_request(self):
        self.http.post(NOVA + '/servers/%s/os-xloud-adjust' % SID,
                       status_code=202,
                       headers={'x-openstack-request-id': REQ})
        cols, vals = self.run_cmd(adjust.AdjustServer,
                                  [SID, '--vcpus', '3', '--memory', '3072'])
        self.assertEqual({'current_vcpus': 3, 'current_memory_mb': 3072,
                          'persist': True}, self.posted())
        self.assertEqual(dict(zip(cols, vals)), {
            'server_id': SID, 'request_id': REQ, 'status': 'accepted'})

    def test_no_persist_and_memory_only(self):
        self.http.post(NOVA + '/servers/%s/os-xloud-adjust' % SID,
                       status_code=202,
                       headers={'x-openstack-request-id': REQ})
        self.run_cmd(adjust.AdjustServer, [SID, '--memory', '1024',
                                           '--no-persist'])
        self.assertEqual({'current_memory_mb': 1024, 'persist': False},
                         self.posted())

    def test_allow_migration_is_sent(self):
        self.http.post(NOVA + '/servers/%s/os-xloud-adjust' % SID,
                       status_code=202,
                       headers={'x-openstack-request-id': REQ})
        self.run_cmd(adjust.AdjustServer, [SID, '--vcpus', '4',
                                           '--allow-migration'])
        self.assertEqual({'current_vcpus': 4, 'persist': True,
                          'allow_migration': True}, self.posted())

    def test_allow_migration_refused_by_an_older_nova(self):
        self.http.post(NOVA + '/servers/%s/os-xloud-adjust' % SID,
                       status_code=400, json={'badRequest': {
                           'message': "Additional properties are not "
                                      "allowed ('allow_migration' was "
                                      "unexpected)"}})
        with self.assertRaisesRegex(exceptions.CommandError,
                                    'does not support --allow-migration'):
            self.run_cmd(adjust.AdjustServer, [SID, '--vcpus', '4',
                                               '--allow-migration'])

    def test_nothing_to_adjust_sends_nothing(self):
        with self.assertRaisesRegex(exceptions.CommandError,
                                    '--vcpus and/or --memory'):
            self.run_cmd(adjust.AdjustServer, [SID])
        self.assertEqual([], [r for r in self.http.request_history])

    def test_refused_adjust_says_why(self):
        self.http.post(NOVA + '/servers/%s/os-xloud-adjust' % SID,
                       status_code=400, json={'badRequest': {
                           'message': 'current_vcpus 9: from 1 to 4'}})
        with self.assertRaisesRegex(exceptions.CommandError,
                                    'HTTP 400: current_vcpus 9: from 1 to '
                                    '4'):
            self.run_cmd(adjust.AdjustServer, [SID, '--vcpus', '9'])

    def test_dry_run_refused_by_an_older_nova(self):
        # what nova answers today: the schema refuses the unknown key
        self.http.post(NOVA + '/servers/%s/os-xloud-adjust' % SID,
                       status_code=400, json={'badRequest': {
                           'message': "Invalid input for field/attribute "
                                      "adjust. Value: {...}. Additional "
                                      "properties are not allowed "
                                      "('dry_run' was unexpected)"}})
        with self.assertRaisesRegex(exceptions.CommandError,
                                    'does not support --dry-run'):
            self.run_cmd(adjust.AdjustServer, [SID, '--vcpus', '2',
                                               '--dry-run'])
        self.assertEqual({'current_vcpus': 2, 'persist': True,
                          'dry_run': True}, self.posted())

    def test_dry_run_accepted(self):
        self.http.post(NOVA + '/servers/%s/os-xloud-adjust' % SID,
                       status_code=200, json={'current_vcpus': 2,
                                              'allowed': True})
        cols, vals = self.run_cmd(adjust.AdjustServer, [SID, '--vcpus', '2',
                                                        '--dry-run'])
        got = dict(zip(cols, vals))
        self.assertIs(True, got['dry_run'])
        self.assertEqual({'current_vcpus': 2, 'allowed': True},
                         got['result'].machine_readable())

    def test_dry_run_other_400_is_not_called_unsupported(self):
        self.http.post(NOVA + '/servers/%s/os-xloud-adjust' % SID,
                       status_code=400, json={'badRequest': {
                           'message': 'current_vcpus 9: from 1 to 4'}})
        with self.assertRaisesRegex(exceptions.CommandError,
                                    'dry run .*HTTP 400: current_vcpus 9'):
            self.run_cmd(adjust.AdjustServer, [SID, '--vcpus', '9',
                                               '--dry-run'])


class WaitTest(Base):

    def setUp(self):
        super(WaitTest, self).setUp()
        self.http.post(NOVA + '/servers/%s/os-xloud-adjust' % SID,
                       status_code=202,
                       headers={'x-openstack-request-id': REQ})
        self.http.get(NOVA + '/servers/%s/os-xloud-adjust' % SID,
                      json=RANGE)
        self.action_url = NOVA + '/servers/%s/os-instance-actions/%s' % (
            SID, REQ)

    def actions(self, *events_lists):
        self.http.get(self.action_url, [
            {'json': {'instanceAction': {'action': 'xloud_adjust',
                                         'events': evs}}}
            if evs is not None else
            {'status_code': 404, 'json': {'itemNotFound': {
                'message': 'not yet'}}}
            for evs in events_lists])

    def test_wait_follows_the_action_to_success(self):
        self.actions(None, [], [event(None, finish=False)],
                     [event('Success')])
        cols, vals = self.run_cmd(adjust.AdjustServer, [
            SID, '--vcpus', '2', '--wait', '--wait-interval', '0'])
        got = dict(zip(cols, vals))
        self.assertEqual('done', got['status'])
        self.assertEqual(REQ, got['request_id'])
        self.assertEqual(RANGE['vcpus'], got['vcpus'].machine_readable())
        polls = [r for r in self.http.request_history
                 if r.path.endswith('/os-instance-actions/%s' % REQ)]
        self.assertEqual(4, len(polls))
        self.assertEqual('compute 2.84',
                         polls[0].headers['OpenStack-API-Version'])
        progress = self.app.stderr.getvalue()
        self.assertIn('compute_xloud_adjust running', progress)
        self.assertIn('compute_xloud_adjust Success', progress)
        self.assertTrue(progress.endswith('\n'))

    def test_wait_follows_a_move_to_its_growth(self):
        # --allow-migration: the live migration's events all finish before
        # the growth's begins; that is not the end
        conductor = dict(event('Success'),
                         event='conductor_live_migrate_instance')
        moved = dict(event('Success'),
                     event='compute_post_live_migration_at_destination')
        self.actions([conductor], [conductor, moved],
                     [conductor, moved, event(None, finish=False)],
                     [conductor, moved, event('Success')])
        cols, vals = self.run_cmd(adjust.AdjustServer, [
            SID, '--vcpus', '4', '--allow-migration', '--wait',
            '--wait-interval', '0'])
        self.assertEqual('done', dict(zip(cols, vals))['status'])
        polls = [r for r in self.http.request_history
                 if r.path.endswith('/os-instance-actions/%s' % REQ)]
        self.assertEqual(4, len(polls))

    def test_wait_failed_move_raises_with_its_error(self):
        # no host passed the scheduler: no growth event ever comes
        self.actions([dict(event('Error', details='No valid host was '
                                                  'found.'),
                           event='conductor_live_migrate_instance')])
        with self.assertRaisesRegex(
                exceptions.CommandError,
                'failed: conductor_live_migrate_instance: No valid host'):
            self.run_cmd(adjust.AdjustServer, [
                SID, '--vcpus', '4', '--allow-migration', '--wait',
                '--wait-interval', '0'])

    def test_wait_failed_adjust_raises_with_the_event_error(self):
        self.actions([event('Error', details='vcpu unplug request timed '
                                             'out')])
        with self.assertRaisesRegex(
                exceptions.CommandError, 'failed: compute_xloud_adjust: '
                                         'vcpu unplug request timed out'):
            self.run_cmd(adjust.AdjustServer, [
                SID, '--vcpus', '1', '--wait', '--wait-interval', '0'])

    def test_wait_error_from_the_traceback_of_an_admin_view(self):
        self.actions([event('Error', traceback='Traceback\n  ...\n'
                            'XLoudAdjustFailed: balloon did not move')])
        with self.assertRaisesRegex(exceptions.CommandError,
                                    'XLoudAdjustFailed: balloon did not '
                                    'move'):
            self.run_cmd(adjust.AdjustServer, [
                SID, '--memory', '512', '--wait', '--wait-interval', '0'])

    def test_wait_gives_up_after_its_timeout(self):
        self.actions([event(None, finish=False)])
        ticks = iter(range(0, 1000, 10))
        compute = self.app.client_manager.sdk_connection.compute
        with self.assertRaisesRegex(exceptions.CommandError,
                                    'has not finished after 25 s'):
            adjust.wait_action(compute, SID, REQ, 25, 0,
                               out=io.StringIO(),
                               clock=lambda: next(ticks),
                               sleep=lambda s: None)


class PluginTest(unittest.TestCase):

    def test_extension_module(self):
        self.assertEqual('xloud', plugin.API_NAME)
        self.assertIn(plugin.DEFAULT_API_VERSION, plugin.API_VERSIONS)
        instance = mock.Mock()
        self.assertIs(instance.sdk_connection.compute,
                      plugin.make_client(instance))

    def test_entry_points_when_installed(self):
        from importlib import metadata
        try:
            dist = metadata.distribution('xloud-osc')
        except metadata.PackageNotFoundError:
            self.skipTest('xloud-osc is not installed (pip install ./osc)')
        eps = {(e.group, e.name): e.value for e in dist.entry_points}
        self.assertEqual('xloud_osc.v2.adjust:AdjustServer',
                         eps[('openstack.compute.v2', 'server_adjust')])
        self.assertEqual('xloud_osc.v2.adjust:ShowServerAdjust',
                         eps[('openstack.compute.v2',
                              'server_adjust_show')])
        self.assertEqual('xloud_osc.plugin',
                         eps[('openstack.cli.extension', 'xloud')])


if __name__ == '__main__':
    unittest.main()
