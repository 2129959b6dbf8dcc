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

"""``openstack server adjust`` and ``openstack server adjust show``."""

import re
import sys
import time

from osc_lib.cli import format_columns
from osc_lib.command import command
from osc_lib import exceptions

# os-instance-actions events carry ``details`` (the error a non-admin may
# see) from this microversion on.
EVENTS_MICROVERSION = '2.84'
ACTION = 'xloud_adjust'
# the growth's own event (the compute's), the last of the action
EVENT = 'compute_xloud_adjust'


def _error(resp):
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


def _check(resp, what, expect=(200,)):
    if resp.status_code not in expect:
        raise exceptions.CommandError('%s: HTTP %d: %s' % (
            what, resp.status_code, _error(resp)))
    return resp


def compute_of(app):
    """openstackclient's compute proxy (openstacksdk, a keystoneauth
    adapter on the session of the command's cloud).
    """
    return app.client_manager.sdk_connection.compute


def find_server(compute, name_or_id):
    """The server's id: by id first, then by exact name."""
    resp = compute.get('/servers/%s' % name_or_id, raise_exc=False)
    if resp.status_code == 200:
        return resp.json()['server']['id']
    if resp.status_code != 404:
        _check(resp, 'server %s' % name_or_id)
    resp = _check(compute.get('/servers', params={
        'name': '^%s$' % re.escape(name_or_id)}, raise_exc=False),
        'servers named %s' % name_or_id)
    found = [s['id'] for s in resp.json()['servers']]
    if not found:
        raise exceptions.CommandError('No server with a name or ID of '
                                      "'%s' exists." % name_or_id)
    if len(found) > 1:
        raise exceptions.CommandError(
            "More than one server exists with the name '%s': use its ID "
            "(%s)." % (name_or_id, ', '.join(found)))
    return found[0]


def get_adjust(compute, server_id):
    return _check(compute.get('/servers/%s/os-xloud-adjust' % server_id,
                              raise_exc=False),
                  'show the adjust of server %s' % server_id).json()


def show_columns(body):
    """(columns, values) of a GET os-xloud-adjust answer, with OSC's
    dict formatter for the ranges. What the guest confirms (``guest``),
    the host's CPU cap (``cpu_cap``) and the autoscaler's state and last
    decision (``autoscale``) come from a cloud whose API shows them, an
    older one has none of them.
    """
    columns = ('server_id', 'vcpus', 'memory_mb')
    values = (body['server_id'],
              format_columns.DictColumn(body['vcpus']),
              format_columns.DictColumn(body['memory_mb']))
    for key in ('guest', 'cpu_cap', 'autoscale'):
        if key in body:
            columns += (key,)
            values += (format_columns.DictColumn(body[key])
                       if body[key] is not None else None,)
    return columns, values


def wait_action(compute, server_id, request_id, timeout, interval,
                out=sys.stderr, clock=time.monotonic, sleep=time.sleep):
    """Follow the instance action until its events have all finished.

    Writes one progress line (rewritten in place) to ``out``; returns the
    action; raises CommandError with the event's error when an event ended
    in Error, or when ``timeout`` seconds passed.
    """
    start = clock()
    path = '/servers/%s/os-instance-actions/%s' % (server_id, request_id)
    shown = ''
    while True:
        resp = compute.get(path, microversion=EVENTS_MICROVERSION,
                           microversion_service_type='compute',
                           raise_exc=False)
        action = None
        if resp.status_code == 200:
            action = resp.json()['instanceAction']
            events = action.get('events') or []
            line = '%s %s: %s (%.0f s)' % (
                ACTION, request_id, ', '.join(
                    '%s %s' % (e['event'], e.get('result') or 'running')
                    for e in events) or 'waiting for the compute',
                clock() - start)
        elif resp.status_code == 404:
            events = []
            line = '%s %s: not recorded yet' % (ACTION, request_id)
        else:
            _check(resp, 'instance action %s' % request_id)
        if line != shown:
            out.write('\r%s\033[K' % line)
            out.flush()
            shown = line
        # Done when the growth's own event finished, or when an event
        # failed with none left running: an adjust that moves the server
        # first (--allow-migration) has the live migration's events
        # before it, which all finish before the growth begins.
        failed = [e for e in events if e.get('result') == 'Error']
        if action is not None and events and all(
                e.get('finish_time') for e in events) and (
                failed or any(e['event'] == EVENT for e in events)):
            out.write('\n')
            out.flush()
            if failed:
                raise exceptions.CommandError(
                    'the adjust of server %s failed: %s' % (
                        server_id, '; '.join(event_error(e) for e in
                                             failed)))
            return action
        if clock() - start > timeout:
            out.write('\n')
            raise exceptions.CommandError(
                'the adjust of server %s (request %s) has not finished '
                'after %d s' % (server_id, request_id, timeout))
        sleep(interval)


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


class AdjustServer(command.ShowOne):
    _description = ("Adjust a running server's vCPUs and memory live, "
                    "between its flavor's minimum and maximum")

    def get_parser(self, prog_name):
        parser = super(AdjustServer, self).get_parser(prog_name)
        parser.add_argument('server', metavar='<server>',
                            help='Server to adjust (name or ID)')
        parser.add_argument('--vcpus', metavar='<count>', type=int,
                            help='vCPUs the server is to run')
        parser.add_argument('--memory', metavar='<mib>', type=int,
                            help='memory in MiB the server is to run')
        parser.add_argument('--no-persist', dest='persist',
                            action='store_false', default=True,
                            help='adjust the running guest only: a reboot '
                                 'or a start brings back the persisted '
                                 'values')
        parser.add_argument('--dry-run', action='store_true',
                            help='check the adjust only ("dry_run": true); '
                                 'nothing changes')
        parser.add_argument('--allow-migration', action='store_true',
                            help='when the growth does not fit the '
                                 "server's host, live-migrate it to a host "
                                 'with room first, then grow it there '
                                 '("allow_migration": true; its own policy '
                                 'rule, admin only by default)')
        parser.add_argument('--wait', action='store_true',
                            help='wait until the adjust has finished, with '
                                 'a progress line; exit non-zero if it '
                                 'failed')
        parser.add_argument('--wait-timeout', metavar='<seconds>',
                            type=float, default=600.0,
                            help='with --wait: give up after this long '
                                 '(default 600)')
        parser.add_argument('--wait-interval', metavar='<seconds>',
                            type=float, default=0.5,
                            help='with --wait: seconds between two polls '
                                 '(default 0.5)')
        return parser

    def take_action(self, args):
        if args.vcpus is None and args.memory is None:
            raise exceptions.CommandError(
                'say what to adjust: --vcpus and/or --memory')
        compute = compute_of(self.app)
        server_id = find_server(compute, args.server)
        body = {'persist': args.persist}
        if args.vcpus is not None:
            body['current_vcpus'] = args.vcpus
        if args.memory is not None:
            body['current_memory_mb'] = args.memory
        if args.dry_run:
            body['dry_run'] = True
        if args.allow_migration:
            body['allow_migration'] = True
        resp = compute.post('/servers/%s/os-xloud-adjust' % server_id,
                            json=body, raise_exc=False)
        if (args.allow_migration and resp.status_code == 400 and
                'allow_migration' in _error(resp)):
            raise exceptions.CommandError(
                "this cloud's Nova does not support --allow-migration yet "
                "(it refused the allow_migration key: %s)" % _error(resp))
        if args.dry_run:
            if resp.status_code == 400 and 'dry_run' in _error(resp):
                raise exceptions.CommandError(
                    "this cloud's Nova does not support --dry-run yet (it "
                    "refused the dry_run key: %s)" % _error(resp))
            _check(resp, 'dry run of the adjust of server %s' % server_id,
                   (200, 202))
            try:
                answer = resp.json()
            except ValueError:
                answer = {}
            columns = ('server_id', 'dry_run', 'result')
            return columns, (server_id, True,
                             format_columns.DictColumn(answer))
        _check(resp, 'adjust of server %s' % server_id, (202,))
        request_id = resp.headers.get('x-openstack-request-id')
        if not args.wait:
            return (('server_id', 'request_id', 'status'),
                    (server_id, request_id, 'accepted'))
        if not request_id:
            raise exceptions.CommandError(
                'the answer has no x-openstack-request-id: cannot follow '
                'the instance action')
        wait_action(compute, server_id, request_id, args.wait_timeout,
                    args.wait_interval, out=self.app.stderr)
        columns, values = show_columns(get_adjust(compute, server_id))
        return (columns + ('request_id', 'status'),
                values + (request_id, 'done'))


class ShowServerAdjust(command.ShowOne):
    _description = ("Show a server's minimum, current and maximum vCPUs "
                    "and memory (os-xloud-adjust)")

    def get_parser(self, prog_name):
        parser = super(ShowServerAdjust, self).get_parser(prog_name)
        parser.add_argument('server', metavar='<server>',
                            help='Server to show (name or ID)')
        return parser

    def take_action(self, args):
        compute = compute_of(self.app)
        return show_columns(get_adjust(compute, find_server(compute,
                                                            args.server)))
