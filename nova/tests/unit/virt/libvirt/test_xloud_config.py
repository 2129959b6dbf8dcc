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


"""Tests of <vcpu current=...> and <currentMemory> in LibvirtConfigGuest."""

from unittest import mock

from lxml import etree
from oslo_utils import units

from nova import test
from nova.virt.libvirt import config
from nova.virt.libvirt import xloud_config

UUID = 'b38a3f43-4be2-4046-897f-b67c2f5e0147'


def _balloon():
    dev = config.LibvirtConfigMemoryBalloon()
    dev.model = 'virtio'
    return dev


# The balloon as upstream formats it (nova 33 adds autodeflate and
# freePageReporting): not ours to pin.
BALLOON_XML = _balloon().to_xml().strip()

# What upstream's LibvirtConfigGuest makes of _guest() below, byte for byte.
UPSTREAM_XML = (
    '<domain type="kvm">\n'
    '  <uuid>%s</uuid>\n'
    '  <name>demo</name>\n'
    '  <memory>4194304</memory>\n'
    '  <vcpu>4</vcpu>\n'
    '  <os>\n'
    '    <type>hvm</type>\n'
    '  </os>\n'
    '  <devices>\n'
    '    %s\n'
    '  </devices>\n'
    '</domain>\n' % (UUID, BALLOON_XML))


def _guest(current_vcpus=None, current_memory=None, balloon=True):
    guest = config.LibvirtConfigGuest()
    guest.virt_type = 'kvm'
    guest.uuid = UUID
    guest.name = 'demo'
    guest.memory = 4096 * units.Ki
    guest.vcpus = 4
    guest.os_type = 'hvm'
    if balloon:
        guest.add_device(_balloon())
    guest.current_vcpus = current_vcpus
    guest.current_memory = current_memory
    return guest


def _parse(xml):
    guest = config.LibvirtConfigGuest()
    guest.parse_str(xml)
    return guest


class LibvirtConfigGuestCurrentTest(test.NoDBTestCase):

    def test_defaults(self):
        guest = config.LibvirtConfigGuest()
        self.assertIsNone(guest.current_vcpus)
        self.assertIsNone(guest.current_memory)

    def test_format_unset_is_upstream_xml(self):
        self.assertEqual(UPSTREAM_XML, _guest().to_xml())

    def test_format_unset_same_as_without_hook(self):
        guest = _guest()
        guest.cpuset = {0, 1, 3}
        guest.max_memory_size = 8192 * units.Ki
        guest.max_memory_slots = 2
        xml = guest.to_xml()
        with mock.patch.object(xloud_config, 'format_current') as fmt:
            self.assertEqual(xml, guest.to_xml())
        fmt.assert_called_once_with(guest, mock.ANY)

    def test_format_current(self):
        xml = _guest(current_vcpus=2, current_memory=2048 * units.Ki).to_xml()
        self.assertXmlEqual("""
            <domain type="kvm">
              <uuid>%s</uuid>
              <name>demo</name>
              <memory>4194304</memory>
              <currentMemory>2097152</currentMemory>
              <vcpu current="2">4</vcpu>
              <os>
                <type>hvm</type>
              </os>
              <devices>
                %s
              </devices>
            </domain>""" % (UUID, BALLOON_XML), xml)
        # currentMemory follows memory, as in libvirt's own dumpxml
        root = etree.fromstring(xml)
        self.assertEqual(['uuid', 'name', 'memory', 'currentMemory', 'vcpu'],
                         [c.tag for c in root][:5])

    def test_format_current_vcpus_only(self):
        xml = _guest(current_vcpus=1).to_xml()
        self.assertEqual(
            UPSTREAM_XML.replace('<vcpu>', '<vcpu current="1">'), xml)

    def test_format_current_memory_only(self):
        xml = _guest(current_memory=1024 * units.Ki).to_xml()
        self.assertEqual(
            UPSTREAM_XML.replace(
                '  <vcpu>',
                '  <currentMemory>1048576</currentMemory>\n  <vcpu>'),
            xml)

    def test_format_current_with_cpuset(self):
        guest = _guest(current_vcpus=2)
        guest.cpuset = {0, 1, 3, 4, 5}
        root = etree.fromstring(guest.to_xml())
        vcpu = root.find('vcpu')
        self.assertEqual('4', vcpu.text)
        self.assertEqual('0-1,3-5', vcpu.get('cpuset'))
        self.assertEqual('2', vcpu.get('current'))

    def test_format_current_memory_after_max_memory(self):
        guest = _guest(current_memory=2048 * units.Ki)
        guest.max_memory_size = 8192 * units.Ki
        guest.max_memory_slots = 2
        root = etree.fromstring(guest.to_xml())
        self.assertEqual(['memory', 'maxMemory', 'currentMemory'],
                         [c.tag for c in root][2:5])

    # LibvirtConfigGuest parses no <memballoon>: the round trips go without.
    def test_round_trip(self):
        guest = _guest(current_vcpus=3, current_memory=3072 * units.Ki,
                       balloon=False)
        xml = guest.to_xml()
        parsed = _parse(xml)
        self.assertEqual(3, parsed.current_vcpus)
        self.assertEqual(3072 * units.Ki, parsed.current_memory)
        self.assertEqual(4, parsed.vcpus)
        self.assertEqual(4096 * units.Ki, parsed.memory)
        self.assertEqual(xml, parsed.to_xml())

    def test_round_trip_unset(self):
        xml = _guest(balloon=False).to_xml()
        parsed = _parse(xml)
        self.assertIsNone(parsed.current_vcpus)
        self.assertIsNone(parsed.current_memory)
        self.assertEqual(xml, parsed.to_xml())

    def test_parse_libvirt_dumpxml(self):
        # As a running domain reports itself: units, placement, cpuset.
        parsed = _parse("""
            <domain type='kvm' id='3'>
              <name>instance-00000001</name>
              <uuid>%s</uuid>
              <memory unit='KiB'>4194304</memory>
              <currentMemory unit='KiB'>2097152</currentMemory>
              <vcpu placement='static' cpuset='0-3' current='2'>4</vcpu>
              <os>
                <type arch='x86_64' machine='pc-q35-8.2'>hvm</type>
              </os>
            </domain>""" % UUID)
        self.assertEqual(2, parsed.current_vcpus)
        self.assertEqual(2048 * units.Ki, parsed.current_memory)
        self.assertEqual(4, parsed.vcpus)
        self.assertEqual({0, 1, 2, 3}, parsed.cpuset)
        self.assertEqual(4096 * units.Ki, parsed.memory)

    def test_parse_all_vcpus_online(self):
        # libvirt leaves current out when every vCPU is online.
        parsed = _parse("""
            <domain type='kvm'>
              <memory unit='KiB'>4194304</memory>
              <currentMemory unit='KiB'>4194304</currentMemory>
              <vcpu placement='static'>4</vcpu>
            </domain>""")
        self.assertIsNone(parsed.current_vcpus)
        self.assertEqual(4096 * units.Ki, parsed.current_memory)
        self.assertEqual(4, parsed.vcpus)
