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

"""Our parts hooked into Horizon's own tables and tab groups.

Horizon's plugin mechanism adds dashboards, panels and tabs
(``EXTRA_TABS``: our detail tab is in the enabled file); a row action or a
column of an existing table is added by changing Horizon's classes, as
its ``customization_module`` does. The classes keep what
their metaclass computed at import (``base_actions``, ``_columns``), so
each addition goes there too. ``apply()`` runs once, from the app's
``ready()``; applying twice changes nothing.
"""

from openstack_dashboard.dashboards.admin.flavors import tables as \
    flavor_tables
from openstack_dashboard.dashboards.project.instances import tables as \
    instance_tables

from xloud_dashboard.adjust import tables as adjust_tables
from xloud_dashboard.flavors import tables as minimum_tables


def add_row_action(table, action, before=None):
    """Add ``action`` (a class) to ``table``'s row actions, before the
    action class ``before`` when given (else last).
    """
    meta = table._meta
    if action in meta.row_actions:
        return
    actions = list(meta.row_actions)
    index = actions.index(before) if before in actions else len(actions)
    actions.insert(index, action)
    meta.row_actions = tuple(actions)
    table.base_actions[action.name] = action()


def add_column(table, name, column, after, status=False):
    """Add ``column`` as ``name`` after the column ``after``; a status
    column joins the table's ``status_columns`` (the row's ajax update).
    """
    if name in table._columns:
        return
    column.name = name
    column.classes.append('normal_column')
    for attr in ('base_columns', '_columns'):
        items = list(getattr(table, attr).items())
        keys = [k for k, _ in items]
        index = keys.index(after) + 1 if after in keys else len(items)
        items.insert(index, (name, column))
        getattr(table, attr).clear()
        getattr(table, attr).update(items)
    if status:
        table._meta.status_columns = list(
            table._meta.status_columns) + [name]


def apply():
    instances = instance_tables.InstancesTable
    add_row_action(instances, adjust_tables.AdjustResources,
                   before=instance_tables.ResizeLink)
    add_column(instances, adjust_tables.COLUMN,
               adjust_tables.AdjustColumn(), after='task', status=True)
    add_row_action(flavor_tables.FlavorsTable,
                   minimum_tables.MinimumResources,
                   before=flavor_tables.DeleteFlavor)
