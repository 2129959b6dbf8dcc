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
its own (like Nova's ``baseapi``), on the compute topic and server. The
API only casts: whether a compute serves this version is a trait of its
compute node's provider (``TRAIT``, ``xloud_traits``), read before the
cast, never a call that would wait on the compute.

API version history:

    1.0 - capabilities(), adjust(). capabilities() is no longer called
          (the traits say it); computes keep serving it for the APIs of
          the previous release during a rolling upgrade.
"""

import oslo_messaging as messaging

from nova.compute import rpcapi as compute_rpcapi
from nova.compute import xloud_traits
from nova.objects import base as objects_base
from nova import rpc

NAMESPACE = 'xloud'
VERSION = '1.0'
# The trait of a compute that serves VERSION (what adjust() casts).
TRAIT = xloud_traits.RPC_1_0
# Connection attempts of a cast while the broker cannot be reached (a
# RabbitMQ restart or failover), a few seconds with oslo.messaging's
# back-off: oslo.messaging's default, forever, held the API's request (and
# the user) until the broker came back. The API then undoes the adjust and
# says why.
CAST_RETRY = 3


class XloudComputeAPI(object):
    """Casts to the ``xloud`` endpoint of one compute service."""

    def __init__(self):
        target = messaging.Target(topic=compute_rpcapi.RPC_TOPIC,
                                  namespace=NAMESPACE, version=VERSION)
        # The transport of the server's cell (its context is targeted at
        # it), as upstream's compute client routes: a cell may have its
        # own RabbitMQ.
        self.router = rpc.ClientRouter(rpc.get_client(
            target, serializer=objects_base.NovaObjectSerializer()))

    def adjust(self, ctxt, instance, vcpus, memory_mb, persist, request_id):
        """Cast the adjust to the server's compute.

        The compute answers through the server's instance action, system
        metadata and allocation.
        """
        cctxt = self.router.client(ctxt).prepare(
            server=instance.host, version='1.0', retry=CAST_RETRY)
        cctxt.cast(ctxt, 'adjust', instance=instance, vcpus=vcpus,
                   memory_mb=memory_mb, persist=persist,
                   request_id=request_id)
