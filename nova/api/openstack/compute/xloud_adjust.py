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

"""``os-xloud-adjust``: adjust a running server's vCPUs and memory live.

``POST /servers/{server_id}/os-xloud-adjust`` (and its alias
``POST /os-xloud-adjust/{server_id}``) starts an asynchronous adjust
(202), or with ``"dry_run": true`` answers whether it would fit (200,
``{"fits": ...}``); ``GET`` on the same paths shows the minimum, current
and maximum of each resource. The work is in ``nova.compute.xloud_api``.
"""

import functools

from oslo_db import exception as db_exc
from webob import exc

from nova.api.openstack import common
from nova.api.openstack.compute.schemas import xloud_adjust as schema
from nova.api.openstack import wsgi
from nova.api import validation
from nova.compute import api as compute
from nova.compute import xloud_api
from nova.compute import xloud_autoscale
from nova.compute import xloud_errors
from nova import exception
from nova.i18n import _
from nova.policies import xloud_adjust as xa_policies
from nova import xloud_compat


def _database_unreachable(func):
    """A 503 that says so, not a 500, while the database cannot be reached
    (a restart, a failover): the request did nothing and may be sent again.
    A request that had begun is undone by its own error handling before
    this; the compute ends what it was cast.
    """
    @functools.wraps(func)
    def wrapper(self, req, server_id, *args, **kwargs):
        try:
            return func(self, req, server_id, *args, **kwargs)
        except db_exc.DBConnectionError:
            raise exc.HTTPServiceUnavailable(explanation=_(
                "The database of server %s cannot be reached now: nothing "
                "was done, try again in a moment.") % server_id)
    return wrapper


@xloud_compat.api_validated
class XloudAdjustController(wsgi.Controller):

    def __init__(self):
        super(XloudAdjustController, self).__init__()
        self.compute_api = compute.API()
        self.adjust_api = xloud_api.XloudAdjustAPI()

    def _get(self, context, server_id):
        try:
            return common.get_instance(
                self.compute_api, context, server_id,
                expected_attrs=['flavor', 'system_metadata', 'metadata'])
        except exception.NovaException as e:
            # The server's cell does not answer: upstream's get() says so
            # with a bare NovaException (a 500 anywhere it is not caught).
            if type(e) is not exception.NovaException:
                raise
            raise exc.HTTPServiceUnavailable(explanation=_(
                "The cell of server %(id)s is not responding: nothing was "
                "done, try again later (%(error)s)") % {
                    'id': server_id, 'error': e.format_message()})

    @staticmethod
    def _count(body, key):
        """A count of the body: a JSON integer, never a float like 2.0.

        The schema says 'integer'; nova 31+ validates with JSON Schema
        Draft 2020-12, which counts 2.0 as one, older releases with Draft 4,
        which does not. Refused here, the API is the same on every release.
        """
        value = body.get(key)
        if isinstance(value, float):
            raise exception.ValidationError(detail=_(
                "Invalid input for field/attribute %(key)s. Value: "
                "%(value)s. %(value)r is not of type 'integer'") % {
                    'key': key, 'value': value})
        return value

    def _view(self, instance):
        view = {'server_id': instance.uuid}
        for name, b in self.adjust_api.show(instance).items():
            view[name] = {'minimum': b.minimum, 'current': b.current,
                          'maximum': b.maximum}
        view.update(self.adjust_api.guest_view(instance))
        view['autoscale'] = xloud_autoscale.view(instance)
        return view

    @wsgi.expected_errors((404, 503))
    @validation.query_schema(schema.show_query)
    @xloud_compat.api_response_schema(schema.show_response)
    @_database_unreachable
    def show(self, req, server_id):
        """The minimum, current and maximum vCPUs and memory (MiB).

        Also what the guest itself last said (``guest``: confirmed only
        when its agent answered) and, while it has more vCPUs plugged than
        it may use, the host's CPU cap (``cpu_cap``) and why; and whether
        the autoscaler sizes it, with its last decision (``autoscale``).
        """
        context = req.environ['nova.context']
        instance = self._get(context, server_id)
        context.can(xa_policies.POLICY_ROOT % 'show',
                    target={'user_id': instance.user_id,
                            'project_id': instance.project_id})
        return self._view(instance)

    @wsgi.response(202)
    @wsgi.expected_errors((400, 403, 404, 409, 503))
    @validation.schema(schema.adjust)
    @xloud_compat.api_response_schema(schema.adjust_response)
    @_database_unreachable
    def create(self, req, server_id, body):
        """Adjust the server's current vCPUs and/or memory live.

        A dry run answers 200 {"fits": true} or {"fits": false, "reason"}
        after the same checks of the request (the same 400/403/404/409).
        With "allow_migration": true, a growth its host has no room for
        live-migrates the server to a host with room, then grows it there
        (a dry run says {"fits": true, "moves": true, "reason"}).
        """
        context = req.environ['nova.context']
        vcpus = self._count(body, 'current_vcpus')
        memory_mb = self._count(body, 'current_memory_mb')
        instance = self._get(context, server_id)
        context.can(xa_policies.POLICY_ROOT % 'adjust',
                    target={'user_id': instance.user_id,
                            'project_id': instance.project_id})
        dry_run = body.get('dry_run', False)
        allow_migration = body.get('allow_migration', False)
        if allow_migration:
            # its own rule: a move is felt by the whole host's other
            # servers and by the network (admin only by default)
            context.can(xa_policies.POLICY_ROOT % 'allow_migration',
                        target={'user_id': instance.user_id,
                                'project_id': instance.project_id})
        try:
            result = self.adjust_api.adjust(
                context, instance,
                vcpus=vcpus, memory_mb=memory_mb,
                persist=body.get('persist', True), dry_run=dry_run,
                allow_migration=allow_migration)
        except exception.TooManyInstances as e:
            raise exc.HTTPForbidden(explanation=e.format_message())
        except xloud_errors.AdjustOutOfRange as e:
            raise exc.HTTPBadRequest(explanation=e.format_message())
        except exception.InstanceInvalidState as e:
            common.raise_http_conflict_for_instance_invalid_state(
                e, 'xloud_adjust', server_id)
        except (exception.InstanceIsLocked,
                xloud_errors.AdjustConflict) as e:
            raise exc.HTTPConflict(explanation=e.format_message())
        except exception.InstanceNotFound as e:
            raise exc.HTTPNotFound(explanation=e.format_message())
        if dry_run:
            return wsgi.ResponseObject(result, code=200)


def _resource():
    return wsgi.Resource(XloudAdjustController())


_METHODS = {'GET': [_resource, 'show'], 'POST': [_resource, 'create']}

# Added to nova.api.openstack.compute.routes.ROUTE_LIST.
ROUTES = (
    ('/servers/{server_id}/os-xloud-adjust', _METHODS),
    ('/os-xloud-adjust/{server_id}', _METHODS),
)
