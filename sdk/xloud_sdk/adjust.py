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

"""The adjust's HTTP calls, on openstacksdk's compute proxy.

Every call goes through the proxy (a keystoneauth adapter on the
connection's session), so the catalog, the region, the token and its
renewal are the connection's own. Nova's answer is passed on as it is:
a refused call raises :class:`AdjustError` with Nova's own message and
status, which says what to fix.
"""

import re
import time

# os-instance-actions events carry ``details`` (the error a non-admin may
# see) from this microversion on.
EVENTS_MICROVERSION = '2.84'
ACTION = 'xloud_adjust'
# the growth's own event (the compute's), the last of the action
EVENT = 'compute_xloud_adjust'


class AdjustError(Exception):
    """Nova refused a call: ``status_code`` and Nova's ``message``;
    ``unsupported`` names the body key an older Nova refused.
    """

    def __init__(self, message, status_code=None, unsupported=None):
        super(AdjustError, self).__init__(message)
        self.message = message
        self.status_code = status_code
        self.unsupported = unsupported


class AdjustFailed(AdjustError):
    """The adjust was accepted and then failed: ``action`` is its record."""

    def __init__(self, message, action):
        super(AdjustFailed, self).__init__(message)
        self.action = action


class AdjustTimeout(AdjustError):
    """The adjust's action has not ended within the wait's timeout."""


def nova_message(resp):
    """The message of a Nova error answer (or its text)."""
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:500]
    if isinstance(body, dict) and len(body) == 1:
        inner = list(body.values())[0]
        if isinstance(inner, dict) and 'message' in inner:
            return inner['message']
    return str(body)[:500]


def event_error(event):
    """What an Error event says: its ``details`` (2.84), else the last
    line of its traceback (admins), else its name.
    """
    if event.get('details'):
        return '%s: %s' % (event['event'], event['details'])
    tb = (event.get('traceback') or '').strip().splitlines()
    if tb:
        return '%s: %s' % (event['event'], tb[-1])
    return '%s: Error' % event['event']


class Adjust(object):
    """The adjust of one cloud's servers.

    ``conn`` is an ``openstack.connection.Connection``; its compute proxy
    (or any keystoneauth adapter of the compute service, as
    openstackclient hands its commands) may be given directly.
    """

    def __init__(self, conn):
        self.compute = getattr(conn, 'compute', conn)

    def _call(self, method, path, what, expect=(200,), **kwargs):
        resp = getattr(self.compute, method)(path, raise_exc=False,
                                             **kwargs)
        if resp.status_code not in expect:
            raise AdjustError('%s: HTTP %d: %s' % (
                what, resp.status_code, nova_message(resp)),
                resp.status_code)
        return resp

    def find_server(self, name_or_id):
        """The server's id: by id first, then by exact name."""
        resp = self.compute.get('/servers/%s' % name_or_id,
                                raise_exc=False)
        if resp.status_code == 200:
            return resp.json()['server']['id']
        if resp.status_code != 404:
            self._call('get', '/servers/%s' % name_or_id,
                       'server %s' % name_or_id)
        found = [s['id'] for s in self._call(
            'get', '/servers', 'servers named %s' % name_or_id,
            params={'name': '^%s$' % re.escape(name_or_id)}).json()[
                'servers']]
        if not found:
            raise AdjustError("No server with a name or ID of '%s' "
                              'exists.' % name_or_id, 404)
        if len(found) > 1:
            raise AdjustError(
                "More than one server exists with the name '%s': use its "
                'ID (%s).' % (name_or_id, ', '.join(found)), 409)
        return found[0]

    def show(self, server_id):
        """The GET body: ``vcpus`` and ``memory_mb`` as minimum, current
        and maximum; ``guest``, ``cpu_cap`` and ``autoscale`` where the
        cloud's Nova shows them.
        """
        return self._call('get', '/servers/%s/os-xloud-adjust' % server_id,
                          'show the adjust of server %s' % server_id).json()

    @staticmethod
    def _body(vcpus, memory_mb, persist, allow_migration):
        if vcpus is None and memory_mb is None:
            raise AdjustError('say what to adjust: vcpus and/or memory_mb',
                              400)
        body = {'persist': persist}
        if vcpus is not None:
            body['current_vcpus'] = vcpus
        if memory_mb is not None:
            body['current_memory_mb'] = memory_mb
        if allow_migration:
            body['allow_migration'] = True
        return body

    def _post(self, server_id, body, what, expect):
        resp = self.compute.post('/servers/%s/os-xloud-adjust' % server_id,
                                 json=body, raise_exc=False)
        if resp.status_code == 400:
            # an older Nova's schema refuses a key it does not know yet
            message = nova_message(resp)
            for key in ('dry_run', 'allow_migration'):
                if key in body and "'%s'" % key in message:
                    raise AdjustError(
                        "this cloud's Nova does not support %s yet (it "
                        'refused the key: %s)' % (key, message), 400,
                        unsupported=key)
        if resp.status_code not in expect:
            raise AdjustError('%s: HTTP %d: %s' % (
                what, resp.status_code, nova_message(resp)),
                resp.status_code)
        return resp

    def check(self, server_id, vcpus=None, memory_mb=None, persist=True,
              allow_migration=False):
        """The dry run: Nova's answer, ``{"fits": true}`` or ``{"fits":
        false, "reason": ...}`` (``"moves": true`` when the growth would
        move the server). Nothing changes.
        """
        body = self._body(vcpus, memory_mb, persist, allow_migration)
        body['dry_run'] = True
        resp = self._post(server_id, body, 'dry run of the adjust of '
                          'server %s' % server_id, (200, 202))
        try:
            return resp.json()
        except ValueError:
            return {}

    def adjust(self, server_id, vcpus=None, memory_mb=None, persist=True,
               allow_migration=False):
        """Send the adjust; returns its request id, the id of its instance
        action (None from a cloud that does not say it).
        """
        body = self._body(vcpus, memory_mb, persist, allow_migration)
        resp = self._post(server_id, body,
                          'adjust of server %s' % server_id, (202,))
        return resp.headers.get('x-openstack-request-id')

    def action(self, server_id, request_id):
        """The adjust's instance action with its events, None while it is
        not recorded yet.
        """
        path = '/servers/%s/os-instance-actions/%s' % (server_id,
                                                       request_id)
        resp = self.compute.get(path, microversion=EVENTS_MICROVERSION,
                                raise_exc=False)
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise AdjustError('instance action %s: HTTP %d: %s' % (
                request_id, resp.status_code, nova_message(resp)),
                resp.status_code)
        return resp.json()['instanceAction']

    @staticmethod
    def state(action):
        """``(state, text)`` of an action: ``waiting``, ``running``,
        ``done`` or ``failed``, and what its events say.

        Done when the growth's own event finished, failed when an event
        failed with none left running: an adjust that moves the server
        first (allow_migration) has the live migration's events before
        the growth's, which all finish before the growth begins.
        """
        if action is None:
            return 'waiting', 'not recorded yet'
        events = action.get('events') or []
        if not events:
            return 'waiting', 'waiting for the compute'
        failed = [e for e in events if e.get('result') == 'Error']
        if all(e.get('finish_time') for e in events):
            if failed:
                return 'failed', '; '.join(event_error(e) for e in failed)
            if any(e['event'] == EVENT for e in events):
                return 'done', '%s %s' % (EVENT, 'Success')
        return 'running', ', '.join(
            '%s %s' % (e['event'], e.get('result') or 'running')
            for e in events)

    def wait(self, server_id, request_id, timeout=600.0, interval=0.5,
             progress=None, clock=time.monotonic, sleep=time.sleep):
        """Follow the action until it ends; returns it.

        ``progress(state, text, elapsed)`` is called after each poll.
        Raises :class:`AdjustFailed` with the failed events' errors, or
        :class:`AdjustTimeout` after ``timeout`` seconds.
        """
        start = clock()
        while True:
            action = self.action(server_id, request_id)
            state, text = self.state(action)
            if progress is not None:
                progress(state, text, clock() - start)
            if state == 'done':
                return action
            if state == 'failed':
                raise AdjustFailed('the adjust of server %s failed: %s' % (
                    server_id, text), action)
            if clock() - start > timeout:
                raise AdjustTimeout(
                    'the adjust of server %s (request %s) has not finished '
                    'after %d s' % (server_id, request_id, timeout))
            sleep(interval)
