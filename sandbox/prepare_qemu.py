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

"""Install what the sandbox's qemu mode needs, where this machine allows.

Run by tox (demo, bench) before the sandbox: the Debian packages of a
private libvirtd and QEMU (idempotent, root only), libvirt-python in the
venv (built against the host's libvirt, so not a plain tox dep: the
package needs libvirt-dev first), and the guest kernel + initramfs, and
those of the agent variant (``build(agent=True)``).

It never fails the run: a machine that cannot have the qemu mode gets
the fake one (``--hypervisor auto``), and this says why. An explicit
``--hypervisor qemu`` then fails with the reason in the sandbox itself.

Usage: python sandbox/prepare_qemu.py CONSTRAINTS-FILE
"""

import os
import sys

from xloud_tools import guest_image
from xloud_tools import libvirtd
from xloud_tools import setup_log


def prepare(constraints):
    if os.geteuid() != 0:
        return 'not root: no private libvirtd (the fake mode will run)'
    libvirtd.ensure_packages()
    # pip's output (it builds libvirt-python) goes to a log of this venv
    log_file = setup_log.start('libvirt-python-%s' % os.path.basename(
        sys.prefix))
    print('prepare_qemu: installing libvirt-python ... (log: %s)' %
          setup_log.shown(log_file), flush=True)
    cmd = [sys.executable, '-m', 'pip', 'install', '-q', '-c', constraints,
           'libvirt-python']
    setup_log.check_run(cmd, log_file)
    ok, why = libvirtd.available()
    if not ok:
        return why
    guest_image.build()
    # the agent variant (test_guest_side_qemu); cached like the other
    try:
        guest_image.build(agent=True)
    except Exception as e:
        print('prepare_qemu: the agent guest image could not be built '
              '(%s: %s); test_guest_side_qemu will say so' % (
                  type(e).__name__, e), flush=True)
    return None


def main():
    try:
        why = prepare(sys.argv[1])
    except Exception as e:
        why = '%s: %s' % (type(e).__name__, e)
    if why:
        print('prepare_qemu: the qemu mode is not available here: %s' % why,
              flush=True)
    else:
        print('prepare_qemu: the qemu mode can run (packages, '
              'libvirt-python, guest image ready)', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
