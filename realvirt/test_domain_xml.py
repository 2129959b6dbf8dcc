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

"""The domain XML our driver generates is one real libvirt takes.

The XML comes from the real driver code path: a server booted through
Nova's services with the patched LibvirtDriver
(``realvirt/xloud_driver_xml.py`` says how). Then real libvirt judges
it, with no Nova code in between:

- ``virt-xml-validate`` (libvirt's own RelaxNG schema) accepts it;
- libvirt's test driver (``test:///default``, libvirt-python, no daemon)
  defines it, and the definition it reads back has our ``<vcpu current>``
  and ``<currentMemory>``; it also starts it, and the running domain has
  those values live.

A flavor without minimums must give the XML libvirt reads back as running
everything the flavor has (upstream's behaviour).
"""

import os
import subprocess
import tempfile
import time
import unittest

import libvirt
from lxml import etree

import xloud_driver_xml as driver_xml
import xloud_support as support


class DomainXMLTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        started = time.monotonic()
        cls.xml = {f['name']: driver_xml.domain_xml(f)
                   for f in (driver_xml.MINIMUM, driver_xml.PLAIN)}
        support.figure('Nova functional boot + XML recording (2 flavors)',
                       time.monotonic() - started)
        cls.conn = libvirt.open('test:///default')

    @classmethod
    def tearDownClass(cls):
        cls.conn.close()

    def _validate(self, xml):
        with tempfile.NamedTemporaryFile('w', suffix='.xml') as f:
            f.write(xml)
            f.flush()
            proc = subprocess.run(['virt-xml-validate', f.name, 'domain'],
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        self.assertEqual(0, proc.returncode, proc.stdout)
        self.assertIn('validates', proc.stdout)

    def _define(self, xml):
        dom = self.conn.defineXML(xml)
        self.addCleanup(self._undefine, dom)
        return dom

    @staticmethod
    def _undefine(dom):
        if dom.isActive():
            dom.destroy()
        dom.undefine()

    def test_minimum_flavor_xml_is_what_our_driver_means(self):
        # the XML as our driver wrote it, before libvirt sees it
        self.assertEqual((1, 4, 512 * 1024, 1024 * 1024),
                         support.current_values(self.xml['realvirt-min']))
        balloons = etree.fromstring(
            self.xml['realvirt-min'].encode()).findall('devices/memballoon')
        self.assertEqual(['virtio'], [b.get('model') for b in balloons])
        # a guest that cannot deflate its balloon itself (nova 31+ writes
        # autodeflate on every balloon; nova 29 writes none)
        self.assertIn(balloons[0].get('autodeflate'), (None, 'off'))

    def test_minimum_flavor_xml_validates(self):
        self._validate(self.xml['realvirt-min'])

    def test_plain_flavor_xml_validates(self):
        self._validate(self.xml['realvirt-plain'])

    def test_minimum_flavor_defined_and_read_back(self):
        dom = self._define(self.xml['realvirt-min'])
        inactive = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        self.assertEqual((1, 4, 512 * 1024, 1024 * 1024),
                         support.current_values(inactive))
        # the test driver's vCPU count of a defined domain is the current one
        self.assertEqual(1, dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_CONFIG))
        self.assertEqual(4, dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_CONFIG |
                                           libvirt.VIR_DOMAIN_VCPU_MAXIMUM))

    def test_minimum_flavor_runs_its_current_values(self):
        dom = self._define(self.xml['realvirt-min'])
        dom.create()
        state, max_kib, kib, vcpus, _ = dom.info()
        self.assertEqual(libvirt.VIR_DOMAIN_RUNNING, state)
        self.assertEqual((1024 * 1024, 512 * 1024, 1), (max_kib, kib, vcpus))
        self.assertEqual(1, dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE))
        self.assertEqual((1, 4, 512 * 1024, 1024 * 1024),
                         support.current_values(dom.XMLDesc(0)))

    def test_plain_flavor_runs_the_whole_flavor(self):
        dom = self._define(self.xml['realvirt-plain'])
        current, maximum, current_kib, kib = support.current_values(
            dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        # libvirt writes current only when it differs from the maximum
        self.assertIn(current, (None, 4))
        self.assertEqual((4, 1024 * 1024), (maximum, kib))
        # and fills currentMemory in with the whole memory
        self.assertEqual(1024 * 1024, current_kib)
        dom.create()
        self.assertEqual(4, dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE))
        self.assertEqual(1024 * 1024, dom.info()[2])

    def test_record_the_xml(self):
        """Keep the XML given to libvirt next to the figures, for review."""
        os.makedirs(support.WORK, exist_ok=True)
        for name, xml in self.xml.items():
            path = os.path.join(support.WORK, '%s.xml' % name)
            with open(path, 'w') as f:
                f.write(xml)
            with open(path) as f:
                self.assertEqual(xml, f.read())
