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

"""Our guest-level adjust code against libvirt's own test driver.

``nova.virt.libvirt.xloud_adjust`` runs unchanged, with the flags it really
uses, on a real ``LibvirtDriver`` whose ``[libvirt]connection_uri`` is
``test:///default``: so ``driver._host`` is a real
``nova.virt.libvirt.host.Host`` and ``get_guest(instance)._domain`` a real
libvirt-python ``virDomain``. Nothing of libvirt is faked. The domains are
defined from the XML our driver generated (``realvirt/xloud_driver_xml.py``).

libvirt's test driver keeps the live and the persistent definitions apart
and enforces libvirt's rules (maximum vCPUs and memory, LIVE needs a
running domain, and it refuses LIVE|CONFIG together for memory), but it
runs no guest: the guest side is ``test_real_guest``.

Two things of the test driver this module works around, and why:

- it confirms a vCPU unplug at once, so the compute is told so
  (``[xloud] vcpu_unplug=always``): a shrink here is an unplug; the cap
  (``vcpu_unplug=auto``, the default) is proven on the real guest;
- it has no CPU bandwidth: ``virDomainGetSchedulerParametersFlags`` with
  ``VIR_DOMAIN_AFFECT_LIVE`` fails ("unsupported flags (0x5)"); such a
  host has set no cap, and ``xloud_cpu.cap()`` reads none
  (``test_a_host_without_cpu_bandwidth``; before the fix, a finding of
  this module, ``adjust()`` and ``read()`` raised).
"""


import fixtures
import libvirt
from oslo_utils import uuidutils

from nova import exception
from nova import objects
from nova import test
from nova.virt import fake
from nova.virt.libvirt import driver as libvirt_driver
from nova.virt.libvirt import xloud_adjust
from nova.virt.libvirt import xloud_cpu
import xloud_driver_xml as driver_xml
import xloud_support as support

MIB = 1024


def _main(values):
    """The values every adjust returns, without the guest's report."""
    return {key: values[key] for key in ('vcpus', 'memory_mb', 'errors')
            if key in values}


class AdjustOnTestDriverTest(test.NoDBTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Nova's services run there under their own fixtures: outside ours.
        cls.xml = driver_xml.domain_xml(driver_xml.MINIMUM)

    def setUp(self):
        super().setUp()
        objects.register_all()
        self.flags(connection_uri='test:///default', virt_type='qemu',
                   group='libvirt')
        # What Host.initialize() does for events (the patched Host runs it
        # before its first connection), without its dispatch thread: the
        # test driver needs an event loop registered to accept the
        # connection's event callbacks (it never fires any here).
        self.useFixture(fixtures.MonkeyPatch(
            'nova.virt.libvirt.host.Host._init_events',
            lambda host: libvirt.virEventRegisterDefaultImpl()))
        self.driver = libvirt_driver.LibvirtDriver(fake.FakeVirtAPI(), False)
        self.conn = self.driver._host.get_connection()
        self.assertEqual('test:///default', self.conn.getURI())
        # the test driver confirms an unplug
        self.flags(vcpu_unplug='always', group='xloud')

    def _guest(self, start=True):
        """A domain of our driver's XML, and the Instance it belongs to."""
        uuid_str = uuidutils.generate_uuid()
        dom = self.conn.defineXML(support.with_identity(self.xml, uuid_str))
        self.addCleanup(self._remove, dom)
        if start:
            dom.create()
        # libvirt's test driver has no memory cgroup: the Instance's flavor
        # has no minimum, so adjust takes its balloon-only path here (the
        # path under the host-enforced memory limit is proven on the real
        # guest, test_real_guest)
        return dom, objects.Instance(uuid=uuid_str, flavor=objects.Flavor(
            flavorid='plain', name='plain', vcpus=4, memory_mb=1024,
            extra_specs={}), system_metadata={})

    @staticmethod
    def _remove(dom):
        if dom.isActive():
            dom.destroy()
        dom.undefine()

    @staticmethod
    def _values(xml):
        current, maximum, kib, _ = support.current_values(xml)
        # libvirt leaves current out when all the vCPUs are online
        return current or maximum, kib // MIB

    def _live(self, dom):
        return self._values(dom.XMLDesc(0))

    def _persistent(self, dom):
        return self._values(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))

    def test_uses_the_real_host(self):
        dom, instance = self._guest()
        guest = self.driver._host.get_guest(instance)
        # Nova's Host hands out libvirt objects in an eventlet tpool proxy
        self.assertIsInstance(getattr(guest._domain, '_obj', guest._domain),
                              libvirt.virDomain)
        self.assertEqual(dom.UUIDString(), guest._domain.UUIDString())
        values = xloud_adjust.read(self.driver, instance)
        self.assertEqual({'vcpus': 1, 'memory_mb': 512}, _main(values))
        self.assertEqual(1, values['vcpus_plugged'])
        self.assertEqual(xloud_cpu.AGENT_NONE, values['guest']['agent'])

    def test_a_host_without_cpu_bandwidth(self):
        """Where libvirt cannot report the domain's CPU bandwidth (here:
        the test driver refuses ``schedulerParametersFlags(AFFECT_LIVE)``)
        no cap was set: read() and adjust() answer with the plugged vCPUs,
        a growth works, and a shrink that cannot be held by a cap keeps
        its vCPUs (and the caller its claim) and says why.
        """
        dom, instance = self._guest()
        self.assertRaises(libvirt.libvirtError,
                          dom.schedulerParametersFlags,
                          libvirt.VIR_DOMAIN_AFFECT_LIVE)
        self.assertEqual({'vcpus': 1, 'memory_mb': 512},
                         _main(xloud_adjust.read(self.driver, instance)))
        values = xloud_adjust.adjust(self.driver, instance, vcpus=2,
                                     persist=True)
        self.assertEqual({'vcpus': 2, 'memory_mb': 512, 'errors': []},
                         _main(values))
        self.flags(vcpu_unplug='never', group='xloud')
        values = xloud_adjust.adjust(self.driver, instance, vcpus=1,
                                     persist=True)
        self.assertEqual(2, values['vcpus'])
        self.assertEqual(1, len(values['errors']))
        self.assertIn("capping the CPU time at 1 vCPUs' worth",
                      values['errors'][0])
        self.assertEqual((2, 512), self._live(dom))
        self.assertEqual((2, 512), self._persistent(dom))

    def test_adjust_is_the_first_guest_call_of_the_process(self):
        """A compute whose first guest call is an adjust.

        ``nova.virt.libvirt.guest`` imports libvirt only when its first
        Guest is built; until then its ``libvirt`` is None, as in a fresh
        nova-compute process.
        """
        dom, instance = self._guest()
        self.useFixture(fixtures.MonkeyPatch(
            'nova.virt.libvirt.guest.libvirt', None))
        result = xloud_adjust.adjust(self.driver, instance, vcpus=2,
                                     persist=True)
        self.assertEqual({'vcpus': 2, 'memory_mb': 512, 'errors': []},
                         _main(result))
        self.assertEqual((2, 512), self._persistent(dom))

    def test_up_persisted(self):
        dom, instance = self._guest()
        result = xloud_adjust.adjust(self.driver, instance, vcpus=3,
                                     memory_mb=896, persist=True)
        self.assertEqual({'vcpus': 3, 'memory_mb': 896, 'errors': []},
                         _main(result))
        self.assertEqual((3, 896), self._live(dom))
        self.assertEqual((3, 896), self._persistent(dom))
        self.assertEqual(3, dom.vcpusFlags(libvirt.VIR_DOMAIN_AFFECT_LIVE))
        self.assertEqual(896 * MIB, dom.info()[2])

    def test_down_persisted(self):
        dom, instance = self._guest()
        xloud_adjust.adjust(self.driver, instance, vcpus=4, memory_mb=1024,
                            persist=True)
        result = xloud_adjust.adjust(self.driver, instance, vcpus=2,
                                     memory_mb=640, persist=True)
        self.assertEqual({'vcpus': 2, 'memory_mb': 640, 'errors': []},
                         _main(result))
        self.assertEqual((2, 640), self._live(dom))
        self.assertEqual((2, 640), self._persistent(dom))

    def test_not_persisted_leaves_the_definition(self):
        dom, instance = self._guest()
        result = xloud_adjust.adjust(self.driver, instance, vcpus=4,
                                     memory_mb=1024, persist=False)
        self.assertEqual({'vcpus': 4, 'memory_mb': 1024, 'errors': []},
                         _main(result))
        self.assertEqual((4, 1024), self._live(dom))
        # the definition still boots the guest at its minimum
        self.assertEqual((1, 512), self._persistent(dom))
        result = xloud_adjust.adjust(self.driver, instance, vcpus=2,
                                     memory_mb=600, persist=False)
        self.assertEqual({'vcpus': 2, 'memory_mb': 600, 'errors': []},
                         _main(result))
        self.assertEqual((2, 600), self._live(dom))
        self.assertEqual((1, 512), self._persistent(dom))

    def test_only_vcpus(self):
        dom, instance = self._guest()
        result = xloud_adjust.adjust(self.driver, instance, vcpus=2,
                                     persist=True)
        self.assertEqual({'vcpus': 2, 'memory_mb': 512, 'errors': []},
                         _main(result))
        self.assertEqual((2, 512), self._persistent(dom))

    def test_only_memory(self):
        dom, instance = self._guest()
        result = xloud_adjust.adjust(self.driver, instance, memory_mb=768,
                                     persist=True)
        self.assertEqual({'vcpus': 1, 'memory_mb': 768, 'errors': []},
                         _main(result))
        self.assertEqual((1, 768), self._persistent(dom))

    def test_above_the_maximum_is_refused_and_read_back(self):
        dom, instance = self._guest()
        xloud_adjust.adjust(self.driver, instance, vcpus=2, memory_mb=768,
                            persist=True)
        result = xloud_adjust.adjust(self.driver, instance, vcpus=5,
                                     memory_mb=2048, persist=True)
        # what runs, read back from libvirt, not what was asked
        self.assertEqual(2, result['vcpus'])
        self.assertEqual(768, result['memory_mb'])
        self.assertEqual(2, len(result['errors']), result['errors'])
        self.assertIn('setting 5 vCPUs', result['errors'][0])
        self.assertIn('exceeds maximum (5 > 4)', result['errors'][0])
        self.assertIn('libvirt error %d' % libvirt.VIR_ERR_INVALID_ARG,
                      result['errors'][0])
        self.assertIn('setting 2048 MiB of memory', result['errors'][1])
        self.assertIn('higher than max memory', result['errors'][1])
        self.assertEqual((2, 768), self._live(dom))
        self.assertEqual((2, 768), self._persistent(dom))

    def test_zero_vcpus_is_refused(self):
        dom, instance = self._guest()
        result = xloud_adjust.adjust(self.driver, instance, vcpus=0,
                                     persist=True)
        self.assertEqual(1, result['vcpus'])
        # the unplug's error; then the cap of the vCPU it kept, which the
        # test driver refuses too (no CPU bandwidth)
        self.assertIn('must not be zero', result['errors'][0])
        self.assertEqual(2, len(result['errors']), result['errors'])
        self.assertIn('capping the CPU time at 0 vCPUs', result['errors'][1])
        self.assertEqual((1, 512), self._persistent(dom))

    def test_a_guest_that_does_not_run_is_not_touched(self):
        dom, instance = self._guest(start=False)
        self.assertRaises(exception.InstanceNotRunning, xloud_adjust.adjust,
                          self.driver, instance, vcpus=3, memory_mb=768,
                          persist=True)
        self.assertEqual((1, 512), self._persistent(dom))

    def test_a_guest_that_does_not_exist(self):
        self.assertRaises(exception.InstanceNotFound, xloud_adjust.adjust,
                          self.driver, objects.Instance(
                              uuid=uuidutils.generate_uuid(),
                              flavor=objects.Flavor(extra_specs={})),
                          vcpus=2)
