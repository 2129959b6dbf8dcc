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

"""Bodies the API cannot read are a 400, on our routes and upstream's.

A body that is not UTF-8 made the API's debug line raise
UnicodeDecodeError, and JSON nested deeper than Python's recursion limit
made the JSON reader raise RecursionError: both were a 500 before the
patch make-the-api-answer-400-to-a-body-it-cannot-read. A multipart form
without its boundary made the router (routes' "_method" override) raise
ValueError: a 500 before answer-415-not-500-to-a-form-body-the-router-
cannot-read; a 415 now, as any body that is not JSON.
"""

from oslo_utils.fixture import uuidsentinel as uuids
import webob

from nova import test
from nova.tests.unit.api.openstack import fakes

NOT_UTF8 = b'\xff\xfe{"current_vcpus": 2}'
TOO_DEEP = b'{"a": ' + b'[' * 5000 + b']' * 5000 + b'}'


class BadBodiesTest(test.NoDBTestCase):

    def setUp(self):
        super(BadBodiesTest, self).setUp()
        self.app = fakes.wsgi_app_v21()

    def _post(self, path, body, content_type='application/json'):
        req = webob.Request.blank('/v2.1' + path, method='POST')
        req.content_type = content_type
        req.body = body
        return req.get_response(self.app)

    def _assert_400(self, path, body):
        res = self._post(path, body)
        self.assertEqual(400, res.status_int, res.body)
        self.assertIn(b'Malformed request body', res.body)

    def test_adjust_routes(self):
        for path in ('/servers/%s/os-xloud-adjust' % uuids.server,
                     '/os-xloud-adjust/%s' % uuids.server):
            for body in (NOT_UTF8, TOO_DEEP):
                self._assert_400(path, body)

    def test_upstream_create_server(self):
        for body in (NOT_UTF8, TOO_DEEP):
            self._assert_400('/servers', body)

    def test_upstream_server_action(self):
        for body in (NOT_UTF8, TOO_DEEP):
            self._assert_400('/servers/%s/action' % uuids.server, body)

    def test_form_without_boundary(self):
        for path in ('/servers/%s/os-xloud-adjust' % uuids.server,
                     '/os-xloud-adjust/%s' % uuids.server, '/servers',
                     '/servers/%s/action' % uuids.server):
            res = self._post(path, b'{"current_vcpus": 2}',
                             content_type='multipart/form-data')
            self.assertEqual(415, res.status_int, (path, res.body))
