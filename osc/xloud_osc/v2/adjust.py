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

import sys
import time

from osc_lib.cli import format_columns
from osc_lib.command import command
from osc_lib import exceptions
import xloud_sdk

# kept for callers of the plugin's module; the SDK extension owns them
ACTION = xloud_sdk.ACTION
EVENT = xloud_sdk.EVENT
EVENTS_MICROVERSION = xloud_sdk.EVENTS_MICROVERSION


def compute_of(app):
    """openstackclient's compute proxy (openstacksdk, a keystoneauth
    adapter on the session of the command's cloud).
    """
    return app.client_manager.sdk_connection.compute


def _sdk(call, *args, **kwargs):
    """A call of the SDK extension, its refusal as the CLI's error."""
    try:
        return call(*args, **kwargs)
    except xloud_sdk.AdjustError as e:
        if e.unsupported:
            raise exceptions.CommandError(
                "this cloud's Nova does not support --%s yet (it refused "
                'the %s key: %s)' % (e.unsupported.replace('_', '-'),
                                     e.unsupported, e.message))
        raise exceptions.CommandError(e.message)


def find_server(compute, name_or_id):
    """The server's id: by id first, then by exact name."""
    return _sdk(xloud_sdk.Adjust(compute).find_server, name_or_id)


def get_adjust(compute, server_id):
    return _sdk(xloud_sdk.Adjust(compute).show, server_id)


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
    shown = ['']

    def progress(state, text, elapsed):
        if state == 'done':
            line = '%s %s: %s' % (ACTION, request_id, text)
        else:
            line = '%s %s: %s (%.0f s)' % (ACTION, request_id, text,
                                           elapsed)
        if line != shown[0]:
            out.write('\r%s\033[K' % line)
            out.flush()
            shown[0] = line

    try:
        return _sdk(xloud_sdk.Adjust(compute).wait, server_id, request_id,
                    timeout=timeout, interval=interval, progress=progress,
                    clock=clock, sleep=sleep)
    finally:
        out.write('\n')
        out.flush()


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
        adj = xloud_sdk.Adjust(compute)
        server_id = find_server(compute, args.server)
        wanted = dict(vcpus=args.vcpus, memory_mb=args.memory,
                      persist=args.persist,
                      allow_migration=args.allow_migration)
        if args.dry_run:
            answer = _sdk(adj.check, server_id, **wanted)
            columns = ('server_id', 'dry_run', 'result')
            return columns, (server_id, True,
                             format_columns.DictColumn(answer))
        request_id = _sdk(adj.adjust, server_id, **wanted)
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
