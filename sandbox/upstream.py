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

"""Where the upstream releases the sandbox runs differ: the one place.

The sandbox starts every API service the same way on every series: its
WSGI application under gunicorn (xloud_sandbox.Sandbox.spawn_wsgi). What
the releases do not share is only where that application lives, and it
is decided here, from what is installed (never from the series name, so
a new release that keeps a layout needs no entry):

- nova-api. Nova 33 (2026.1) removed the eventlet ``nova-api`` server
  and the pbr script ``nova-api-wsgi``; its application is the module
  ``nova.wsgi.osapi_compute`` (which also chooses nova-api's concurrency:
  native threads by default since 33, ``OS_NOVA_DISABLE_EVENTLET_PATCHING``
  overrides). Nova 29 (2024.1) has no ``nova.wsgi`` package; its
  application is ``nova.api.openstack.compute.wsgi.init_application()``,
  what ``nova-api-wsgi`` ran (importing ``nova.api.openstack`` applies
  eventlet's monkey patching, as under uwsgi in devstack).
- Nova 33's graceful shutdown: its managers wait
  ``manager_shutdown_timeout`` (160 s) after SIGTERM; NOVA_CONF sets 0.
- placement-api. openstack-placement 15 (2026.1) no longer ships the
  ``placement-api`` script; ``placement.wsgi.init_application``, what the
  script served, is in 11 (2024.1) and 15 alike, so placement needs no
  branch.
- glance-api. Glance 33 (2026.2) refuses to run as its own server
  ("Standalone glance-api is no longer supported. Deploy Glance under a
  WSGI server using glance.wsgi.api:application"). Where the installed
  glance ships ``glance.wsgi.api`` (32 and 33 do) the sandbox serves that
  application like the other APIs; a release without it keeps the
  ``glance-api`` console script.

What did not change and is used as is: keystone's
``keystone.server.wsgi.initialize_public_application`` (25, 29 and 30),
the other Nova services'
console scripts (``nova-conductor``, ``nova-scheduler``, ``nova-compute``;
in 33 the scheduler runs native threads by default, the conductor and the
compute eventlet, each choosing at its import as the release ships it).
"""

from importlib import metadata

# nova.conf options of newer releases only (an older one ignores an option
# it does not know). manager_shutdown_timeout (Nova 33): on SIGTERM the
# conductor, scheduler and compute managers sleep this long (default
# 160 s) for in-progress tasks; a throw-away sandbox stops at once.
NOVA_CONF = {'DEFAULT': {'manager_shutdown_timeout': 0}}

# gunicorn's "module:callable()" form (gunicorn >= 20.1): the factory runs
# in the worker.
PLACEMENT_APP = 'placement.wsgi:init_application()'
GLANCE_APP = 'glance.wsgi.api:application'
# The first Nova release with the nova.wsgi package (2025.1).
NOVA_WSGI_PACKAGE_SINCE = 31


def nova_has_wsgi_package():
    """Whether the installed Nova ships ``nova.wsgi.osapi_compute``.

    Read from the installed distribution's version, without importing Nova
    (on 29 that applies eventlet's monkey patching in the caller) and
    without a module lookup (from the repository root, our overlay's bare
    ``nova/`` folder would answer as a namespace package).
    """
    major = metadata.version('nova').split('.')[0]
    return int(major) >= NOVA_WSGI_PACKAGE_SINCE


def nova_api_application():
    """nova-api's WSGI application of the installed Nova (see above)."""
    if nova_has_wsgi_package():
        from nova.wsgi import osapi_compute
        return osapi_compute.application
    from nova.api.openstack.compute import wsgi
    return wsgi.init_application()


def nova_api_entry():
    """Which entry point nova_api_application() takes, for the output."""
    if nova_has_wsgi_package():
        return 'nova.wsgi.osapi_compute:application'
    return 'nova.api.openstack.compute.wsgi:init_application()'


def glance_has_wsgi_module():
    """Whether the installed glance ships ``glance.wsgi.api``.

    Read from the distribution's file list: importing glance to find out
    is not the sandbox process's business.
    """
    files = metadata.files('glance') or ()
    return any(str(f) == 'glance/wsgi/api.py' for f in files)
