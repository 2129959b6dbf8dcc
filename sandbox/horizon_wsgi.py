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

"""Horizon's WSGI application for gunicorn, with its static files.

Horizon's own ``openstack_dashboard.wsgi`` application, wrapped in
Django's static files handler (what ``runserver --insecure`` serves
with): a request under STATIC_URL is answered from the collected and
compressed files (``sandbox/horizon.py``), any other goes to Horizon.
For the sandbox on loopback only; a production Horizon serves its static
files by its web server.
"""

from django.contrib.staticfiles.handlers import StaticFilesHandler

from openstack_dashboard.wsgi import application as _horizon

application = StaticFilesHandler(_horizon)
