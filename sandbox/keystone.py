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

"""REAL keystone for the sandbox.

keystone from PyPI at the series' release (UPSTREAM's [services]), its
database on the sandbox's MariaDB, fernet tokens, ``keystone-manage
bootstrap``, served by gunicorn (a real WSGI server) on 127.0.0.1. Then,
through keystone's own v3 API as an operator would: the catalog (compute,
placement, image), the service users nova/placement/glance, and the users
of the demo: an admin, a member and a reader of the demo project and a
member of another project. The passwords are drawn at each start.

The services authenticate with keystonemiddleware's ``authtoken`` as in
production: ``nova_conf()``, ``placement_conf()`` and ``glance_conf()``
give their sections. ``clouds_yaml()`` writes one cloud entry per user.
"""

import grp
import os
import pwd
import secrets
import sys

import requests

from sandbox import configs
from sandbox import processes


DOMAIN = 'Default'
REGION = 'RegionOne'
DEMO_PROJECT = 'xloud-demo'
OTHER_PROJECT = 'xloud-other'
SERVICE_PROJECT = 'service'
# the users of the demo: name -> (project, role)
USERS = {
    'admin': (DEMO_PROJECT, 'admin'),
    'member': (DEMO_PROJECT, 'member'),
    'reader': (DEMO_PROJECT, 'reader'),
    'other': (OTHER_PROJECT, 'member'),
}
# the services' own users (project "service", roles admin and service)
SERVICES = {
    'nova': ('compute', 'nova'),
    'placement': ('placement', 'placement'),
    'glance': ('image', 'glance'),
}


class KeystoneError(Exception):
    pass


def user_name(who):
    """keystone's user name of a demo user."""
    return 'xloud-%s' % who


class Keystone(object):

    def __init__(self, sandbox):
        self.sb = sandbox
        self.passwords = {name: secrets.token_hex(12)
                          for name in list(USERS) + list(SERVICES) +
                          ['bootstrap']}
        self.ids = {}
        self.tokens = {}

    # ---- paths and urls
    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.sb.ports['keystone']

    @property
    def conf_path(self):
        return self.sb.path('etc', 'keystone', 'keystone.conf')

    def _env(self):
        return dict(os.environ,
                    OS_KEYSTONE_CONFIG_FILES=self.conf_path,
                    OS_KEYSTONE_CONFIG_DIR=os.path.dirname(self.conf_path))

    # ---- configs of keystone and of the services
    def write_config(self):
        etc = os.path.dirname(self.conf_path)
        os.makedirs(etc)
        keys = self.sb.path('state', 'keystone')
        with open(self.conf_path, 'w') as f:
            f.write(configs.ini({
                'DEFAULT': {'debug': 'False'},
                'database': {'connection': self.sb.db_url('keystone')},
                'token': {'provider': 'fernet'},
                'fernet_tokens': {'key_repository': keys + '/fernet-keys'},
                'fernet_receipts': {
                    'key_repository': keys + '/fernet-keys'},
                'credential': {
                    'key_repository': keys + '/credential-keys'},
                # one worker: its own memory is a cache it shares with
                # nobody (tokens, roles, catalog)
                'cache': {'enabled': 'True',
                          'backend': 'dogpile.cache.memory'},
                # bcrypt's fewest rounds: a throw-away cloud on 2 loaded
                # cores, where each password check is a token request
                'identity': {'password_hash_rounds': '4'},
            }))

    def authtoken(self, service):
        """keystonemiddleware's [keystone_authtoken] of a service."""
        return {
            'www_authenticate_uri': self.url + '/v3',
            'auth_url': self.url + '/v3',
            'auth_type': 'password',
            'username': service,
            'password': self.passwords[service],
            'project_name': SERVICE_PROJECT,
            'user_domain_name': DOMAIN,
            'project_domain_name': DOMAIN,
            'region_name': REGION,
        }

    def service_auth(self, service):
        """A keystoneauth password section (nova's [placement] ...)."""
        return {
            'auth_type': 'password',
            'auth_url': self.url + '/v3',
            'username': service,
            'password': self.passwords[service],
            'project_name': SERVICE_PROJECT,
            'user_domain_name': DOMAIN,
            'project_domain_name': DOMAIN,
            'region_name': REGION,
        }

    def nova_conf(self):
        return {'keystone_authtoken': self.authtoken('nova'),
                # placement found in keystone's catalog
                'placement': dict(self.service_auth('nova'),
                                  valid_interfaces='public')}

    def placement_conf(self):
        return {'api': {'auth_strategy': 'keystone'},
                'keystone_authtoken': self.authtoken('placement')}

    def glance_conf(self):
        return {'paste_deploy': {'flavor': 'keystone'},
                'keystone_authtoken': self.authtoken('glance')}

    # ---- start
    def sync(self):
        """db_sync, the fernet and credential keys."""
        manage = [processes.venv_bin('keystone-manage'),
                  '--config-file', self.conf_path]
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        self.sb.run('keystone-manage', manage + ['db_sync'])
        for what in ('fernet_setup', 'credential_setup'):
            self.sb.run('keystone-manage', manage + [
                what, '--keystone-user', user, '--keystone-group', group])

    def start(self):
        proc = self.sb.spawn_wsgi('keystone',
                                  'sandbox.keystone_wsgi:application',
                                  self.sb.ports['keystone'], env=self._env(),
                                  threads=4)
        self.sb.run('keystone-manage', [
            processes.venv_bin('keystone-manage'), '--config-file',
            self.conf_path, 'bootstrap',
            '--bootstrap-password', self.passwords['bootstrap'],
            '--bootstrap-admin-url', self.url + '/v3',
            '--bootstrap-public-url', self.url + '/v3',
            '--bootstrap-internal-url', self.url + '/v3',
            '--bootstrap-region-id', REGION])
        self.sb.wait_for(proc, self.sb.http_ok(self.url + '/v3'),
                         'HTTP answer', timeout=120)
        self.populate()

    # ---- keystone's v3 API
    def token(self, username, password, project, domain=DOMAIN):
        body = {'auth': {
            'identity': {'methods': ['password'], 'password': {'user': {
                'name': username, 'password': password,
                'domain': {'name': domain}}}},
            'scope': {'project': {'name': project,
                                  'domain': {'name': domain}}}}}
        resp = requests.post(self.url + '/v3/auth/tokens', json=body,
                             timeout=30)
        if resp.status_code != 201:
            raise KeystoneError('token of %s in %s: HTTP %d %s' % (
                username, project, resp.status_code, resp.text[:500]))
        return resp.headers['X-Subject-Token']

    def user_token(self, who):
        """A project-scoped token of a demo user (USERS)."""
        return self.token(user_name(who), self.passwords[who],
                          USERS[who][0])

    def _api(self, token, method, path, expect, **kw):
        resp = requests.request(method, self.url + '/v3' + path,
                                headers={'X-Auth-Token': token},
                                timeout=30, **kw)
        if resp.status_code not in expect:
            raise KeystoneError('%s /v3%s: HTTP %d %s' % (
                method, path, resp.status_code, resp.text[:500]))
        return resp.json() if resp.content else None

    def populate(self):
        tok = self.token('admin', self.passwords['bootstrap'], 'admin')

        def create(kind, body):
            key = kind[:-1]
            return self._api(tok, 'POST', '/' + kind, (201,),
                             json={key: body})[key]['id']

        domain = self._api(tok, 'GET', '/domains?name=%s' % DOMAIN,
                           (200,))['domains'][0]['id']
        roles = {r['name']: r['id'] for r in self._api(
            tok, 'GET', '/roles', (200,))['roles']}
        if 'service' not in roles:
            roles['service'] = create('roles', {'name': 'service'})
        projects = {}
        for name in (DEMO_PROJECT, OTHER_PROJECT, SERVICE_PROJECT):
            projects[name] = create('projects', {
                'name': name, 'domain_id': domain})
        self.ids['projects'] = projects

        def grant(project, user, role):
            self._api(tok, 'PUT', '/projects/%s/users/%s/roles/%s' % (
                projects[project], user, roles[role]), (204,))

        users = {}
        for who, (project, role) in sorted(USERS.items()):
            users[who] = create('users', {
                'name': user_name(who), 'domain_id': domain,
                'password': self.passwords[who],
                'default_project_id': projects[project]})
            grant(project, users[who], role)
        for name, (stype, _) in sorted(SERVICES.items()):
            users[name] = create('users', {
                'name': name, 'domain_id': domain,
                'password': self.passwords[name]})
            grant(SERVICE_PROJECT, users[name], 'admin')
            grant(SERVICE_PROJECT, users[name], 'service')
        self.ids['users'] = users
        self.ids['roles'] = roles
        urls = {'compute': self.sb.nova_url,
                'placement': self.sb.placement_url,
                'image': self.sb.glance_url}
        catalog = [(name, stype) for name, (stype, _) in
                   sorted(SERVICES.items())]
        if getattr(self.sb, 'horizon', None) is not None:
            # Horizon's instance pages ask the catalog's network service
            # (ports, security groups) and fail without one: the neutron
            # STAND-IN's empty lists are the true answer for servers
            # booted with networks "none". Nova finds it by its own
            # endpoint_override, catalog or not.
            urls['network'] = 'http://127.0.0.1:%d' % self.sb.ports[
                'neutron']
            catalog.append(('neutron', 'network'))
        for name, stype in catalog:
            sid = create('services', {'name': name, 'type': stype})
            for iface in ('public', 'internal', 'admin'):
                create('endpoints', {'service_id': sid,
                                     'interface': iface,
                                     'region_id': REGION,
                                     'url': urls[stype]})

    def project_id(self, who):
        return self.ids['projects'][USERS[who][0]]

    def user_id(self, who):
        return self.ids['users'][who]

    # ---- for the user
    def clouds_yaml(self, path):
        """One cloud per demo user: xloud-admin, xloud-member, ... ."""
        lines = ['# The XLoud sandbox (keystone %s); one cloud per user.'
                 % self.url, 'clouds:']
        for who, (project, role) in sorted(USERS.items()):
            lines += [
                '  %s:  # %s of %s' % (user_name(who), role, project),
                '    auth:',
                '      auth_url: %s/v3' % self.url,
                '      username: %s' % user_name(who),
                '      password: %s' % self.passwords[who],
                '      project_name: %s' % project,
                '      user_domain_name: %s' % DOMAIN,
                '      project_domain_name: %s' % DOMAIN,
                '    region_name: %s' % REGION,
                '    identity_api_version: 3',
                '    interface: public',
            ]
        with open(path, 'w') as f:
            f.write('\n'.join(lines) + '\n')
        os.chmod(path, 0o600)
        return path

    def describe(self):
        return ('keystone', True, 'keystone %s (PyPI, the series\' '
                'release) under gunicorn, %s, fernet tokens, DB on '
                'MariaDB; nova-api, placement and glance check tokens '
                'with keystonemiddleware authtoken' % (
                    _version(), self.url))


def _version():
    try:
        from importlib import metadata
        return metadata.version('keystone')
    except Exception:                                   # noqa
        return '(version unknown)'


if __name__ == '__main__':
    sys.exit('a module of the sandbox: see xloud_sandbox.py')
