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

"""Nova's versioned notifications, read the way a billing system reads
them: an oslo.messaging notification listener on the sandbox's RabbitMQ,
topic ``versioned_notifications`` (the sandbox's nova.conf sends them
there, ``messagingv2``, versioned format).

The queues are declared by the sender, so what was sent before the
listener started waits in them; a listener consumes (removes) what it
reads, so one at a time per sandbox.

``python -m sandbox.notifications TRANSPORT_URL [PREFIX]`` prints them as
they come (``tox -e demo -- --keep`` prints the line to use).
"""

import argparse
import json
import sys
import threading
import time

from oslo_config import cfg
import oslo_messaging

TOPIC = 'versioned_notifications'


class Received(object):
    """One notification: its event type, payload, and the request id of
    the context it was sent in.
    """

    def __init__(self, priority, ctxt, event_type, payload):
        self.priority = priority
        self.event_type = event_type
        self.payload = payload
        self.request_id = (ctxt or {}).get('request_id')

    @property
    def data(self):
        """The versioned payload's fields."""
        return self.payload.get('nova_object.data', {})

    def __repr__(self):
        return '<%s %s %s>' % (self.event_type, self.request_id,
                               self.payload.get('nova_object.name'))


class Listener(object):
    """``with Listener(sb) as notes:`` collects every versioned
    notification the sandbox's services send meanwhile (and those queued
    before), in ``notes.received``; ``on_receive(n)`` is called with each.
    """

    def __init__(self, sandbox=None, url=None, on_receive=None):
        self.received = []
        self.on_receive = on_receive
        self._lock = threading.Lock()
        conf = cfg.ConfigOpts()
        conf([], project='xloud-sandbox-notifications')
        self._transport = oslo_messaging.get_notification_transport(
            conf, url=url or sandbox.transport_url)
        self._listener = oslo_messaging.get_notification_listener(
            self._transport, [oslo_messaging.Target(topic=TOPIC)],
            [self], executor='threading')

    def _got(self, priority, ctxt, event_type, payload):
        note = Received(priority, ctxt, event_type, payload)
        with self._lock:
            self.received.append(note)
        if self.on_receive:
            self.on_receive(note)

    # the endpoint: one method per priority Nova sends with
    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self._got('info', ctxt, event_type, payload)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        self._got('error', ctxt, event_type, payload)

    def __enter__(self):
        self._listener.start()
        return self

    def __exit__(self, *exc):
        self._listener.stop()
        self._listener.wait()
        self._transport.cleanup()

    def of_request(self, request_id, prefix=''):
        with self._lock:
            return [n for n in self.received
                    if n.request_id == request_id and
                    n.event_type.startswith(prefix)]

    def wait_for(self, request_id, event_types, timeout=60):
        """The request's notifications once all of ``event_types`` came.

        :raises: RuntimeError naming what came, after ``timeout`` s
        """
        deadline = time.monotonic() + timeout
        while True:
            got = self.of_request(request_id)
            if set(event_types) <= {n.event_type for n in got}:
                return got
            if time.monotonic() > deadline:
                raise RuntimeError('notifications of %s: %s after %d s, '
                                   'not all of %s' % (
                                       request_id, got, timeout,
                                       sorted(event_types)))
            time.sleep(0.1)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m sandbox.notifications',
        description="Print the sandbox's versioned notifications as they "
                    "come (Ctrl-C to stop).")
    parser.add_argument('url', help="the sandbox's transport URL")
    parser.add_argument('prefix', nargs='?', default='instance.xloud_adjust',
                        help='event types to print (default: %(default)s; '
                             "'' for all)")
    args = parser.parse_args(argv)

    def show(note):
        if note.event_type.startswith(args.prefix):
            print(json.dumps({'event_type': note.event_type,
                              'priority': note.priority,
                              'request_id': note.request_id,
                              'payload': note.data}, sort_keys=True),
                  flush=True)
    with Listener(url=args.url, on_receive=show):
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


if __name__ == '__main__':
    sys.exit(main())
