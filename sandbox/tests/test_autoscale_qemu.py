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

"""The autoscaler on REAL guests, loaded and idled from inside.

``tox -e sandbox-qemu -- sandbox.tests.test_autoscale_qemu``: the
scenario of ``sandbox/autoscale_bench.py`` (four servers of the agent
image; loads through the guest agent; nobody adjusts but the autoscaler,
and one manual adjust), with ``XLOUD_AUTOSCALE_CPU_ROUNDS`` (default 4),
``XLOUD_AUTOSCALE_RAMPS`` per memory server (default 5) and
``XLOUD_AUTOSCALE_FLAP_MINUTES`` (default 4); ``tox -e bench -- --only
autoscale`` runs it longer and prints the same figures. What is checked
here is what the cloud did, never how fast: every load grew the server,
every idle brought it back to its minimum, GET = placement at every sample
with no adjust in flight and within the bounds, no honest guest was
killed (its own OOM killer or the host's limit) while the pinned one was,
the pinned server never changed, the manual adjust was held for its
cooldown. The times are printed as FIGURE lines.
"""

import os

from sandbox import autoscale_bench
from sandbox import client as sandbox_client
from sandbox import demo
from sandbox.tests import qemu_base
from sandbox import xloud_sandbox

CPU_ROUNDS = int(os.environ.get('XLOUD_AUTOSCALE_CPU_ROUNDS', '4'))
RAMPS = int(os.environ.get('XLOUD_AUTOSCALE_RAMPS', '5'))
FLAP_MINUTES = float(os.environ.get('XLOUD_AUTOSCALE_FLAP_MINUTES', '4'))


class AutoscaleQemuTest(qemu_base.QemuSandboxTest):

    RUN_DIR = os.path.join(xloud_sandbox.REPO, 'build',
                           'sandbox-test-autoscale-qemu')
    WHAT = 'the autoscaler on real guests'

    @classmethod
    def scenario(cls, sb, res):
        cloud = sandbox_client.Cloud(sb)
        demo.Step.current = 'autoscale scenario'
        res.update(autoscale_bench.run(sb, cloud, CPU_ROUNDS, RAMPS,
                                       FLAP_MINUTES))
        for name, value, unit in autoscale_bench.figures(res):
            print('FIGURE %s: %s %s' % (name, value, unit), flush=True)
        if res['errors']:
            raise sandbox_client.StepFailed('; '.join(res['errors']))

    def test_every_cpu_load_grew_it(self):
        self.assertEqual(CPU_ROUNDS, len(self.res['cpu_online']))

    def test_every_idle_brought_it_back(self):
        self.assertEqual(CPU_ROUNDS, len(self.res['cpu_back']))
        self.assertEqual(2 * RAMPS, len(self.res['ramps']))
        # the minimum, or one 128 MiB step above it for a guest whose idle
        # use plus 1.25 headrooms is more (doc/autoscale.rst, limits)
        for r in self.res['ramps']:
            self.assertLessEqual(r['rest'], 512 + 128, r)

    def test_no_honest_guest_was_killed(self):
        for r in self.res['ramps']:
            self.assertEqual((0, 0), (r['oom'], r['host_kills']), r)
            self.assertEqual(autoscale_bench.RAMP_MIB, r['held'], r)

    def test_the_pinned_guest_was_and_never_changed(self):
        pinned = self.res['pinned']
        self.assertGreater(pinned['oom'], 0, pinned)
        self.assertEqual((1, 512), tuple(pinned['current']))
        self.assertEqual(0, pinned['actions'])

    def test_get_is_placement_within_bounds(self):
        self.assertIsNone(self.res['watch_error'])
        self.assertGreater(self.res['samples'], 0)
        # a shrink records, then placement releases: placement may hold
        # more than GET for that moment, never less, never for long
        self.assertEqual([], self.res['wrong'])
        self.assertEqual([], self.res['out_of_bounds'])

    def test_a_load_that_comes_and_goes_does_not_flap(self):
        self.assertEqual(0, self.res['flap']['reversals'], self.res['flap'])

    def test_the_manual_adjust_was_held(self):
        manual = self.res['manual']
        self.assertEqual({2}, set(manual['held']), manual)
        self.assertEqual('manual', manual['decision']['action'])
