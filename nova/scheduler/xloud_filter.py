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

"""Where a server of a minimum-resources flavor may go: a request filter.

Such a server is claimed in placement at its current values, below its
flavor. Only a compute that boots it at those values and enforces the
claim (its memory limit) may run it: a compute without XLoud (a pristine
one during a rolling upgrade) would boot it at its flavor's full size
while placement holds its minimum, and a driver that cannot adjust would
not enforce it. So, as Nova requires a trait of the compute node for each
feature a request needs (image types, ephemeral encryption), the
scheduler requires ``CUSTOM_XLOUD_LIVE_ADJUST`` (``xloud_traits``) for
such a server: at its boot and at every move, since live and cold
migrations, resizes, evacuations and unshelves all pass the scheduler's
request filters.
"""

from oslo_log import log as logging

from nova.compute import xloud
from nova.compute import xloud_traits

LOG = logging.getLogger(__name__)


def require_live_adjust(ctxt, request_spec):
    """A request filter (``request_filter.ALL_REQUEST_FILTERS``).

    :returns: True when it added the trait (upstream's convention)
    """
    if not xloud.has_minimum(request_spec.flavor):
        return False
    request_spec.root_required.add(xloud_traits.LIVE_ADJUST)
    LOG.debug('require_live_adjust: a minimum-resources flavor requires %s',
              xloud_traits.LIVE_ADJUST)
    return True
