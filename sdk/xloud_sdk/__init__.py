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

"""XLoud Nova's live adjust as openstacksdk calls.

openstacksdk's ``conn.compute`` cannot be extended in place, so the adjust
is a small proxy beside it, on the same connection::

    import openstack
    import xloud_sdk

    conn = openstack.connect(cloud='mycloud')
    adj = xloud_sdk.Adjust(conn)
    adj.show(server_id)                       # minimum/current/maximum
    adj.check(server_id, vcpus=2)             # the dry run: fits, reason
    request_id = adj.adjust(server_id, vcpus=2, memory_mb=2048)
    adj.wait(server_id, request_id)           # the instance action's end

The CLI plugin (``osc/``) and the Horizon plugin (``dashboard/``) both call
it, so the HTTP of the adjust is written once.
"""

from xloud_sdk.adjust import ACTION  # noqa: F401
from xloud_sdk.adjust import Adjust  # noqa: F401
from xloud_sdk.adjust import AdjustError  # noqa: F401
from xloud_sdk.adjust import AdjustFailed  # noqa: F401
from xloud_sdk.adjust import AdjustTimeout  # noqa: F401
from xloud_sdk.adjust import EVENT  # noqa: F401
from xloud_sdk.adjust import EVENTS_MICROVERSION  # noqa: F401
from xloud_sdk.adjust import event_error  # noqa: F401
