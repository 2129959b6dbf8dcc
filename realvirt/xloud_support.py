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

"""What the realvirt tests share: paths, our tools, the figures, XML bits.

The figures (times measured on real libvirt and QEMU) are printed, never
asserted against a threshold: each test adds them with ``figure()``; they
are printed to the real stdout (Nova's TestCase captures the test's own)
and written to ``build/realvirt-figures.txt`` when the run ends.
"""

import atexit
import importlib
import os
import re
import sys
import time

from lxml import etree

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(REPO, 'build')
WORK = os.path.join(BUILD, 'realvirt')
FIGURES_FILE = os.path.join(BUILD, 'realvirt-figures.txt')

_figures = []


def tool(name):
    """One of our tools by its script's name: xloud_libvirtd is the module
    xloud_tools.libvirtd of tools/xloud_tools, installed in the venv.
    """
    return importlib.import_module('xloud_tools.' + name[len('xloud_'):])


def figure(label, value, unit='s'):
    """Record one measured figure; printed and written at the end."""
    if isinstance(value, float):
        text = '%-58s %8.2f %s' % (label, value, unit)
    else:
        text = '%-58s %8s %s' % (label, value, unit)
    _figures.append(text)
    sys.__stdout__.write('FIGURE %s\n' % text)
    sys.__stdout__.flush()


def _write_figures():
    if not _figures:
        return
    os.makedirs(BUILD, exist_ok=True)
    header = 'realvirt figures, %s, %d cores, load %s\n' % (
        time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
        os.cpu_count(), ' '.join('%.2f' % x for x in os.getloadavg()))
    with open(FIGURES_FILE, 'w') as f:
        f.write(header + ''.join(line + '\n' for line in _figures))
    sys.__stdout__.write('\n' + header + ''.join(
        '  ' + line + '\n' for line in _figures) +
        'written to %s\n' % FIGURES_FILE)
    sys.__stdout__.flush()


atexit.register(_write_figures)


def current_values(xml):
    """(vcpu current, vcpu max, currentMemory KiB, memory KiB) of a domain.

    ``current`` is None when the XML has none (libvirt then runs them all);
    so is currentMemory.
    """
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    vcpu = root.find('vcpu')
    current = root.find('currentMemory')
    return (int(vcpu.get('current')) if vcpu.get('current') else None,
            int(vcpu.text),
            int(current.text) if current is not None else None,
            int(root.find('memory').text))


def with_identity(xml, uuid_str):
    """The same domain under another UUID and name (many may coexist).

    Nova writes the UUID three times: <uuid> and the SMBIOS serial and uuid
    entries, which libvirt requires to agree.
    """
    root = etree.fromstring(xml.encode())
    root.find('uuid').text = uuid_str
    root.find('name').text = 'realvirt-%s' % uuid_str[:8]
    for entry in root.findall('./sysinfo/system/entry'):
        if entry.get('name') in ('uuid', 'serial'):
            entry.text = uuid_str
    return etree.tostring(root, encoding='unicode')


def strip_ansi(text):
    return re.sub(r'\x1b\[[0-9;]*[A-Za-z]', '', text)
