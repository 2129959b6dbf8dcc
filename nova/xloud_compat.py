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

"""Where the upstream releases our overlay runs on differ, in one place.

The overlay is one set of modules for every series (nova 29.4.0 for
2024.1, nova 32.2.1 for 2025.2, nova 33.0.2 for 2026.1, nova 34.0.0 for
2026.2). When an
upstream interface we use is not the same in all of them, the difference
is handled here, by feature (what the release has), never by version
number, and every overlay module calls these helpers instead of testing
for the feature itself.

Imports of upstream modules are done inside the helpers, so that any
layer (API, compute, virt) can import this module cheaply.
"""


def api_validated(cls):
    """Mark an API controller as schema-validated.

    nova 31+ (``nova.api.validation.validated``) requires it of every
    controller in the router (its unit test ``SchemaTest`` fails on an
    unmarked one); older releases have no such marker.
    """
    from nova.api import validation
    marker = getattr(validation, 'validated', None)
    return marker(cls) if marker else cls


def api_response_schema(schema):
    """``nova.api.validation.response_body_schema``, where there is one.

    nova 31+ validates response bodies against a schema (and requires one
    per API method); older releases do not, there this leaves the method
    as it is.
    """
    from nova.api import validation
    decorator = getattr(validation, 'response_body_schema', None)
    if decorator is None:
        return lambda func: func
    return decorator(schema)


def policy_scope_always_enforced():
    """Whether oslo.policy always checks a rule's scope_types.

    oslo.policy 6 (the 2026.2 constraints) dropped the
    ``[oslo_policy] enforce_scope`` option: a system-scoped token never
    passes a project-scoped rule. Older releases have the option (off by
    default in the policy tests' legacy mode).
    """
    from oslo_policy import opts
    return not any(opt.name == 'enforce_scope'
                   for _group, group_opts in opts.list_opts()
                   for opt in group_opts)


def spawn(func, *args, **kwargs):
    """Run ``func`` on Nova's default executor, the context carried over.

    nova 34 moved ``spawn`` from ``nova.utils`` to
    ``nova.thread_pool_factory``; older releases have it in ``nova.utils``.
    """
    try:
        from nova import thread_pool_factory as pools
    except ImportError:
        from nova import utils as pools
    return pools.spawn(func, *args, **kwargs)
