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

"""A plain HTTP client of the sandbox (requests), as a user's would be.

Every call goes over a real socket to the real service. With keystone
(the sandbox's default) every call carries a real keystone token of one of
the demo's users (keystone.USERS; ``user=None``: no token at all). In the
``headers`` auth mode nova gets the headers its keystonecontext filter
builds the request context from, placement the token its noauth2 filter
makes admin.
"""

import time

import requests

from sandbox import configs

NOVA_HEADERS = {
    'X-Auth-Token': configs.TOKEN,
    'X-User-Id': 'admin',
    'X-Project-Id': configs.PROJECT,
    'X-Roles': configs.ROLES,
    'OpenStack-API-Version': 'compute latest',
    'X-OpenStack-Nova-API-Version': 'latest',
}
PLACEMENT_HEADERS = {
    'X-Auth-Token': configs.TOKEN,
    'OpenStack-API-Version': 'placement latest',
}


class StepFailed(Exception):
    """An API call or a wait did not give what it should."""


class Cloud(object):

    def __init__(self, sandbox, timeout=30, user='admin'):
        self.sandbox = sandbox
        self.http = requests.Session()
        self.timeout = timeout
        self.user = user
        self.nova_headers = dict(NOVA_HEADERS)
        self.placement_headers = dict(PLACEMENT_HEADERS)
        if getattr(sandbox, 'keystone', None) is not None:
            for hdrs in (self.nova_headers, self.placement_headers):
                for key in ('X-Auth-Token', 'X-User-Id', 'X-Project-Id',
                            'X-Roles'):
                    hdrs.pop(key, None)
            if user is not None:
                self.token = sandbox.keystone.user_token(user)
                self.nova_headers['X-Auth-Token'] = self.token
                self.placement_headers['X-Auth-Token'] = self.token

    def _call(self, base, base_headers, method, path, expect=None,
              **kwargs):
        kwargs.setdefault('timeout', self.timeout)
        hdrs = dict(base_headers)
        hdrs.update(kwargs.pop('headers', {}))
        resp = self.http.request(method, base + path, headers=hdrs, **kwargs)
        if expect is not None and resp.status_code not in (
                expect if isinstance(expect, tuple) else (expect,)):
            raise StepFailed('%s %s%s: HTTP %d, expected %s: %s' % (
                method, base, path, resp.status_code, expect,
                resp.text[:2000]))
        return resp

    def nova(self, method, path, expect=None, **kwargs):
        return self._call(self.sandbox.nova_url, self.nova_headers, method,
                          path, expect, **kwargs)

    def placement(self, method, path, expect=None, **kwargs):
        return self._call(self.sandbox.placement_url,
                          self.placement_headers, method, path, expect,
                          **kwargs)

    def glance(self, method, path, expect=None, **kwargs):
        return self._call(self.sandbox.glance_url, self.nova_headers,
                          method, path, expect, **kwargs)

    # ---- helpers
    def create_flavor(self, name, vcpus, ram, disk, extra_specs=None):
        flavor = self.nova('POST', '/flavors', 200, json={'flavor': {
            'name': name, 'vcpus': vcpus, 'ram': ram, 'disk': disk}}).json()[
            'flavor']
        if extra_specs:
            self.nova('POST', '/flavors/%s/os-extra_specs' % flavor['id'],
                      200, json={'extra_specs': extra_specs})
        return flavor

    def upload_image(self, name, data, disk_format='raw',
                     container_format='bare', **properties):
        body = dict(properties, name=name, disk_format=disk_format,
                    container_format=container_format)
        image = self.glance('POST', '/v2/images', 201, json=body).json()
        self.glance('PUT', '/v2/images/%s/file' % image['id'], 204,
                    data=data,
                    headers={'Content-Type': 'application/octet-stream'})
        return self.glance('GET', '/v2/images/%s' % image['id'], 200).json()

    def boot(self, name, image, flavor):
        resp = self.nova('POST', '/servers', (202,), json={'server': {
            'name': name, 'imageRef': image, 'flavorRef': flavor,
            'networks': 'none'}})
        return resp.json()['server']

    def server(self, server_id):
        return self.nova('GET', '/servers/%s' % server_id, 200).json()[
            'server']

    def wait_server(self, server_id, status, timeout=60):
        """Wait for a status (or one of a tuple) and no task; an ERROR
        that was not waited for shows its fault.
        """
        wanted = status if isinstance(status, tuple) else (status,)
        deadline = time.monotonic() + timeout
        while True:
            srv = self.server(server_id)
            if srv['status'] in wanted and not srv.get(
                    'OS-EXT-STS:task_state'):
                return srv
            if srv['status'] == 'ERROR' and 'ERROR' not in wanted:
                raise StepFailed('server %s went to ERROR: %s' % (
                    server_id, srv.get('fault')))
            if time.monotonic() > deadline:
                raise StepFailed('server %s: still %s/%s after %d s, not %s'
                                 % (server_id, srv['status'],
                                    srv.get('OS-EXT-STS:task_state'),
                                    timeout, '/'.join(wanted)))
            time.sleep(0.05)

    def delete_server(self, server_id, timeout=60):
        self.nova('DELETE', '/servers/%s' % server_id, 204)
        deadline = time.monotonic() + timeout
        while self.nova('GET', '/servers/%s' % server_id).status_code != 404:
            if time.monotonic() > deadline:
                raise StepFailed('server %s not gone after %d s' %
                                 (server_id, timeout))
            time.sleep(0.05)

    def actions(self, server_id):
        return self.nova('GET', '/servers/%s/os-instance-actions' %
                         server_id, 200).json()['instanceActions']

    def action(self, server_id, request_id):
        return self.nova('GET', '/servers/%s/os-instance-actions/%s' % (
            server_id, request_id), 200).json()['instanceAction']

    def wait_action(self, server_id, request_id, timeout=60, poll=0.02):
        """Until every event of the action has finished; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            resp = self.nova('GET', '/servers/%s/os-instance-actions/%s' % (
                server_id, request_id))
            if resp.status_code == 200:
                act = resp.json()['instanceAction']
                events = act.get('events') or []
                if events and all(e.get('finish_time') for e in events):
                    return act
            if time.monotonic() > deadline:
                raise StepFailed('action %s of %s not finished after %d s: '
                                 '%s' % (request_id, server_id, timeout,
                                         resp.text[:1000]))
            time.sleep(poll)

    def server_action(self, server_id, body, expect=202):
        resp = self.nova('POST', '/servers/%s/action' % server_id, expect,
                         json=body)
        return resp.headers.get('x-openstack-request-id')

    def console_output(self, server_id, length=None):
        """The os-getConsoleOutput server action: the guest's serial log,
        as the compute's driver reads it.
        """
        body = {'os-getConsoleOutput': {'length': length}}
        return self.nova('POST', '/servers/%s/action' % server_id, 200,
                         json=body).json()['output']

    def adjust(self, server_id, vcpus=None, memory_mb=None, persist=True):
        body = {'persist': persist}
        if vcpus is not None:
            body['current_vcpus'] = vcpus
        if memory_mb is not None:
            body['current_memory_mb'] = memory_mb
        resp = self.nova('POST', '/servers/%s/os-xloud-adjust' % server_id,
                         202, json=body)
        return resp.headers.get('x-openstack-request-id')

    def get_adjust(self, server_id):
        return self.nova('GET', '/servers/%s/os-xloud-adjust' % server_id,
                         200).json()

    def provider(self, name=None):
        """The one resource provider, or the one named ``name`` (a
        compute node's is named after its hypervisor_hostname).
        """
        rps = self.providers()
        if name is not None:
            rps = [rp for rp in rps if rp['name'] == name]
        if len(rps) != 1:
            raise StepFailed('expected one resource provider%s, got %s' % (
                ' named %s' % name if name else '', rps))
        return rps[0]

    def providers(self):
        return self.placement('GET', '/resource_providers', 200).json()[
            'resource_providers']

    def hypervisors(self):
        """os-hypervisors/detail: each with its service's host."""
        return self.nova('GET', '/os-hypervisors/detail', 200).json()[
            'hypervisors']

    def compute_services(self):
        return self.nova('GET', '/os-services?binary=nova-compute',
                         200).json()['services']

    def host_provider(self, host):
        """The resource provider of compute host ``host`` (service host
        name), through its hypervisor's name.
        """
        names = [h['hypervisor_hostname'] for h in self.hypervisors()
                 if h['service']['host'] == host]
        if len(names) != 1:
            raise StepFailed('host %s has hypervisors %s' % (host, names))
        return self.provider(names[0])

    # ---- moves (admin)
    def live_migrate(self, server_id, host=None, block_migration='auto'):
        """os-migrateLive (2.30+: ``host`` None lets the scheduler pick)."""
        return self.server_action(server_id, {'os-migrateLive': {
            'host': host, 'block_migration': block_migration}})

    def wait_host(self, server_id, host, status='ACTIVE', timeout=120):
        """Until a move the API accepted has ended (the API sets its task
        state before it answers): the server ``status`` on ``host``, or
        StepFailed saying where it is and how its last migration ended.
        """
        srv = self.wait_server(server_id, status, timeout=timeout)
        if srv.get('OS-EXT-SRV-ATTR:host') != host:
            migs = sorted(self.migrations_all(server_id),
                          key=lambda m: m['id'])
            raise StepFailed('server %s is %s on %s, not on %s; its last '
                             'migration: %s' % (
                                 server_id, srv['status'],
                                 srv.get('OS-EXT-SRV-ATTR:host'), host,
                                 migs[-1] if migs else None))
        return srv

    def wait_migration(self, server_id, kind, statuses, timeout=120,
                       released=False):
        """Until the server's last migration of ``kind`` (os-migrations'
        ``migration_type``: live-migration, migration, resize, evacuation)
        has one of ``statuses``; returns it. StepFailed on error/failed.
        ``released``: and until the migration, as a placement consumer,
        holds nothing (Nova marks a live migration completed just before
        it deletes the source's part the migration held).
        """
        statuses = statuses if isinstance(statuses, tuple) else (statuses,)
        deadline = time.monotonic() + timeout
        while True:
            migs = sorted((m for m in self.migrations_all(server_id)
                           if m['migration_type'] == kind),
                          key=lambda m: m['id'])
            mig = migs[-1] if migs else None
            if (mig and mig['status'] in statuses and not (
                    released and self.allocations(mig['uuid']))):
                return mig
            if mig and mig['status'] in ('error', 'failed'):
                raise StepFailed('%s of %s: %s' % (kind, server_id, mig))
            if time.monotonic() > deadline:
                raise StepFailed('%s of %s not %s after %d s: %s' % (
                    kind, server_id, '/'.join(statuses), timeout, mig))
            time.sleep(0.1)

    def migrations_all(self, server_id):
        """os-migrations of the server, every kind and status."""
        return self.nova('GET', '/os-migrations?instance_uuid=%s' %
                         server_id, 200).json()['migrations']

    def usages(self, rp_uuid):
        return self.placement('GET', '/resource_providers/%s/usages' %
                              rp_uuid, 200).json()['usages']

    def inventories(self, rp_uuid):
        return self.placement('GET', '/resource_providers/%s/inventories' %
                              rp_uuid, 200).json()['inventories']

    def allocations(self, consumer):
        return self.placement('GET', '/allocations/%s' % consumer,
                              200).json()['allocations']
