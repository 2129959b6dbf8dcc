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

"""Unit tests of nova/virt/libvirt/xloud_migration.py: the memory limit
across a live migration (the fake domain of test_xloud_memory).
"""

from unittest import mock

from lxml import etree
from oslo_utils.fixture import uuidsentinel as uuids

from nova.compute import xloud
from nova import objects
from nova.tests.unit.virt.libvirt import test_xloud_memory as base
from nova.virt.libvirt import xloud_migration

_migrated = xloud_migration.limit_migrated


class LiveMigrationTest(base._Base):
    """The limit across a live migration: out of the XML, set live after."""

    XML = (
        '<domain type="qemu"><name>instance-1</name>'
        '<memory>1048576</memory><currentMemory>524288</currentMemory>'
        '<memtune>%s</memtune><devices/></domain>')

    def _stripped(self, memtune, instance=None):
        doc = etree.fromstring(self.XML % memtune)
        doc = xloud_migration.migration_xml(instance or base._instance(),
                                            doc)
        return doc

    def test_hard_limit_leaves_the_destination_xml(self):
        # what libvirt's migratable XML of a launched guest holds
        doc = self._stripped('<hard_limit unit="KiB">626688</hard_limit>')
        self.assertIsNone(doc.find('./memtune'))
        self.assertEqual('524288', doc.find('./currentMemory').text)

    def test_other_memory_tunables_stay(self):
        doc = self._stripped('<hard_limit unit="KiB">626688</hard_limit>'
                             '<soft_limit unit="KiB">400000</soft_limit>')
        self.assertEqual(['soft_limit'],
                         [el.tag for el in doc.find('./memtune')])

    def test_without_memtune_nothing_changes(self):
        doc = etree.fromstring(
            '<domain><name>x</name><devices/></domain>')
        before = etree.tostring(doc)
        self.assertEqual(before, etree.tostring(
            xloud_migration.migration_xml(base._instance(), doc)))

    def test_flavor_without_minimum_migrates_as_upstream(self):
        doc = self._stripped('<hard_limit unit="KiB">626688</hard_limit>',
                             instance=base._instance(minimum=False))
        self.assertEqual('626688', doc.find('./memtune/hard_limit').text)

    def test_destination_sets_the_limit_live(self):
        dom = base.Dom(limit_mb=None)
        instance = base._instance()
        xloud.set_current(instance, vcpus=1, memory_mb=768)
        _migrated(base._host(mock.Mock(_domain=dom)), instance)
        self.assertEqual([('limit', 868, base.LIVE)], dom.calls)

    def test_destination_limit_follows_the_live_only_values(self):
        # grown to 900 MiB without persist: the guest runs 900 on the
        # destination, the persisted value is still the flavor's minimum
        dom = base.Dom(limit_mb=None)
        instance = base._instance()
        xloud.record(instance, 1, 900, persist=False)
        self.assertEqual(512, xloud.current(instance)[1])
        _migrated(base._host(mock.Mock(_domain=dom)), instance)
        self.assertEqual([('limit', 1000, base.LIVE)], dom.calls)

    def test_destination_that_has_the_limit_changes_nothing(self):
        dom = base.Dom(limit_mb=612)
        _migrated(base._host(mock.Mock(_domain=dom)), base._instance())
        self.assertEqual([], dom.calls)

    def test_cpu_cap_leaves_the_destination_xml(self):
        # a guest with more vCPUs plugged than it may use: its live cap
        # must not become the destination's persistent definition
        doc = etree.fromstring(
            '<domain><name>x</name><cputune><shares>1024</shares>'
            '<global_period>100000</global_period>'
            '<global_quota>100000</global_quota></cputune>'
            '<memtune><hard_limit>626688</hard_limit></memtune>'
            '<devices/></domain>')
        doc = xloud_migration.migration_xml(base._instance(), doc)
        self.assertEqual(['shares'], [el.tag for el in doc.find('./cputune')])
        self.assertIsNone(doc.find('./memtune'))

    def test_destination_caps_a_guest_with_more_vcpus_plugged(self):
        # shrunk to 1 vCPU by the cap on the source, 2 still plugged
        dom = base.Dom(limit_mb=None)
        dom.vcpus = 2
        instance = base._instance()
        instance.flavor.extra_specs[xloud.MIN_CPU_SPEC] = '1'
        xloud.record(instance, 1, 512, persist=True)
        _migrated(base._host(mock.Mock(_domain=dom)), instance)
        self.assertEqual([('limit', 612, base.LIVE),
                          ('cap', 100000, base.LIVE)], dom.calls)

    def test_destination_cap_refused_stops_the_guest(self):
        dom = base.Dom(limit_mb=None)
        dom.vcpus = 2
        dom.fail['cap'] = base._error('cpu controller is not mounted')
        instance = base._instance()
        instance.flavor.extra_specs[xloud.MIN_CPU_SPEC] = '1'
        xloud.record(instance, 1, 512, persist=True)
        guest = mock.Mock(_domain=dom)
        ex = self.assertRaises(xloud_migration.MigratedCpuCapError,
                               _migrated, base._host(guest), instance)
        self.assertIn("claimed 1 vCPUs' worth", str(ex))
        guest.poweroff.assert_called_once_with()

    def test_destination_of_a_flavor_without_minimum(self):
        guests = base._host(mock.Mock(_domain=base.Dom(limit_mb=None)))
        _migrated(guests, base._instance(minimum=False))
        guests.get_guest.assert_not_called()

    def test_instance_without_a_context_is_left_alone(self):
        # what upstream's unit tests pass: no flavor, none to load
        guests = base._host(mock.Mock(_domain=base.Dom(limit_mb=None)))
        _migrated(
            guests, objects.Instance(id=1, uuid=uuids.instance))
        guests.get_guest.assert_not_called()

    def test_destination_limit_refused_stops_the_guest(self):
        # cgroup v1, a guest that took more meanwhile: the kernel refuses
        dom = base.Dom(limit_mb=None, rss_mb=900)
        dom.fail['limit'] = base._error(
            "Unable to write to '/sys/fs/cgroup/memory/machine/qemu-4-"
            "instance-1.libvirt-qemu/memory.limit_in_bytes': Device or "
            "resource busy")
        guest = mock.Mock(_domain=dom)
        ex = self.assertRaises(xloud_migration.MigratedMemoryLimitError,
                               _migrated, base._host(guest),
                               base._instance())
        self.assertIn('612 MiB', str(ex))
        self.assertIn('Device or resource busy', str(ex))
        self.assertIn('stopped', str(ex))
        guest.poweroff.assert_called_once_with()

    def test_destination_guest_that_cannot_be_stopped_still_raises(self):
        dom = base.Dom(limit_mb=None)
        dom.fail['limit'] = base._error(
            'cgroup memory controller is not mounted')
        guest = mock.Mock(_domain=dom)
        guest.poweroff.side_effect = base._error('domain is not running')
        self.assertRaises(xloud_migration.MigratedMemoryLimitError,
                          xloud_migration.limit_migrated, base._host(guest),
                          base._instance())
