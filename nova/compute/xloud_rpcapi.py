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

"""Client side of the compute's ``xloud`` RPC endpoint.

The live adjust does not extend upstream's compute RPC API (``6.x``): its
calls live in their own oslo.messaging namespace, ``xloud``, versioned on
its own (like Nova's ``baseapi``), on the compute topic and server. A
compute without XLoud (an older one during a rolling upgrade) has no
endpoint in that namespace: oslo.messaging answers ``UnsupportedVersion``
(or ``NoSuchMethod`` for a method added later), which ``probe()`` turns
into "not supported", as it does a compute that does not answer in time.

API version history:

    1.0 - capabilities(), adjust()
"""

from oslo_log import log as logging
import oslo_messaging as messaging

from nova.compute import rpcapi as compute_rpcapi
from nova.objects import base as objects_base
from nova import rpc

LOG = logging.getLogger(__name__)

NAMESPACE = 'xloud'
VERSION = '1.0'
# An adjust answers 409 at once when the compute cannot do it; a compute
# that is up answers a capability probe in well under this.
PROBE_TIMEOUT = 15

_OLD_COMPUTE = (messaging.UnsupportedVersion, messaging.NoSuchMethod)


class XloudComputeAPI(object):
    """Calls to the ``xloud`` endpoint of one compute service."""

    def __init__(self):
        target = messaging.Target(topic=compute_rpcapi.RPC_TOPIC,
                                  namespace=NAMESPACE, version=VERSION)
        self.client = rpc.get_client(
            target, serializer=objects_base.NovaObjectSerializer())

    def capabilities(self, ctxt, host, timeout=PROBE_TIMEOUT):
        """{'adjust': bool, 'reason': str}; raises on an old compute."""
        cctxt = self.client.prepare(server=host, version='1.0',
                                    timeout=timeout)
        return cctxt.call(ctxt, 'capabilities')

    def probe(self, ctxt, host, timeout=PROBE_TIMEOUT):
        """Return None when the compute can adjust, else the reason."""
        try:
            caps = self.capabilities(ctxt, host, timeout=timeout)
        except _OLD_COMPUTE as e:
            LOG.info('Compute %s has no xloud endpoint: %s', host, e)
            return 'the compute service predates live adjust'
        except messaging.RemoteError as e:
            # The remote exception class could not be rebuilt here: it is
            # oslo.messaging's own when the endpoint is missing.
            if e.exc_type in ('UnsupportedVersion', 'NoSuchMethod'):
                return 'the compute service predates live adjust'
            raise
        except messaging.MessagingTimeout:
            return 'the compute service did not answer'
        if not caps.get('adjust'):
            return caps.get('reason') or 'its virt driver has no support'
        return None

    def adjust(self, ctxt, instance, vcpus, memory_mb, persist, request_id):
        """Cast the adjust to the server's compute.

        The compute answers through the server's instance action, system
        metadata and allocation.
        """
        cctxt = self.client.prepare(server=instance.host, version='1.0')
        cctxt.cast(ctxt, 'adjust', instance=instance, vcpus=vcpus,
                   memory_mb=memory_mb, persist=persist,
                   request_id=request_id)
