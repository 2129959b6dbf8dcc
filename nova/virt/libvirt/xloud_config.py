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


"""The domain XML a live-scalable server needs, for LibvirtConfigGuest.

``LibvirtConfigGuest`` carries two extra attributes, both ``None`` unless
the driver sets them (see ``nova.virt.libvirt.xloud_guest``):

``current_vcpus``
    the vCPUs online at boot: ``<vcpu current='N'>MAX</vcpu>``;
``current_memory``
    the memory outside the balloon, in KiB like ``memory``:
    ``<currentMemory>N</currentMemory>``.

While both are ``None`` the domain XML is exactly upstream's. The hooks in
``nova/virt/libvirt/config.py`` call the two functions below; this module
imports nothing from it, so that it can import us.
"""

from lxml import etree


def format_current(guest, root):
    """Add the current vCPUs and memory of ``guest`` to its <domain> root.

    :param guest: the LibvirtConfigGuest being formatted
    :param root: its <domain> element, with the basic properties (memory,
        maxMemory, vcpu) already appended
    """
    if guest.current_vcpus is not None:
        vcpu = root.find('vcpu')
        if vcpu is not None:
            vcpu.set('current', str(guest.current_vcpus))
    if guest.current_memory is not None:
        # libvirt keeps <currentMemory> next to <memory> and <maxMemory>;
        # the schema does not require the order, but virsh dumpxml shows it
        # there, so a diff against a live domain stays readable.
        anchor = root.find('maxMemory')
        if anchor is None:
            anchor = root.find('memory')
        current = etree.Element('currentMemory')
        current.text = str(guest.current_memory)
        if anchor is None:
            root.append(current)
        else:
            anchor.addnext(current)


def parse_current(guest, xmldoc):
    """Read <vcpu current=...> and <currentMemory> into ``guest``.

    :param guest: the LibvirtConfigGuest being parsed
    :param xmldoc: one child element of <domain>
    """
    if xmldoc.tag == 'vcpu':
        if xmldoc.get('current') is not None:
            guest.current_vcpus = int(xmldoc.get('current'))
    elif xmldoc.tag == 'currentMemory':
        # libvirt reports it in KiB (unit='KiB'), which is the unit
        # LibvirtConfigGuest uses for memory, as upstream parses <memory>.
        guest.current_memory = int(xmldoc.text)
