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


"""Tests of the guest config the libvirt driver builds for minimum flavors."""

import re
from unittest import mock

import fixtures
from lxml import etree
from oslo_utils.fixture import uuidsentinel as uuids
from oslo_utils import units

from nova.compute import xloud
import nova.conf
from nova import objects
from nova import test
from nova.tests import fixtures as nova_fixtures
from nova.virt import fake
from nova.virt.libvirt import blockinfo
from nova.virt.libvirt import config as vconfig
from nova.virt.libvirt import driver as libvirt_driver
from nova.virt.libvirt import xloud_guest

CONF = nova.conf.CONF

MINIMUM_SPECS = {xloud.MIN_CPU_SPEC: '2', xloud.MIN_MEMORY_SPEC: '2048'}


def _flavor(extra_specs=None):
    return objects.Flavor(
        id=7, flavorid='xl.4', name='xl.4', vcpus=4, memory_mb=4096,
        root_gb=10, ephemeral_gb=0, swap=0, vcpu_weight=None,
        rxtx_factor=1.0, extra_specs=dict(extra_specs or {}))


def _instance(flavor, system_metadata=None):
    sysmeta = {'image_disk_format': 'raw'}
    if system_metadata:
        # current values count only for the flavor they were recorded for
        sysmeta[xloud.SYSMETA_FLAVOR] = flavor.flavorid
    sysmeta.update(system_metadata or {})
    return objects.Instance(
        id=1, uuid=uuids.instance, display_name='scalable',
        project_id='fake', user_id='fake', host='fake-host',
        node='fake-node', image_ref=uuids.image, root_gb=10,
        ephemeral_gb=0, os_type='linux', vm_mode=None, config_drive=None,
        kernel_id=None, ramdisk_id=None, ephemeral_key_uuid=None,
        vcpu_model=None, numa_topology=None, resources=None,
        migration_context=None, trusted_certs=None, vm_state=None,
        task_state=None, pci_devices=objects.PciDeviceList(),
        system_metadata=sysmeta, flavor=flavor, instance_type_id=flavor.id,
        old_flavor=None, new_flavor=None)


def _balloons(cfg):
    return [d for d in cfg.devices
            if isinstance(d, vconfig.LibvirtConfigMemoryBalloon)]


class LibvirtMinimumGuestConfigTestCase(test.NoDBTestCase):
    """_get_guest_config for flavors with and without the minimum specs."""

    REQUIRES_LOCKING = True

    def setUp(self):
        super().setUp()
        self.flags(instances_path=self.useFixture(fixtures.TempDir()).path)
        self.flags(virt_type='kvm', group='libvirt')
        self.useFixture(nova_fixtures.LibvirtFixture())
        self.useFixture(nova_fixtures.CGroupsFixture())
        # the host's memory cgroup controller (xloud_memory)
        self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.xloud_memory.host_supported',
            return_value=True))
        self.drvr = libvirt_driver.LibvirtDriver(fake.FakeVirtAPI(), True)
        self.image_meta = objects.ImageMeta.from_dict({'disk_format': 'raw'})

    def _config(self, instance):
        disk_info = blockinfo.get_disk_info(
            CONF.libvirt.virt_type, instance, self.image_meta)
        return self.drvr._get_guest_config(
            instance, [], self.image_meta, disk_info)

    def test_minimum_flavor(self):
        cfg = self._config(_instance(_flavor(MINIMUM_SPECS)))
        self.assertEqual(4, cfg.vcpus)
        self.assertEqual(2, cfg.current_vcpus)
        self.assertEqual(4096 * units.Ki, cfg.memory)
        self.assertEqual(2048 * units.Ki, cfg.current_memory)
        balloons = _balloons(cfg)
        self.assertEqual(1, len(balloons))
        self.assertEqual('virtio', balloons[0].model)
        root = etree.fromstring(cfg.to_xml())
        self.assertEqual('4', root.find('vcpu').text)
        self.assertEqual('2', root.find('vcpu').get('current'))
        self.assertEqual('4194304', root.find('memory').text)
        self.assertEqual('2097152', root.find('currentMemory').text)
        self.assertEqual(
            ['virtio'],
            [b.get('model') for b in root.iterfind('devices/memballoon')])

    def test_minimum_flavor_qemu(self):
        self.flags(virt_type='qemu', group='libvirt')
        cfg = self._config(_instance(_flavor(MINIMUM_SPECS)))
        self.assertEqual(2, cfg.current_vcpus)
        self.assertEqual(2048 * units.Ki, cfg.current_memory)
        self.assertEqual(['virtio'], [b.model for b in _balloons(cfg)])

    def test_minimum_flavor_balloon_without_stats(self):
        # Upstream adds model='none' with no stats period; a minimum flavor
        # needs a working balloon anyway.
        self.flags(mem_stats_period_seconds=0, group='libvirt')
        cfg = self._config(_instance(_flavor(MINIMUM_SPECS)))
        balloons = _balloons(cfg)
        self.assertEqual(['virtio'], [b.model for b in balloons])
        self.assertIsNone(balloons[0].period)
        root = etree.fromstring(cfg.to_xml())
        balloon = root.find('devices/memballoon')
        self.assertEqual('virtio', balloon.get('model'))
        self.assertIsNone(balloon.find('stats'))

    def test_minimum_flavor_balloon_guest_cannot_deflate(self):
        # nova 31+ lets every guest deflate its balloon (autodeflate='on'):
        # a minimum flavor's guest would take back memory placement does
        # not hold for it. Releases without the attribute stay without.
        for period in (0, 10):
            self.flags(mem_stats_period_seconds=period, group='libvirt')
            cfg = self._config(_instance(_flavor(MINIMUM_SPECS)))
            root = etree.fromstring(cfg.to_xml())
            balloon = root.find('devices/memballoon')
            self.assertIn(balloon.get('autodeflate'), (None, 'off'))
            upstream = vconfig.LibvirtConfigMemoryBalloon()
            upstream.model = 'virtio'
            if upstream.format_dom().get('autodeflate') is not None:
                self.assertEqual('off', balloon.get('autodeflate'))

    def test_plain_flavor_balloon_is_upstreams(self):
        cfg = self._config(_instance(_flavor({})))
        for b in _balloons(cfg):
            self.assertIs(vconfig.LibvirtConfigMemoryBalloon, type(b))

    def test_minimum_flavor_balloon_keeps_stats_period(self):
        self.flags(mem_stats_period_seconds=21, group='libvirt')
        cfg = self._config(_instance(_flavor(MINIMUM_SPECS)))
        balloons = _balloons(cfg)
        self.assertEqual(['virtio'], [b.model for b in balloons])
        self.assertEqual(21, balloons[0].period)

    def test_minimum_flavor_at_maximum_keeps_balloon(self):
        # Grown to the flavor: still a virtio balloon, to shrink it later.
        self.flags(mem_stats_period_seconds=0, group='libvirt')
        instance = _instance(_flavor(MINIMUM_SPECS), {
            xloud.SYSMETA_VCPUS: '4', xloud.SYSMETA_MEMORY_MB: '4096'})
        cfg = self._config(instance)
        self.assertEqual(4, cfg.current_vcpus)
        self.assertEqual(4096 * units.Ki, cfg.current_memory)
        self.assertEqual(['virtio'], [b.model for b in _balloons(cfg)])

    def test_minimum_flavor_uses_sysmeta_current(self):
        instance = _instance(_flavor(MINIMUM_SPECS), {
            xloud.SYSMETA_VCPUS: '3', xloud.SYSMETA_MEMORY_MB: '3072'})
        cfg = self._config(instance)
        self.assertEqual(3, cfg.current_vcpus)
        self.assertEqual(3072 * units.Ki, cfg.current_memory)
        self.assertEqual(4, cfg.vcpus)
        self.assertEqual(4096 * units.Ki, cfg.memory)

    def test_minimum_flavor_sysmeta_clamped_to_flavor(self):
        # A resize to a smaller flavor can leave values out of its range.
        instance = _instance(_flavor(MINIMUM_SPECS), {
            xloud.SYSMETA_VCPUS: '8', xloud.SYSMETA_MEMORY_MB: '1024'})
        cfg = self._config(instance)
        self.assertEqual(4, cfg.current_vcpus)
        self.assertEqual(2048 * units.Ki, cfg.current_memory)

    def test_minimum_memory_only(self):
        flavor = _flavor({xloud.MIN_MEMORY_SPEC: '1024'})
        cfg = self._config(_instance(flavor))
        self.assertEqual(4, cfg.current_vcpus)
        self.assertEqual(1024 * units.Ki, cfg.current_memory)
        self.assertEqual(['virtio'], [b.model for b in _balloons(cfg)])

    def test_minimum_cpu_only(self):
        flavor = _flavor({xloud.MIN_CPU_SPEC: '1'})
        cfg = self._config(_instance(flavor))
        self.assertEqual(1, cfg.current_vcpus)
        self.assertEqual(4096 * units.Ki, cfg.current_memory)

    def test_flavor_without_specs(self):
        self.flags(mem_stats_period_seconds=0, group='libvirt')
        cfg = self._config(_instance(_flavor()))
        self.assertIsNone(cfg.current_vcpus)
        self.assertIsNone(cfg.current_memory)
        self.assertEqual(['none'], [b.model for b in _balloons(cfg)])
        root = etree.fromstring(cfg.to_xml())
        self.assertIsNone(root.find('currentMemory'))
        self.assertIsNone(root.find('vcpu').get('current'))

    def test_flavor_without_specs_ignores_sysmeta(self):
        instance = _instance(_flavor(), {
            xloud.SYSMETA_VCPUS: '1', xloud.SYSMETA_MEMORY_MB: '512'})
        cfg = self._config(instance)
        self.assertIsNone(cfg.current_vcpus)
        self.assertIsNone(cfg.current_memory)

    def test_flavor_without_specs_is_upstream_xml(self):
        for period in (0, 10):
            self.flags(mem_stats_period_seconds=period, group='libvirt')
            xml = self._config(_instance(_flavor())).to_xml()
            with mock.patch.object(xloud_guest, 'set_current') as hook:
                upstream = self._config(_instance(_flavor())).to_xml()
            hook.assert_called_once()
            # the two configs are built a moment apart: a loaded machine
            # can put them in different seconds
            self.assertEqual(_without_creation_time(upstream),
                             _without_creation_time(xml))


def _without_creation_time(xml):
    return re.sub(r'<nova:creationTime>[^<]*</nova:creationTime>', '', xml)


class SetCurrentTestCase(test.NoDBTestCase):
    """xloud_guest.set_current on a bare guest config."""

    def setUp(self):
        super().setUp()
        self.cgroup = self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.xloud_memory.host_supported',
            return_value=True)).mock
        # the compute manager's VirtAPI: told when live values are dropped
        self.virtapi = mock.Mock()

    def _guest(self, balloon_model=None):
        guest = vconfig.LibvirtConfigGuest()
        guest.vcpus = 4
        guest.memory = 4096 * units.Ki
        if balloon_model:
            balloon = vconfig.LibvirtConfigMemoryBalloon()
            balloon.model = balloon_model
            guest.add_device(balloon)
        return guest

    def test_adds_missing_balloon(self):
        self.flags(virt_type='kvm', group='libvirt')
        guest = self._guest()
        flavor = _flavor(MINIMUM_SPECS)
        xloud_guest.set_current(guest, _instance(flavor), flavor, self.virtapi)
        self.assertEqual(['virtio'], [b.model for b in _balloons(guest)])

    def test_replaces_none_balloon(self):
        self.flags(virt_type='qemu', group='libvirt')
        guest = self._guest('none')
        flavor = _flavor(MINIMUM_SPECS)
        xloud_guest.set_current(guest, _instance(flavor), flavor, self.virtapi)
        self.assertEqual(['virtio'], [b.model for b in _balloons(guest)])

    def test_lxc_is_refused(self):
        # Nova gives LXC guests no balloon, and libvirt limits a container
        # to <memory> whatever <currentMemory> says: the guest would use
        # more than placement holds for it, so the build is refused here
        # (and rescheduled by the compute manager).
        self.flags(virt_type='lxc', group='libvirt')
        guest = self._guest()
        flavor = _flavor(MINIMUM_SPECS)
        ex = self.assertRaises(xloud_guest.MinimumResourcesNotSupported,
                               xloud_guest.set_current, guest,
                               _instance(flavor), flavor, self.virtapi)
        self.assertIn('virt_type lxc cannot honour', str(ex))
        self.assertIsNone(guest.current_vcpus)

    def test_host_without_memory_cgroup_is_refused(self):
        # Nothing would hold the guest to its current memory: the balloon
        # is only a request to the guest.
        self.flags(virt_type='kvm', group='libvirt')
        self.cgroup.return_value = False
        guest = self._guest()
        flavor = _flavor(MINIMUM_SPECS)
        ex = self.assertRaises(xloud_guest.MinimumResourcesNotSupported,
                               xloud_guest.set_current, guest,
                               _instance(flavor), flavor, self.virtapi)
        self.assertIn('no memory cgroup controller', str(ex))
        self.assertIsNone(guest.current_memory)
        # a flavor without minimums does not need one
        xloud_guest.set_current(guest, _instance(_flavor()), _flavor(),
                                self.virtapi)

    def test_flavor_without_specs_untouched(self):
        self.flags(virt_type='kvm', group='libvirt')
        guest = self._guest('none')
        flavor = _flavor()
        xloud_guest.set_current(guest, _instance(flavor), flavor, self.virtapi)
        self.assertIsNone(guest.current_vcpus)
        self.assertIsNone(guest.current_memory)
        self.assertEqual(['none'], [b.model for b in _balloons(guest)])

    def test_flavor_without_flavorid(self):
        # upstream's libvirt tests build guests of flavors without a
        # flavorid (nova.tests.unit.virt.libvirt.test_driver's
        # test_get_guest_config*): a server without live-only values has
        # nothing to drop, and its flavor is not read for one
        self.flags(virt_type='kvm', group='libvirt')
        flavor = objects.Flavor(
            vcpus=4, memory_mb=4096, root_gb=10, ephemeral_gb=0, swap=0,
            extra_specs={})
        instance = _instance(_flavor())
        instance.flavor = flavor
        guest = self._guest('none')
        xloud_guest.set_current(guest, instance, flavor, self.virtapi)
        self.assertIsNone(guest.current_vcpus)
        self.assertNotIn('flavorid', flavor)

    def test_regeneration_drops_live_only_values(self):
        # The guest is defined from the persisted values; what an adjust
        # with persist=false changed went with the old domain, and the
        # compute manager is told at once, to make placement hold the
        # persisted values (a definition that fails never reaches
        # after_regeneration()). The driver itself writes no allocation.
        self.flags(virt_type='kvm', group='libvirt')
        follow = self.virtapi.xloud_guest_redefined
        for flavor in (_flavor(MINIMUM_SPECS), _flavor()):
            follow.reset_mock()
            instance = _instance(flavor, {
                xloud.SYSMETA_VCPUS: '2', xloud.SYSMETA_MEMORY_MB: '2048'})
            xloud.record(instance, 3, 3072, persist=False)
            self.assertTrue(xloud.has_live(instance))
            xloud_guest.set_current(self._guest(), instance, flavor,
                                    self.virtapi)
            self.assertFalse(xloud.has_live(instance))
            persisted = ((2, 2048) if xloud.has_minimum(flavor) else
                         (4, 4096))
            self.assertEqual(persisted, xloud.current(instance))
            if xloud.has_minimum(flavor):
                follow.assert_called_once_with(instance, *persisted)
            else:
                # live values clamped to the flavor's: nothing to follow
                follow.assert_not_called()

    def test_regeneration_for_another_flavor_leaves_placement(self):
        # a resize to another flavor: its claims are the resize's own
        self.flags(virt_type='kvm', group='libvirt')
        old = _flavor(MINIMUM_SPECS)
        instance = _instance(old, {
            xloud.SYSMETA_VCPUS: '2', xloud.SYSMETA_MEMORY_MB: '2048'})
        xloud.record(instance, 3, 3072, persist=False)
        new = _flavor({xloud.MIN_CPU_SPEC: '3', xloud.MIN_MEMORY_SPEC: '3072'})
        new.flavorid = 'other'
        instance.flavor = new
        xloud_guest.set_current(self._guest(), instance, new, self.virtapi)
        self.assertFalse(xloud.has_live(instance))
        self.virtapi.xloud_guest_redefined.assert_not_called()

    def test_uses_given_flavor(self):
        # During a resize the driver passes the flavor it builds for.
        self.flags(virt_type='kvm', group='libvirt')
        guest = self._guest()
        new = _flavor({xloud.MIN_CPU_SPEC: '3', xloud.MIN_MEMORY_SPEC: '3072'})
        xloud_guest.set_current(guest, _instance(_flavor()), new,
                                self.virtapi)
        self.assertEqual(3, guest.current_vcpus)
        self.assertEqual(3072 * units.Ki, guest.current_memory)
