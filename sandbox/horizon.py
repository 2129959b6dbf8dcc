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

"""REAL Horizon for the sandbox, with our plugin (``dashboard/``).

Horizon from PyPI at the series' release (upper-constraints: horizon
25.7.3 for 2026.1) and xloud-dashboard, both in the sandbox's venv, set
up as an operator sets up a Horizon container (``dashboard/README.rst``):
the plugin's enabled files copied into ``openstack_dashboard/local/
enabled/``, a ``local_settings.py`` there, Nova's policy file of the
cloud given to Horizon. The venv is the sandbox's own, so that is where
they go; the run's own values (keystone's URL, the policy file, a secret
key) come from ``<run dir>/etc/horizon/settings.json``, named by
``XLOUD_HORIZON_SETTINGS`` in Horizon's environment.

Django runs under gunicorn (``horizon_wsgi.py``), one worker with
threads, on 127.0.0.1. Static files: collected and compressed offline
(``collectstatic``, ``compress``: Horizon's production way, DEBUG off)
once per venv into ``<venv>/var/xloud-horizon-static`` (about 10 s, then
kept; they depend only on the installed packages, and our plugin has
none of its own), and served by the same gunicorn through Django's own
static files handler, as ``runserver --insecure`` does: a sandbox on
loopback, not a production deployment (which serves them by its web
server).

Optional: ``Sandbox(dashboard=True)`` starts it (``tox -e demo`` and
``tox -e dashboard`` do); the other sandbox tests leave it off.
"""

import json
import os
import secrets
import shutil
import sys

from sandbox import processes

REPO = processes.REPO
SETTINGS_ENV = 'XLOUD_HORIZON_SETTINGS'
ENABLED = ('_1795_project_xloud_adjust.py',
           '_2195_admin_xloud_flavor_minimum.py')

# the venv's openstack_dashboard/local/local_settings.py: the run's values
# from the JSON file the sandbox names
LOCAL_SETTINGS = '''\
# Written by the XLoud sandbox (sandbox/horizon.py): this venv's Horizon
# serves the sandbox. The run's values come from the JSON file named by
# XLOUD_HORIZON_SETTINGS; without it (collectstatic, compress) the
# defaults below.
import json as _json
import os as _os

_conf = {}
if _os.environ.get('XLOUD_HORIZON_SETTINGS'):
    with open(_os.environ['XLOUD_HORIZON_SETTINGS']) as _f:
        _conf = _json.load(_f)

DEBUG = False
# served at the root of its own port
WEBROOT = '/'
ALLOWED_HOSTS = ['127.0.0.1', 'localhost']
SECRET_KEY = _conf.get('secret_key', 'collectstatic-only')
OPENSTACK_KEYSTONE_URL = _conf.get('keystone_url',
                                   'http://127.0.0.1:5000/v3')
OPENSTACK_KEYSTONE_DEFAULT_ROLE = 'member'
# a cloud of one machine: no memcached; sessions in the one worker's
# memory (a signed cookie would outgrow the browser's 4 KB limit: the
# token, the catalog and the adjusts the session follows)
CACHES = {'default': {
    'BACKEND': 'django.core.cache.backends.locmem.LocMemCache'}}
SESSION_ENGINE = 'django.contrib.sessions.backends.cache'
STATIC_ROOT = _conf.get('static_root', %(static_root)r)
COMPRESS_OFFLINE = True
# Nova's policy file of this cloud, the same nova-api reads: Horizon's
# checks (our row action's among them) follow it
if _conf.get('nova_policy'):
    POLICY_FILES = {
        'identity': 'keystone_policy.yaml',
        'compute': _conf['nova_policy'],
        'volume': 'cinder_policy.yaml',
        'image': 'glance_policy.yaml',
        'network': 'neutron_policy.yaml',
    }
# no neutron (the sandbox's stand-in answers empty lists), no cinder
OPENSTACK_NEUTRON_NETWORK = {'enable_router': False,
                             'enable_quotas': False,
                             'enable_distributed_router': False,
                             'enable_ha_router': False,
                             'enable_fip_topology_check': False}
LOGGING = {
    'version': 1, 'disable_existing_loggers': False,
    'handlers': {'console': {'class': 'logging.StreamHandler'}},
    'root': {'handlers': ['console'], 'level': 'INFO'},
}
'''


def package_dir(name):
    import importlib.util
    return os.path.dirname(importlib.util.find_spec(name).origin)


def static_root():
    return os.path.join(sys.prefix, 'var', 'xloud-horizon-static')


def _stamp():
    from importlib import metadata
    return ' '.join('%s=%s' % (p, metadata.version(p)) for p in (
        'horizon', 'Django', 'django-compressor', 'xloud-dashboard'))


class Horizon(object):

    def __init__(self, sandbox):
        self.sb = sandbox
        self.secret = secrets.token_hex(24)

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.sb.ports['horizon']

    @property
    def settings_path(self):
        return self.sb.path('etc', 'horizon', 'settings.json')

    def _env(self):
        return dict(os.environ, DJANGO_SETTINGS_MODULE=(
            'openstack_dashboard.settings'), **{
            SETTINGS_ENV: self.settings_path})

    # ---- the install, as in a Horizon container
    def install(self):
        """The enabled files and local_settings.py into the venv's
        Horizon; the static files collected and compressed when the
        installed packages changed.
        """
        local = os.path.join(package_dir('openstack_dashboard'), 'local')
        enabled = os.path.join(package_dir('xloud_dashboard'), 'enabled')
        for name in ENABLED:
            shutil.copyfile(os.path.join(enabled, name),
                            os.path.join(local, 'enabled', name))
        with open(os.path.join(local, 'local_settings.py'), 'w') as f:
            f.write(LOCAL_SETTINGS % {'static_root': static_root()})
        stamp_path = os.path.join(static_root(), '.xloud-stamp')
        stamp = _stamp()
        try:
            with open(stamp_path) as f:
                if f.read() == stamp:
                    return False
        except OSError:
            pass
        admin = processes.venv_bin('django-admin')
        env = dict(os.environ,
                   DJANGO_SETTINGS_MODULE='openstack_dashboard.settings')
        env.pop(SETTINGS_ENV, None)
        for cmd in (['collectstatic', '--noinput', '-v0'],
                    ['compress', '--force', '-v0']):
            self.sb.run('horizon-static', [admin] + cmd, env=env)
        with open(stamp_path, 'w') as f:
            f.write(stamp)
        return True

    def write_config(self):
        os.makedirs(os.path.dirname(self.settings_path), exist_ok=True)
        with open(self.settings_path, 'w') as f:
            json.dump({
                'secret_key': self.secret,
                'keystone_url': self.sb.keystone.url + '/v3',
                'static_root': static_root(),
                'nova_policy': self.sb.path('etc', 'nova-policy.yaml'),
            }, f, indent=1)

    def start(self):
        self.install()
        self.write_config()
        proc = self.sb.spawn_wsgi(
            'horizon', 'sandbox.horizon_wsgi:application',
            self.sb.ports['horizon'], env=self._env(), threads=4)
        self.sb.wait_for(proc, self.sb.http_ok(self.url + '/auth/login/'),
                         'HTTP answer', timeout=120)

    def describe(self):
        from importlib import metadata
        return ('horizon', True, 'Horizon %s (PyPI, the series\' release) '
                'with xloud-dashboard under gunicorn, %s' % (
                    metadata.version('horizon'), self.url))


def static_files_ready():
    return os.path.exists(os.path.join(static_root(), '.xloud-stamp'))


if __name__ == '__main__':
    sys.exit('a module of the sandbox: see xloud_sandbox.py')
