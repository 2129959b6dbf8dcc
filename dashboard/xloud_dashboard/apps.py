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

"""The Django app: hooks our parts into Horizon once every app is loaded.

An enabled file's ``ADD_INSTALLED_APPS`` puts ``xloud_dashboard`` in
``INSTALLED_APPS``; ``ready()`` is the one moment that runs in every
process that serves Horizon (the WSGI worker, ``manage.py``, the tests)
after Horizon's own modules can be imported, and before a request.
"""

from django.apps import AppConfig


class XloudDashboardConfig(AppConfig):
    name = 'xloud_dashboard'
    verbose_name = 'XLoud Nova'

    def ready(self):
        from xloud_dashboard import customization
        from xloud_dashboard import policy
        policy.register_defaults()
        customization.apply()
