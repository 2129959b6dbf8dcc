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

"""The sandbox's configuration files, written from its ports and modes.

nova.conf (with upstream.py's per-release settings and the caller's
overrides), nova-compute.conf (the hypervisor mode's; with several
computes one per compute, ``nova-compute-<host>.conf``), api-paste.ini,
placement.conf and glance-api.conf, all under ``<run dir>/etc``; and the
names the ``headers`` auth mode's clients send (client.py), which are the
ones these files make the services accept. Its own module so that
keystone.py, the MariaDB/RabbitMQ starters and the client take ``ini()``
and these names from below instead of from xloud_sandbox.py.
"""

import os
import shutil
import subprocess
import sys

from sandbox import processes
from sandbox import upstream

# nova's ``host`` of every service, and of the compute when there is one
# (several are compute1, compute2, ...: xloud_sandbox.Compute)
HOSTNAME = 'xloud-sandbox'
# The headers nova-api's keystonecontext filter builds its context from,
# and the token placement's noauth2 gives the admin role to.
TOKEN = 'admin:admin'
PROJECT = 'xloud-demo'
ROLES = 'admin,member,reader'


def ini(sections):
    """Text of an ini file from {section: {key: value}}."""
    out = []
    for section, values in sections.items():
        out.append('[%s]' % section)
        out.extend('%s = %s' % kv for kv in values.items())
        out.append('')
    return '\n'.join(out)


def write(sb):
    """Every configuration file of the sandbox ``sb`` (its ports drawn):
    keystone's too, when it runs one.
    """
    os.makedirs(sb.path('state', 'nova', 'instances'))
    transport = sb.transport_url
    admin_token = {'auth_type': 'admin_token', 'token': TOKEN}
    nova = {
        'DEFAULT': {
            'transport_url': transport,
            'host': HOSTNAME,
            'my_ip': '127.0.0.1',
            'state_path': sb.path('state', 'nova'),
            'instances_path': sb.path('state', 'nova', 'instances'),
            'cpu_allocation_ratio': sb.ratios[0],
            'ram_allocation_ratio': sb.ratios[1],
            'debug': 'True',
            'use_rootwrap_daemon': 'False',
            # periodic tasks start at once, not after a random delay
            'periodic_fuzzy_delay': 0,
        },
        'api': {'auth_strategy': 'keystone'},
        'api_database': {'connection': sb.db_url('nova_api')},
        'database': {'connection': sb.db_url('nova')},
        'conductor': {'workers': 1},
        'scheduler': {'workers': 1,
                      'discover_hosts_in_cells_interval': 2},
        'placement': dict(admin_token,
                          endpoint_override=sb.placement_url),
        'glance': {'api_servers': sb.glance_url},
        'neutron': dict(admin_token, endpoint_override=(
            'http://127.0.0.1:%d' % sb.ports['neutron'])),
        'cinder': {'os_region_name': 'RegionOne'},
        'vnc': {'enabled': 'False'},
        'oslo_concurrency': {'lock_path': sb.path('state', 'locks')},
        # versioned notifications on the bus, as a cloud that bills
        # from them runs (sandbox/notifications.py reads them)
        'oslo_messaging_notifications': {'driver': 'messagingv2'},
        'notifications': {'notification_format': 'versioned'},
    }
    if sb.keystone:
        sb.keystone.write_config()
        # whole sections: placement from the catalog, no admin_token
        nova.update(sb.keystone.nova_conf())
        # policy: nova's defaults; tests write their rules here (oslo
        # policy reloads a changed file)
        with open(sb.path('etc', 'nova-policy.yaml'), 'w') as f:
            f.write('# nova policy overrides: none (the defaults)\n')
        nova['oslo_policy'] = {
            'policy_file': sb.path('etc', 'nova-policy.yaml')}
    for section, values in upstream.NOVA_CONF.items():
        nova.setdefault(section, {}).update(values)
    for section, values in sb.nova_overrides.items():
        nova.setdefault(section, {}).update(values)
    with open(sb.path('etc', 'nova.conf'), 'w') as f:
        f.write(ini(nova))
    for compute in sb.computes:
        with open(compute.conf, 'w') as f:
            f.write(ini(compute_conf(sb, compute)))
    _write_api_paste(sb)
    os.makedirs(sb.path('etc', 'placement'))
    placement = {'api': {'auth_strategy': 'noauth2'},
                 'placement_database': {'connection':
                                        sb.db_url('placement')}}
    if sb.keystone:
        placement.update(sb.keystone.placement_conf())
    with open(sb.path('etc', 'placement', 'placement.conf'), 'w') as f:
        f.write(ini(placement))
    _write_glance(sb)


def compute_conf(sb, compute):
    """A nova-compute's own config, layered on nova.conf: its hypervisor
    mode's (driver, ``[libvirt]``); with more than one compute, first its
    own host name, state path, instances folder and lock path (each host
    of a cloud has its own), which the mode may override.
    """
    conf = {}
    if sb.multi:
        os.makedirs(compute.instances_path, exist_ok=True)
        conf = {'DEFAULT': {'host': compute.host,
                            'state_path': compute.state_path,
                            'instances_path': compute.instances_path},
                'oslo_concurrency': {'lock_path': os.path.join(
                    compute.state_path, 'locks')}}
    for section, values in compute.hyper.nova_conf(sb).items():
        conf.setdefault(section, {}).update(values)
    return conf


def _write_api_paste(sb):
    """The stock api-paste.ini; in the ``headers`` mode without
    authtoken: keystonecontext then trusts the X-* headers.
    """
    tree = subprocess.check_output(
        [sys.executable,
         os.path.join(processes.REPO, 'tools', 'xloud_pq.py'), 'path'],
        universal_newlines=True).strip()
    stock = os.path.join(tree, 'etc', 'nova', 'api-paste.ini')
    with open(stock) as f:
        text = f.read()
    if ' authtoken keystonecontext ' not in text:
        raise processes.SandboxError(
            '%s has no authtoken keystonecontext pipeline to take '
            'authtoken out of' % stock)
    if sb.auth == 'headers':
        text = text.replace(' authtoken keystonecontext ',
                            ' keystonecontext ')
    with open(sb.path('etc', 'api-paste.ini'), 'w') as f:
        f.write(text)


def _write_glance(sb):
    stock = os.path.join(sys.prefix, 'etc', 'glance',
                         'glance-api-paste.ini')
    if not os.path.exists(stock):
        raise processes.SandboxError('no %s: is glance installed?' % stock)
    shutil.copy(stock, sb.path('etc', 'glance-api-paste.ini'))
    store = sb.path('state', 'glance')
    glance = {
        'DEFAULT': {'bind_host': '127.0.0.1',
                    'bind_port': sb.ports['glance'],
                    'workers': 1,
                    'enabled_backends': 'fs:file',
                    'log_file': sb.path('logs', 'glance-api.log')},
        'database': {'connection': sb.db_url('glance')},
        'paste_deploy': {
            'flavor': '',
            'config_file': sb.path('etc', 'glance-api-paste.ini')},
        'glance_store': {'default_backend': 'fs'},
        'fs': {'filesystem_store_datadir': store + '/images'},
        'os_glance_staging_store': {
            'filesystem_store_datadir': store + '/staging'},
        'os_glance_tasks_store': {
            'filesystem_store_datadir': store + '/tasks'},
        'oslo_policy': {'enforce_new_defaults': 'false',
                        'enforce_scope': 'false'}}
    if sb.keystone:
        for section, values in sb.keystone.glance_conf().items():
            glance.setdefault(section, {}).update(values)
    with open(sb.path('etc', 'glance-api.conf'), 'w') as f:
        f.write(ini(glance))


def set_nova_policy(sb, path):
    """Nova's policy file (nova-api's, and Horizon's when it runs): the
    defaults (None) or the rules of the file at ``path``. oslo.policy
    reloads it on its next check: the mtime is moved a second on, so a
    rewrite within the same second is seen too.
    """
    target = sb.path('etc', 'nova-policy.yaml')
    text = '# the defaults\n'
    if path:
        with open(path) as f:
            text = f.read()
    with open(target, 'w') as f:
        f.write(text)
    st = os.stat(target)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 10 ** 9))
