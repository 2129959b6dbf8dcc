#!/usr/bin/python
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

"""An Ansible module: adjust a server live (XLoud Nova's os-xloud-adjust).

openstack.cloud's modules cannot call the adjust; this module is the few
lines that can, through xloud_sdk on an openstacksdk connection (the same
clouds.yaml as openstack.cloud). It is idempotent: a server already at the
values asked for is not touched (changed: false). Check mode is Nova's
dry run: it says whether the change would fit, and why not.
"""

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r'''
module: xloud_server_adjust
short_description: Adjust a running server's vCPUs and memory live
options:
  cloud: {type: str, required: true, description: a clouds.yaml entry}
  server: {type: str, required: true, description: name or ID}
  vcpus: {type: int}
  memory_mb: {type: int}
  persist: {type: bool, default: true}
  wait: {type: bool, default: true}
  timeout: {type: int, default: 600}
'''


def run(module, conn):
    import xloud_sdk

    p = module.params
    adj = xloud_sdk.Adjust(conn)
    server_id = adj.find_server(p['server'])
    before = adj.show(server_id)
    wanted = {'vcpus': p['vcpus'], 'memory_mb': p['memory_mb']}
    if all(v is None or v == before[k]['current']
           for k, v in wanted.items()):
        return dict(changed=False, server_id=server_id, adjust=before)
    if module.check_mode:
        answer = adj.check(server_id, persist=p['persist'], **wanted)
        if not answer.get('fits'):
            module.fail_json(msg='the adjust would not fit: %s' %
                             answer.get('reason'), dry_run=answer)
        return dict(changed=True, server_id=server_id, dry_run=answer,
                    adjust=before)
    request_id = adj.adjust(server_id, persist=p['persist'], **wanted)
    if p['wait']:
        adj.wait(server_id, request_id, timeout=p['timeout'])
    return dict(changed=True, server_id=server_id, request_id=request_id,
                adjust=adj.show(server_id))


def main():
    module = AnsibleModule(argument_spec=dict(
        cloud=dict(type='str', required=True),
        server=dict(type='str', required=True),
        vcpus=dict(type='int'),
        memory_mb=dict(type='int'),
        persist=dict(type='bool', default=True),
        wait=dict(type='bool', default=True),
        timeout=dict(type='int', default=600),
    ), required_one_of=[('vcpus', 'memory_mb')], supports_check_mode=True)
    try:
        import openstack
        import xloud_sdk
    except ImportError as e:
        module.fail_json(msg='needs openstacksdk and xloud-sdk on the '
                             'managed host (pip install ./sdk): %s' % e)
    try:
        conn = openstack.connect(cloud=module.params['cloud'])
        module.exit_json(**run(module, conn))
    except xloud_sdk.AdjustError as e:
        module.fail_json(msg=e.message, status_code=e.status_code)


if __name__ == '__main__':
    main()
