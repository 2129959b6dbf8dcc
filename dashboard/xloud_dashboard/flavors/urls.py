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

from django.urls import re_path
from django.views.generic import RedirectView

from xloud_dashboard.flavors import views

urlpatterns = [
    # a panel's own page (Horizon reverses every panel's "index", e.g.
    # for a full page's project selector): the table the action is on
    re_path(r'^$', RedirectView.as_view(
        pattern_name='horizon:admin:flavors:index'), name='index'),
    re_path(r'^(?P<flavor_id>[^/]+)/$', views.MinimumView.as_view(),
            name='minimum'),
]
