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

"""Generated bad requests to the live adjust's two routes, and the
concurrency rounds' requests sent at once.

What an attacker or a broken client sends: any JSON (the types and sizes
an attacker would try, deep nesting), bytes that are no JSON or no UTF-8,
every method, content types the API must refuse, server ids that are not
one. Shared by the functional campaign (``test_xloud_campaign``) and the
sandbox's, which sends them over HTTP with keystone tokens; it needs only
the standard library and oslo, so the sandbox imports it from the
installed tree. Pass a seeded ``random.Random``: a run is repeatable and a
failure names its case.
"""

import threading

from oslo_serialization import jsonutils
from oslo_utils.fixture import uuidsentinel as uuids

ROUTES = ('/servers/%s/os-xloud-adjust', '/os-xloud-adjust/%s')
METHODS = ('POST',) * 6 + ('GET', 'PUT', 'DELETE', 'PATCH')
CONTENT_TYPES = ('application/json',) * 5 + (
    None, 'text/plain', 'application/x-www-form-urlencoded',
    'application/json; charset=latin-1', 'multipart/form-data', '*/*')
KEYS = ('current_vcpus', 'current_memory_mb', 'persist', 'dry_run')


def _value(rng, depth=0):
    """Any JSON value: the types and sizes an attacker would send."""
    kind = rng.randrange(12 if depth < 3 else 8)
    if kind == 0:
        return rng.randrange(-2 ** 70, 2 ** 70)
    if kind == 1:
        return rng.choice((0, 1, 2, 3, 4, 5, 1024, 2048, 4096, -1, 2 ** 31,
                           2 ** 63, 10 ** 20))
    if kind == 2:
        return rng.choice((1.5, -0.0, 2.0, 1e308, float(rng.randrange(9))))
    if kind == 3:
        return rng.choice((True, False, None))
    if kind == 4:
        return rng.choice(('', '2', '1024', 'true', 'x' * rng.randrange(
            1, 70000), '\u00e9\u0000', '\ud800'))
    if kind in (5, 6, 7):
        return rng.choice((1, 2, 3, 4, 1024, 2048, 3072))
    if kind in (8, 9):
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return _object(rng, depth + 1)


def _object(rng, depth=0):
    keys = list(KEYS) + ['', 'vcpus', 'current_vcpus ', 'x' * 300]
    return {rng.choice(keys): _value(rng, depth)
            for _ in range(rng.randrange(4))}


def bad_body(rng):
    """(bytes, description) of one body."""
    kind = rng.randrange(10)
    if kind < 5:
        doc = _object(rng)
    elif kind == 5:
        doc = _value(rng)
    elif kind == 6:
        depth = rng.choice((10, 200, 1000, 5000))
        return (b'[' * depth + b']' * depth, 'nested %d' % depth)
    elif kind == 7:
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
        return raw, 'bytes %r' % raw[:20]
    elif kind == 8:
        return (rng.choice((b'', b'{', b'{"current_vcpus": 2', b'\xff',
                            b'{"current_vcpus": 2}\xff', b'null', b'[]',
                            b'{"current_vcpus": NaN}', b'\xef\xbb\xbf{}')),
                'raw')
    else:
        doc = {'current_vcpus': rng.randrange(-1, 6)}
    try:
        text = jsonutils.dumps(doc)
    except ValueError:
        text = '{}'
    return text.encode('utf-8', 'surrogatepass'), text[:80]


def bad_request(rng, server_id):
    """One generated request: (method, path, body, content type, text)."""
    target = rng.choice((server_id,) * 6 + (
        uuids.missing, 'not-a-uuid', 'x' * 300, '%00', '%C3%A9', '..',
        server_id.upper(), ' '))
    path = rng.choice(ROUTES) % target
    body, text = bad_body(rng)
    method = rng.choice(METHODS)
    content_type = rng.choice(CONTENT_TYPES)
    return method, path, body, content_type, '%s %s %s [%s]' % (
        method, path[:60], text, content_type)


def at_once(calls):
    """Run the callables at the same moment, a thread each, released by
    one gate: a concurrency round. Their results, in order; the first
    exception one raised is raised once all have ended.
    """
    gate = threading.Event()
    results = [None] * len(calls)
    errors = []

    def run(index, call):
        gate.wait()
        try:
            results[index] = call()
        except Exception as e:
            errors.append(e)
    threads = [threading.Thread(target=run, args=pair)
               for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
