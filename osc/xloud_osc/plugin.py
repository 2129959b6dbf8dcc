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

"""The openstack.cli.extension module of the plugin.

The commands themselves are compute commands (``openstack.compute.v2``
entry points: ``server adjust`` and ``server adjust show``) and use the
compute proxy of openstackclient's own openstacksdk connection. This module
gives openstackclient the ``xloud`` client: the same compute proxy, and the
``--os-xloud-api-version`` option every plugin has (one version, 1).
"""

import logging

LOG = logging.getLogger(__name__)

DEFAULT_API_VERSION = '1'
API_VERSION_OPTION = 'os_xloud_api_version'
API_NAME = 'xloud'
API_VERSIONS = {'1': 'xloud_osc.plugin'}


def make_client(instance):
    """The compute proxy (a keystoneauth adapter) of the connection."""
    return instance.sdk_connection.compute


def build_option_parser(parser):
    parser.add_argument(
        '--os-xloud-api-version',
        metavar='<xloud-api-version>',
        default=DEFAULT_API_VERSION,
        help='XLoud adjust API version, default=%s' % DEFAULT_API_VERSION)
    return parser
