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

"""What a compute says about the live adjust: traits of its provider.

The API decides whether a server's compute can adjust it from what is
already known, never by calling the compute (one that hangs would hold an
API worker for the call's timeout): the service group's up/down, and these
traits, which every compute reports on its compute node's resource
provider at each update of its resources, as Nova reports its drivers'
capabilities (``ComputeDriver.capabilities_as_traits``).

``RPC_1_0``: the compute serves the ``xloud`` endpoint at 1.0, the adjust
the API casts (``xloud_rpcapi``). A compute without XLoud, or an XLoud
compute of an older endpoint, lacks it. A later 1.x adds its own trait;
a compute reports every version it serves.

``LIVE_ADJUST``: its virt driver adjusts guests live
(``ComputeDriver.xloud_can_adjust()``). The scheduler requires it for a
server of a minimum-resources flavor: only such a host boots it below its
flavor and enforces the claim.
"""

LIVE_ADJUST = 'CUSTOM_XLOUD_LIVE_ADJUST'
RPC_1_0 = 'CUSTOM_XLOUD_RPC_1_0'

SERVED = (RPC_1_0,)


def of_driver(driver):
    """{trait: bool} to add to the driver's capabilities as traits.

    False removes a trait the provider had (a driver reconfigured, a
    virt type without support).
    """
    traits = dict.fromkeys(SERVED, True)
    traits[LIVE_ADJUST] = bool(driver.xloud_can_adjust())
    return traits
