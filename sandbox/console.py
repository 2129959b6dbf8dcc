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

"""What a real guest printed: its XLOUD-GUEST lines, and waiting for one.

The guest image prints a line a second of what it runs (vCPUs online,
MemTotal, uptime: ``qemu_hypervisor.guest_lines``). A subclass says where
the console's text comes from: Nova's os-getConsoleOutput, as a user reads
it, or the log file on the host, cheap enough to read every 50 ms when a
latency is measured.
"""

import time

from sandbox import client as sandbox_client
from sandbox import qemu_hypervisor


class GuestConsole(object):
    """One server's guest console; ``kind`` names it in errors."""

    kind = 'guest'

    def text(self):
        raise NotImplementedError()

    def lines(self):
        return qemu_hypervisor.guest_lines(self.text())

    def wait_line(self, accept, since, what, timeout=120, poll=0.2):
        """(line, monotonic time seen) of the first guest line of index
        >= ``since`` that ``accept`` takes.
        """
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines()[since:]:
                if accept(line):
                    return line, time.monotonic()
            if time.monotonic() > deadline:
                raise sandbox_client.StepFailed(
                    '%s: the guest did not print %s in %d s; its console '
                    'ends with:\n%s' % (self.kind, what, timeout,
                                        self.text()[-1500:]))
            time.sleep(poll)


class LogConsole(GuestConsole):
    """The console log file the hypervisor writes on the host."""

    def __init__(self, path):
        self.path = path

    def text(self):
        try:
            with open(self.path, errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''
