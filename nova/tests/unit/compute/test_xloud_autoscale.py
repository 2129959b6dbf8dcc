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

"""The autoscaler's rules (``xloud_autoscale.decide``), sample by sample."""

from nova.compute import xloud
from nova.compute import xloud_autoscale as autoscale
from nova import exception
from nova import objects
from nova import test

CPU_MEM = autoscale.Settings(frozenset(['cpu', 'memory']), 0.7, 256, 300)


def bounds(vcpus=1, memory_mb=1024):
    return {'vcpus': xloud.Bounds(1, vcpus, 4),
            'memory_mb': xloud.Bounds(1024, memory_mb, 4096)}


def samples(cpus, start=0, used=None, free=None):
    """One sample a second, using ``cpus[i]`` CPU s/s."""
    return [autoscale.Sample(start + i, c, used, free)
            for i, c in enumerate(cpus)]


class DecideTest(test.NoDBTestCase):

    def decide(self, samples_, b=None, now=None, growth=None, shrink=None,
               setting=CPU_MEM, **kw):
        now = samples_[-1].at if now is None else now
        return autoscale.decide(setting, b or bounds(), samples_, now,
                                growth, shrink, **kw)

    def test_one_busy_sample_is_not_a_load(self):
        self.assertEqual('hold', self.decide(samples([0.1, 1.0])).action)

    def test_sustained_load_grows_to_what_brings_it_under_target(self):
        # 1.5 of 2 vCPUs (75% > 70%): ceil(1.5 / 0.7) = 3
        d = self.decide(samples([1.5, 1.5]), bounds(vcpus=2))
        self.assertEqual(('grow', {'vcpus': 3}), (d.action, d.wanted))
        self.assertEqual('CPU 75% of 2 vCPUs for 2 s', d.reason)

    def test_the_host_s_wait_is_told_not_acted_on(self):
        load = [autoscale.Sample(i, 1.4, None, None, 0.3) for i in range(2)]
        d = self.decide(load, bounds(vcpus=2))
        self.assertEqual({'vcpus': 3}, d.wanted)
        self.assertEqual('CPU 70% of 2 vCPUs for 2 s, waiting for a host '
                         'CPU 30% of the time', d.reason)

    def test_saturated_doubles_within_the_flavor(self):
        d = self.decide(samples([2.0, 2.0]), bounds(vcpus=2))
        self.assertEqual({'vcpus': 4}, d.wanted)
        d = self.decide(samples([3.0, 3.0]), bounds(vcpus=3))
        self.assertEqual({'vcpus': 4}, d.wanted)
        d = self.decide(samples([4.0, 4.0]), bounds(vcpus=4))
        self.assertEqual('hold', d.action)

    def test_growth_ignores_the_cooldown(self):
        d = self.decide(samples([1.0, 1.0]), growth=1)
        self.assertEqual('grow', d.action)

    def test_shrink_waits_for_the_cooldown_and_a_full_window(self):
        idle = samples([0.05] * 40)
        self.assertEqual('hold', self.decide(idle, bounds(vcpus=3),
                                             growth=0).action)
        d = self.decide(idle, bounds(vcpus=3), now=39, growth=-300)
        self.assertEqual(('shrink', {'vcpus': 1}), (d.action, d.wanted))
        self.assertEqual('hold', self.decide(idle[-10:], bounds(vcpus=3),
                                             growth=-300).action)

    def test_shrink_keeps_the_peak_under_the_target(self):
        # one second at 1.3 CPU in the window: ceil(1.3 / 0.7) = 2
        load = samples([0.1] * 20 + [1.3] + [0.1] * 19)
        d = self.decide(load, bounds(vcpus=4), growth=-300)
        self.assertEqual({'vcpus': 2}, d.wanted)

    def test_shrink_steps_are_spaced(self):
        idle = samples([0.05] * 40)
        d = self.decide(idle, bounds(vcpus=3), growth=-300, shrink=35)
        self.assertEqual(('hold', 'shrinking step by step'),
                         (d.action, d.reason))
        self.assertEqual('hold', self.decide(
            idle, bounds(vcpus=3), growth=-300,
            shrink_allowed=False).action)

    def test_memory_grows_at_once_under_the_headroom(self):
        d = self.decide(samples([None], used=900, free=100))
        self.assertEqual({'memory_mb': 1536}, d.wanted)
        # within the flavor
        d = self.decide(samples([None], used=3900, free=100),
                        bounds(memory_mb=4000))
        self.assertEqual({'memory_mb': 4096}, d.wanted)

    def test_memory_trims_to_a_smaller_headroom_than_it_grew_by(self):
        # grown to its use (1440) plus two headrooms; after the cooldown,
        # trimmed to its use plus 1.25 headrooms (1760 -> 1792)
        d = self.decide(samples([0.0] * 40, used=1440, free=608),
                        bounds(memory_mb=2048), growth=-300)
        self.assertEqual({'memory_mb': 1792}, d.wanted)
        d = self.decide(samples([0.0] * 40, used=1440, free=352),
                        bounds(memory_mb=1792), growth=-300)
        self.assertEqual('hold', d.action)

    def test_a_guest_filling_its_memory_grows_ahead_of_it(self):
        # 80 MiB/s: in the 4 s a growth takes it would use 320 MiB more
        ramp = [autoscale.Sample(i, None, 300 + 80 * i, 724 - 80 * i)
                for i in range(4)]
        self.assertEqual(484, ramp[-1].free_mb)
        d = self.decide(ramp)
        # 540 + 320 + 2 x 256, rounded up to 128
        self.assertEqual(('grow', {'memory_mb': 1408}), (d.action, d.wanted))
        self.assertEqual('memory 484 MiB free of 1024, filling at 80 MiB/s: '
                         'under the headroom of 256 MiB within 4 s',
                         d.reason)
        # the same free memory, not filling: nothing to do
        still = [autoscale.Sample(i, None, 540, 484) for i in range(4)]
        self.assertEqual('hold', self.decide(still).action)

    def test_memory_shrinks_to_half_its_size_at_most(self):
        free = samples([0.0] * 40, used=200, free=3800)
        d = self.decide(free, bounds(memory_mb=4096), growth=-300)
        # target 1024 (its use + 1.25 headrooms is less): half of 4096
        self.assertEqual({'memory_mb': 2048}, d.wanted)
        d = self.decide(free, bounds(memory_mb=1152), growth=-300)
        self.assertEqual({'memory_mb': 1024}, d.wanted)

    def test_memory_rests_at_its_minimum_when_that_leaves_the_headroom(
            self):
        # 1024 - 760 = 264 free at the minimum, more than the headroom:
        # the minimum, not 760 + 1.25 x 256 = 1080 -> 1152
        d = self.decide(samples([0.0] * 40, used=760, free=392),
                        bounds(memory_mb=1152), growth=-300)
        self.assertEqual({'memory_mb': 1024}, d.wanted)
        # 780 leaves 244 free at the minimum, under the headroom: it
        # stays a step above, or it would grow again at once
        d = self.decide(samples([0.0] * 40, used=780, free=372),
                        bounds(memory_mb=1152), growth=-300)
        self.assertEqual('hold', d.action)

    def test_memory_stays_without_the_guest_s_word(self):
        unknown = samples([0.0] * 40)
        d = self.decide(unknown, bounds(memory_mb=2048), growth=-300)
        self.assertEqual('hold', d.action)
        self.assertIn('no fresh memory statistics', d.reason)
        # its peak use plus 1.25 headrooms is what it has
        tight = samples([0.0] * 40, used=1700, free=348)
        self.assertEqual('hold', self.decide(
            tight, bounds(memory_mb=2048), growth=-300).action)
        # a balloon move leaves a few samples without its word: they are
        # not needed, only half the window
        gaps = samples([0.0] * 40, used=200, free=3800)
        gaps[20:23] = samples([0.0] * 3, start=20)
        d = self.decide(gaps, bounds(memory_mb=2048), growth=-300)
        self.assertEqual('shrink', d.action)
        gaps[-1] = autoscale.Sample(39, 0.0, None, None)
        d = self.decide(gaps, bounds(memory_mb=2048), growth=-300)
        self.assertEqual('hold', d.action)

    def test_only_what_the_flavor_opts_in(self):
        cpu = autoscale.Settings(frozenset(['cpu']), 0.7, 256, 300)
        d = self.decide(samples([None], used=1000, free=10), setting=cpu)
        self.assertEqual('hold', d.action)
        mem = autoscale.Settings(frozenset(['memory']), 0.7, 256, 300)
        d = self.decide(samples([1.0, 1.0]), setting=mem)
        self.assertEqual('hold', d.action)

    def test_cpu_use(self):
        self.assertIsNone(autoscale.cpu_use(None, (1, 5)))
        self.assertEqual(1.5, autoscale.cpu_use((1, 0), (3, 3e9)))
        # the domain restarted: its CPU time went back
        self.assertIsNone(autoscale.cpu_use((1, 9e9), (2, 1e9)))


class SettingsTest(test.NoDBTestCase):

    def flavor(self, **specs):
        return objects.Flavor(vcpus=4, memory_mb=4096, extra_specs=specs)

    def test_defaults(self):
        s = autoscale.settings(self.flavor(**{
            'minimum_cpu': '1', 'xloud:autoscale': 'cpu'}))
        self.assertEqual((frozenset(['cpu']), 0.7, 256, 300), tuple(s))
        self.assertIsNone(autoscale.settings(self.flavor(minimum_cpu='1')))

    def test_validate_needs_the_minimums(self):
        for specs in ({'xloud:autoscale': 'cpu'},
                      {'minimum_cpu': '1', 'xloud:autoscale': 'cpu,memory'},
                      {'xloud:autoscale_cpu_target': '50'},
                      {'minimum_cpu': '1', 'xloud:autoscale': 'gpu'}):
            self.assertRaises(exception.ValidationError,
                              autoscale.validate_flavor,
                              self.flavor(**specs))
        autoscale.validate_flavor(self.flavor(**{
            'minimum_cpu': '1', 'minimum_memory': '512',
            'xloud:autoscale': 'memory,cpu'}))


class SampleConfigTest(test.NoDBTestCase):

    def test_the_options_are_in_nova_s_sample_config(self):
        # oslo-config-generator's namespace "nova.conf" is nova.conf.opts
        from nova.conf import opts
        groups = {getattr(g, 'name', g): [o.name for o in group_opts]
                  for g, group_opts in opts.list_opts()}
        for name in ('autoscale', 'autoscale_interval',
                     'autoscale_max_changes_per_minute'):
            self.assertIn(name, groups['xloud'])


class LoopTest(test.NoDBTestCase):

    def test_a_failing_pass_is_said_once_a_minute(self):
        from unittest import mock

        from nova.compute import xloud_autoscaler

        class Stop(Exception):
            pass

        loop = xloud_autoscaler.Autoscaler(mock.Mock())
        times = iter([0, 0, 30, 30, 61, 61, 70, 70])
        loop.clock = lambda: next(times)
        loop.tick = mock.Mock(side_effect=RuntimeError('libvirtd away'))
        with mock.patch.object(xloud_autoscaler, 'LOG') as log, \
                mock.patch.object(xloud_autoscaler.time, 'sleep',
                                  side_effect=[None, None, None, Stop]):
            self.assertRaises(Stop, loop.run)
        self.assertEqual(4, loop.tick.call_count)
        self.assertEqual(2, log.exception.call_count)
        self.assertEqual(2, log.debug.call_count)
