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

"""The adjust's HTTP: xloud_sdk on an openstacksdk connection of the user.

Built as Horizon's own ``openstack_dashboard.api.neutron`` builds its SDK
connection: the request's keystone token on the service's endpoint from
the user's catalog (a keystoneauth ``token_endpoint``), so every call is
the user's own and Nova's policy decides. ``xloud_sdk`` is the only code
that knows the API's paths and bodies.

The adjusts a user started here are remembered in their session (server
id -> request id): the Instances table follows only those servers'
instance actions, so a page of servers costs no extra call per row.
"""

from django.conf import settings
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
import openstack

from horizon.utils.memoized import memoized
from openstack_auth import utils as auth_utils
from openstack_dashboard.api import base

import xloud_sdk

AdjustError = xloud_sdk.AdjustError
SESSION_KEY = 'xloud_adjust_requests'
# how many servers' adjusts a session remembers (the newest)
REMEMBERED = 20


@memoized
def adjust_client(request):
    """An ``xloud_sdk.Adjust`` for this request's user (one a request)."""
    insecure = getattr(settings, 'OPENSTACK_SSL_NO_VERIFY', False)
    cacert = getattr(settings, 'OPENSTACK_SSL_CACERT', None)
    auth = token_endpoint.Token(endpoint=base.url_for(request, 'compute'),
                                token=request.user.token.id)
    sess = ks_session.Session(
        auth=auth, original_ip=auth_utils.get_client_ip(request),
        verify=False if insecure else (cacert or True))
    conn = openstack.connection.Connection(
        session=sess, region_name=request.user.services_region,
        app_name='horizon-xloud', app_version='1.0')
    return xloud_sdk.Adjust(conn)


def show(request, server_id):
    return adjust_client(request).show(server_id)


def check(request, server_id, vcpus=None, memory_mb=None, persist=True):
    return adjust_client(request).check(server_id, vcpus=vcpus,
                                        memory_mb=memory_mb,
                                        persist=persist)


def adjust(request, server_id, vcpus=None, memory_mb=None, persist=True):
    """Start the adjust; remember its request id in the session."""
    request_id = adjust_client(request).adjust(
        server_id, vcpus=vcpus, memory_mb=memory_mb, persist=persist)
    remember(request, server_id, request_id)
    return request_id


def remember(request, server_id, request_id):
    tracked = [item for item in request.session.get(SESSION_KEY, [])
               if item[0] != server_id]
    tracked.append([server_id, request_id])
    request.session[SESSION_KEY] = tracked[-REMEMBERED:]


def tracked_request(request, server_id):
    """The request id of the last adjust of ``server_id`` started in this
    session, or None.
    """
    for sid, request_id in request.session.get(SESSION_KEY, []):
        if sid == server_id:
            return request_id
    return None


def progress(request, server_id):
    """(state, text) of the last adjust of ``server_id`` started in this
    session (``xloud_sdk.Adjust.state``: waiting, running, done, failed),
    or None when it started none.
    """
    request_id = tracked_request(request, server_id)
    if request_id is None:
        return None
    client = adjust_client(request)
    return client.state(client.action(server_id, request_id))
