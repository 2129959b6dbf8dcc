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

"""Unit tests of the SDK extension, on a real openstacksdk Connection whose
HTTP is MOCKED (requests-mock): no cloud runs here. The sandbox's tests
call it against real keystone and Nova (sandbox/tests/test_cli.py).
"""

import unittest

from keystoneauth1 import session
from keystoneauth1 import token_endpoint
from openstack import connection
import requests_mock

import xloud_sdk

NOVA = 'http://nova.test/v2.1'
SID = '9168b536-cd40-4630-b43f-b259807c6e87'
REQ = 'req-1b2c'
ADJUST = NOVA + '/servers/%s/os-xloud-adjust' % SID
ACTION = NOVA + '/servers/%s/os-instance-actions/%s' % (SID, REQ)
RANGE = {'server_id': SID,
         'vcpus': {'minimum': 1, 'current': 2, 'maximum': 4},
         'memory_mb': {'minimum': 512, 'current': 2048, 'maximum': 4096}}
VERSION = {'version': {'id': 'v2.1', 'status': 'CURRENT',
                       'version': '2.96', 'min_version': '2.1',
                       'links': [{'href': NOVA + '/', 'rel': 'self'}]}}


def event(result, finish=True, name=xloud_sdk.EVENT, **kw):
    return dict(kw, event=name, result=result,
                start_time='2026-01-01T00:00:00',
                finish_time='2026-01-01T00:00:01' if finish else None)


class Base(unittest.TestCase):

    def setUp(self):
        self.http = requests_mock.Mocker()
        self.http.start()
        self.addCleanup(self.http.stop)
        # the compute proxy's version discovery
        self.http.get(NOVA, json=VERSION)
        conn = connection.Connection(
            session=session.Session(auth=token_endpoint.Token(NOVA, 'tok')),
            compute_endpoint_override=NOVA)
        self.adj = xloud_sdk.Adjust(conn)

    def posts(self):
        return [r.json() for r in self.http.request_history
                if r.method == 'POST']


class ShowAndFindTest(Base):

    def test_show_is_the_get_body_with_the_token(self):
        self.http.get(ADJUST, json=RANGE)
        self.assertEqual(RANGE, self.adj.show(SID))
        self.assertEqual('tok', self.http.last_request.headers[
            'X-Auth-Token'])

    def test_a_refusal_carries_nova_s_message_and_status(self):
        self.http.get(ADJUST, status_code=403, json={'forbidden': {
            'message': "Policy doesn't allow it"}})
        with self.assertRaises(xloud_sdk.AdjustError) as e:
            self.adj.show(SID)
        self.assertEqual(403, e.exception.status_code)
        self.assertIn("HTTP 403: Policy doesn't allow it", e.exception.message)

    def test_find_by_id_then_by_exact_name(self):
        self.http.get(NOVA + '/servers/' + SID, json={'server': {'id': SID}})
        self.assertEqual(SID, self.adj.find_server(SID))
        self.http.get(NOVA + '/servers/vm.1', status_code=404,
                      json={'itemNotFound': {'message': 'no'}})
        self.http.get(NOVA + '/servers', json={'servers': [{'id': SID}]})
        self.assertEqual(SID, self.adj.find_server('vm.1'))
        # the name is matched whole, its dot taken literally
        self.assertEqual(['^vm\\.1$'], self.http.last_request.qs['name'])

    def test_find_none_or_two(self):
        self.http.get(NOVA + '/servers/vm1', status_code=404,
                      json={'itemNotFound': {'message': 'no'}})
        self.http.get(NOVA + '/servers', [
            {'json': {'servers': []}},
            {'json': {'servers': [{'id': 'a'}, {'id': 'b'}]}}])
        with self.assertRaisesRegex(xloud_sdk.AdjustError,
                                    "No server with a name or ID of 'vm1'"):
            self.adj.find_server('vm1')
        with self.assertRaisesRegex(xloud_sdk.AdjustError,
                                    'More than one .* use its ID \\(a, b\\)'):
            self.adj.find_server('vm1')


class AdjustTest(Base):

    def test_adjust_sends_the_body_and_returns_the_request_id(self):
        self.http.post(ADJUST, status_code=202,
                       headers={'x-openstack-request-id': REQ})
        self.assertEqual(REQ, self.adj.adjust(SID, vcpus=3, memory_mb=3072))
        self.assertEqual([{'current_vcpus': 3, 'current_memory_mb': 3072,
                           'persist': True}], self.posts())

    def test_memory_only_not_persisted_with_a_move(self):
        self.http.post(ADJUST, status_code=202,
                       headers={'x-openstack-request-id': REQ})
        self.adj.adjust(SID, memory_mb=1024, persist=False,
                        allow_migration=True)
        self.assertEqual([{'current_memory_mb': 1024, 'persist': False,
                           'allow_migration': True}], self.posts())

    def test_nothing_to_adjust_sends_nothing(self):
        with self.assertRaisesRegex(xloud_sdk.AdjustError,
                                    'vcpus and/or memory_mb'):
            self.adj.adjust(SID)
        self.assertEqual([], self.posts())

    def test_refused_adjust_says_why(self):
        self.http.post(ADJUST, status_code=409, json={'conflictingRequest': {
            'message': 'has a task in progress (task state resize_prep)'}})
        with self.assertRaises(xloud_sdk.AdjustError) as e:
            self.adj.adjust(SID, vcpus=2)
        self.assertEqual(409, e.exception.status_code)
        self.assertIn('task in progress', e.exception.message)
        self.assertIsNone(e.exception.unsupported)

    def test_check_is_a_dry_run_with_nova_s_answer(self):
        self.http.post(ADJUST, [
            {'json': {'fits': True}},
            {'json': {'fits': False, 'reason': 'the host has no room'}}])
        self.assertEqual({'fits': True}, self.adj.check(SID, vcpus=2))
        self.assertEqual({'fits': False, 'reason': 'the host has no room'},
                         self.adj.check(SID, vcpus=4, persist=False))
        self.assertEqual([{'current_vcpus': 2, 'persist': True,
                           'dry_run': True},
                          {'current_vcpus': 4, 'persist': False,
                           'dry_run': True}], self.posts())

    def test_an_older_nova_refusing_a_key_is_named(self):
        self.http.post(ADJUST, status_code=400, json={'badRequest': {
            'message': "Additional properties are not allowed ('dry_run' "
                       "was unexpected)"}})
        with self.assertRaises(xloud_sdk.AdjustError) as e:
            self.adj.check(SID, vcpus=2)
        self.assertEqual('dry_run', e.exception.unsupported)
        self.assertIn('does not support dry_run', e.exception.message)

    def test_another_400_is_not_called_unsupported(self):
        self.http.post(ADJUST, status_code=400, json={'badRequest': {
            'message': 'current_vcpus 9: from 1 to 4'}})
        with self.assertRaises(xloud_sdk.AdjustError) as e:
            self.adj.check(SID, vcpus=9)
        self.assertIsNone(e.exception.unsupported)
        self.assertIn('HTTP 400: current_vcpus 9: from 1 to 4',
                      e.exception.message)


class ActionTest(Base):

    def answers(self, *events_lists):
        self.http.get(ACTION, [
            {'json': {'instanceAction': {'action': xloud_sdk.ACTION,
                                         'events': evs}}}
            if evs is not None else
            {'status_code': 404, 'json': {'itemNotFound': {
                'message': 'not yet'}}}
            for evs in events_lists])

    def test_action_at_the_events_microversion_or_none(self):
        self.answers(None, [event('Success')])
        self.assertIsNone(self.adj.action(SID, REQ))
        self.assertEqual([event('Success')],
                         self.adj.action(SID, REQ)['events'])
        self.assertEqual('compute 2.84', self.http.last_request.headers[
            'OpenStack-API-Version'])

    def test_states(self):
        state = self.adj.state
        self.assertEqual(('waiting', 'not recorded yet'), state(None))
        self.assertEqual('waiting', state({'events': []})[0])
        self.assertEqual(('running', 'compute_xloud_adjust running'),
                         state({'events': [event(None, finish=False)]}))
        self.assertEqual('done', state({'events': [event('Success')]})[0])
        # a move's events end before the growth's begins: not done yet
        moved = event('Success', name='conductor_live_migrate_instance')
        self.assertEqual('running', state({'events': [moved]})[0])
        self.assertEqual(
            ('failed', 'compute_xloud_adjust: vcpu unplug timed out'),
            state({'events': [event('Error',
                                    details='vcpu unplug timed out')]}))
        self.assertEqual(
            ('failed', 'compute_xloud_adjust: Failed: balloon stuck'),
            state({'events': [event('Error', traceback='Traceback\n'
                                    'Failed: balloon stuck')]}))

    def test_wait_reports_progress_to_the_end(self):
        self.answers(None, [event(None, finish=False)], [event('Success')])
        seen = []
        action = self.adj.wait(SID, REQ, interval=0,
                               progress=lambda *a: seen.append(a[:2]))
        self.assertEqual([event('Success')], action['events'])
        self.assertEqual([('waiting', 'not recorded yet'),
                          ('running', 'compute_xloud_adjust running'),
                          ('done', 'compute_xloud_adjust Success')], seen)

    def test_wait_raises_the_failure_with_its_action(self):
        self.answers([event('Error', details='No valid host was found.',
                            name='conductor_live_migrate_instance')])
        with self.assertRaises(xloud_sdk.AdjustFailed) as e:
            self.adj.wait(SID, REQ, interval=0)
        self.assertIn('conductor_live_migrate_instance: No valid host',
                      e.exception.message)
        self.assertEqual(xloud_sdk.ACTION, e.exception.action['action'])

    def test_wait_gives_up_after_its_timeout(self):
        self.answers([event(None, finish=False)])
        ticks = iter(range(0, 1000, 10))
        with self.assertRaisesRegex(xloud_sdk.AdjustTimeout,
                                    'has not finished after 25 s'):
            self.adj.wait(SID, REQ, timeout=25, interval=0,
                          clock=lambda: next(ticks), sleep=lambda s: None)


if __name__ == '__main__':
    unittest.main()
