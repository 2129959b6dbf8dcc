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

"""A STAND-IN for neutron: answers every list with an empty list.

The sandbox has no networking service: its servers boot with
``"networks": "none"``, so nova-api never asks neutron to allocate
anything. nova-compute still asks neutron on delete (``GET
/v2.0/ports?device_id=...``) and on a few periodic paths; an empty list is
the true answer for a server without ports. Anything but a GET is refused
(501), so a call this stand-in cannot answer honestly shows in the logs.
"""

import argparse
import http.server
import json


class Handler(http.server.BaseHTTPRequestHandler):

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split('?')[0].strip('/')
        parts = path.split('/')
        if path in ('', 'v2.0'):
            self._send(200, {'versions': [{'id': 'v2.0', 'status': 'CURRENT',
                                           'links': []}]})
        elif parts[0] == 'v2.0' and len(parts) == 2:
            name = parts[1].replace('.json', '').replace('-', '_')
            self._send(200, {name: []})
        else:
            self._send(404, {'NeutronError': {
                'type': 'NotFound', 'message': 'stand-in: no %s' % path,
                'detail': ''}})

    def _refuse(self):
        self._send(501, {'NeutronError': {
            'type': 'NotImplemented', 'detail': '',
            'message': 'neutron stand-in: %s %s is not served' % (
                self.command, self.path)}})

    do_POST = do_PUT = do_DELETE = _refuse


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--port', type=int, required=True)
    args = parser.parse_args()
    server = http.server.ThreadingHTTPServer(('127.0.0.1', args.port),
                                             Handler)
    print('neutron STAND-IN on 127.0.0.1:%d' % args.port, flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
