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

"""What every XLoud module of the libvirt driver needs, once.

The virt types whose guests can run below their flavor (only QEMU/KVM
guests get a memory balloon and a memory cgroup from Nova's libvirt
driver), the libvirt module itself, and the two ways a libvirt value or
error is turned into what we log and record.
"""

from oslo_utils import importutils

import nova.conf
from nova.virt.libvirt import guest as libvirt_guest

CONF = nova.conf.CONF

# The virt types whose guests Nova gives a memory balloon device and a
# memory cgroup: only there does libvirt boot a guest with <currentMemory>
# below <memory> and hold it to a limit (LXC, for one, limits a container
# to <memory> and ignores <currentMemory>).
VIRT_TYPES = ('kvm', 'qemu')


def virt_type_supported():
    """True when this compute's virt type can run a guest below its flavor.
    """
    return CONF.libvirt.virt_type in VIRT_TYPES


def libvirt():
    """The libvirt module the driver uses.

    nova 29 imports it into the guest module only when the first Guest is
    built (None before), newer releases at import; ours never depends on
    which.
    """
    return libvirt_guest.libvirt or importutils.import_module('libvirt')


def mib(kib):
    """KiB (libvirt's unit) to MiB, rounded to the nearest."""
    return (int(kib) + 512) // 1024


def error(what, exc):
    """'<what>: <exc> (libvirt error N)': what failed, for the record."""
    lv = libvirt()
    code = exc.get_error_code() if isinstance(exc, lv.libvirtError) else None
    return '%s: %s%s' % (what, exc, ' (libvirt error %s)' % code
                         if code is not None else '')
