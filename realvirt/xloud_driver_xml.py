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

"""The domain XML our patched libvirt driver really generates.

How: Nova's own functional machinery
(``nova.tests.functional.libvirt.base.ServersTestBase``): the API,
conductor, scheduler and compute services run for real with the patched
``LibvirtDriver``, placement is real (openstack-placement through Nova's
``PlacementFixture``), and a server is booted over the API from a flavor.
libvirt there is Nova's fake libvirt (a stand-in, from
``nova.tests.fixtures.libvirt``), which keeps only part of a domain: so, as
``nova/tests/functional/libvirt/test_vcpu_current.py`` does, the XML string
the driver passes to ``defineXML`` is recorded. That string is what a real
libvirtd would get, and it is what the realvirt tests feed to real
libvirt.

The compute is configured as this machine would run it: ``[libvirt]
virt_type=qemu`` (no usable KVM here) and ``cpu_mode=none``.

The boot runs as a TestCase of its own (so that every fixture is set up
and cleaned up exactly as in Nova's functional tests), once per flavor (and
image properties) per process; ``domain_xml()`` returns the recorded XML.
Image properties (``hw_qemu_guest_agent=yes``, ...) are given to an image
made for the boot in the functional tests' glance (a copy of its default
image with those properties added): the driver reads them from the image,
as it would from glance.
"""

import unittest

import fixtures

from nova.tests.fixtures import libvirt as fakelibvirt
from nova.tests.fixtures import xloud_libvirt
from nova.tests.functional.libvirt import base

# The flavors of the proof: one with minimums, one without.
MINIMUM = {'name': 'realvirt-min', 'vcpus': 4, 'memory_mb': 1024,
           'specs': {'minimum_cpu': '1', 'minimum_memory': '512'}}
PLAIN = {'name': 'realvirt-plain', 'vcpus': 4, 'memory_mb': 1024,
         'specs': {}}

_CACHE = {}


class _BootAndRecord(base.ServersTestBase):
    """Boots one server of ``flavor`` and records the XML it is defined by.

    Not a test of its own (its name does not start with Test and it is not
    in a test module): ``domain_xml`` runs it.
    """

    microversion = 'latest'
    ADMIN_API = True
    flavor = None
    image_properties = None
    recorded = None

    def setUp(self):
        super().setUp()
        # the live memory limit the driver sets after defining the guest
        self.useFixture(xloud_libvirt.FakeLiveGuest())
        self.flags(virt_type='qemu', cpu_mode='none', group='libvirt')
        self.defined = []
        real_define = fakelibvirt.Connection.defineXML

        def define_xml(conn, xml):
            self.defined.append(xml)
            return real_define(conn, xml)
        self.useFixture(fixtures.MonkeyPatch(
            'nova.tests.fixtures.libvirt.Connection.defineXML', define_xml))

    def test_boot(self):
        self.start_compute('compute1', host_info=fakelibvirt.HostInfo(
            cpu_nodes=1, cpu_sockets=1, cpu_cores=4, cpu_threads=1,
            kB_mem=16 * 1024 * 1024))
        flavor_id = self._create_flavor(
            name=self.flavor['name'], vcpu=self.flavor['vcpus'],
            memory_mb=self.flavor['memory_mb'], disk=1, ephemeral=0,
            extra_spec=dict(self.flavor['specs']))
        image_uuid = None
        if self.image_properties:
            image = dict(self.glance.show(
                None, '155d900f-4e14-4e4c-a73d-069cbf4541e6'))
            image.pop('id')
            image['name'] = 'realvirt-image'
            image['properties'] = dict(image.get('properties', {}),
                                       **self.image_properties)
            image_uuid = self.glance.create(None, image)['id']
        server = self._create_server(flavor_id=flavor_id, networks='none',
                                     image_uuid=image_uuid)
        self.assertEqual('ACTIVE', server['status'])
        self.assertEqual(1, len(self.defined))
        type(self).recorded = self.defined[0]


def domain_xml(flavor, image_properties=None):
    """The XML the patched driver defines for a server of ``flavor``.

    :param image_properties: properties of the image it boots from (as
        glance would have them, e.g. ``{'hw_qemu_guest_agent': 'yes'}``)
    """
    key = (flavor['name'],) + tuple(sorted((image_properties or {}).items()))
    if key in _CACHE:
        return _CACHE[key]
    case_cls = type('_BootAndRecord_' + flavor['name'].replace('-', '_'),
                    (_BootAndRecord,), {
                        'flavor': flavor,
                        'image_properties': dict(image_properties or {})})
    result = unittest.TestResult()
    case_cls('test_boot').run(result)
    problems = result.errors + result.failures
    if problems or case_cls.recorded is None:
        raise RuntimeError('booting a %s server through Nova failed:\n%s' % (
            flavor['name'], '\n'.join(text for _, text in problems)))
    _CACHE[key] = case_cls.recorded
    return case_cls.recorded
