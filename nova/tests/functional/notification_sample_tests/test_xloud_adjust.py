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

"""The instance.xloud_adjust.{start,end,error} versioned notifications,
checked against their samples as upstream checks its own.

Our samples are in the XLoud repository's ``doc/notification_samples``;
they refer (``$ref``) to upstream's ``common_payloads`` of the release the
tree was built from, so a temporary folder holds both for the comparison.
"""

import os
import shutil
import tempfile

import fixtures

import nova.conf
from nova import context
from nova.tests import fixtures as nova_fixtures
from nova.tests.functional.notification_sample_tests \
    import notification_sample_base

SAMPLES = ('instance-xloud_adjust-start', 'instance-xloud_adjust-end',
           'instance-xloud_adjust-error')
OUR_PAYLOADS = ('XloudAdjustPayload.json',)
CONF = nova.conf.CONF


def _find(relative):
    """The first ``<parent>/relative`` above this file that exists."""
    here = os.path.dirname(os.path.abspath(__file__))
    while True:
        candidate = os.path.join(here, relative)
        if os.path.exists(candidate):
            return candidate
        parent = os.path.dirname(here)
        if parent == here:
            raise FileNotFoundError(relative)
        here = parent


class FakeAdjustDriver(object):
    """The fake driver's guest runs what it is asked; errors on demand."""

    def __init__(self):
        self.guest = {}
        self.errors = []

    def xloud_can_adjust(self):
        return True

    def xloud_adjust(self, instance, vcpus=None, memory_mb=None,
                     persist=True):
        from nova.compute import xloud
        cur = self.guest.setdefault(instance.uuid,
                                    list(xloud.live(instance)))
        if self.errors:
            return {'vcpus': cur[0], 'memory_mb': cur[1],
                    'errors': list(self.errors)}
        if vcpus is not None:
            cur[0] = vcpus
        if memory_mb is not None:
            cur[1] = memory_mb
        return {'vcpus': cur[0], 'memory_mb': cur[1], 'errors': []}

    def xloud_read(self, instance):
        cur = self.guest[instance.uuid]
        return {'vcpus': cur[0], 'memory_mb': cur[1]}


class TestXloudAdjustNotificationSample(
        notification_sample_base.NotificationSampleTestBase):

    def setUp(self):
        super(TestXloudAdjustNotificationSample, self).setUp()
        # Where the release has the server's shares in its instance payload
        # (nova 30+), upstream's common payload shows them turned on, as its
        # own instance sample tests do.
        if 'include_share_mapping' in CONF.notifications:
            self.flags(include_share_mapping=True, group='notifications')
        self.neutron = self.useFixture(nova_fixtures.NeutronFixture(self))
        self.samples = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.samples)
        # upstream's folder, as its base class finds it
        upstream = os.path.join(os.path.dirname(
            super(TestXloudAdjustNotificationSample,
                  self)._get_notification_sample('x')), 'common_payloads')
        ours = os.path.dirname(_find(os.path.join(
            'doc', 'notification_samples', SAMPLES[0] + '.json')))
        shutil.copytree(upstream, os.path.join(self.samples,
                                               'common_payloads'))
        for name in OUR_PAYLOADS:
            shutil.copy(os.path.join(ours, 'common_payloads', name),
                        os.path.join(self.samples, 'common_payloads'))
        for name in SAMPLES:
            shutil.copy(os.path.join(ours, name + '.json'), self.samples)

        self.fake = FakeAdjustDriver()
        driver = self.compute.manager.driver
        for name in ('xloud_can_adjust', 'xloud_adjust', 'xloud_read'):
            self.useFixture(fixtures.MockPatchObject(
                driver, name, getattr(self.fake, name)))
        # the compute reports what its driver can do now (its traits)
        self.compute.manager.update_available_resource(
            context.get_admin_context())

    def _get_notification_sample(self, sample):
        if sample in SAMPLES:
            return os.path.join(self.samples, sample + '.json')
        return super(TestXloudAdjustNotificationSample,
                     self)._get_notification_sample(sample)

    def _adjust(self, server, body):
        self.admin_api.api_post(
            '/servers/%s/os-xloud-adjust' % server['id'], body,
            check_response_status=[202])

    def _boot(self):
        server = self._boot_a_server(
            extra_params={'networks': [{'port': self.neutron.port_1['id']}]},
            additional_extra_specs={'minimum_memory': '256'})
        self._wait_for_notification('instance.create.end')
        self.notifier.reset()
        return server

    def _replacements(self, server):
        # the adjust is an admin's (policy), and no volume is attached
        return {'uuid': server['id'],
                'reservation_id': server['reservation_id'],
                'action_initiator_user': 'admin',
                'block_devices': None,
                'flavor.extra_specs': self.ANY,
                'ip_addresses': self.ANY,
                'key_name': self.ANY}

    def test_adjust_start_end(self):
        server = self._boot()
        self._adjust(server, {'current_memory_mb': 512})
        self._wait_for_notification('instance.xloud_adjust.end')
        notes = self.notifier.versioned_notifications
        self.assertEqual(['instance.xloud_adjust.start',
                          'instance.xloud_adjust.end'],
                         [n['event_type'] for n in notes])
        self._verify_notification(
            'instance-xloud_adjust-start',
            replacements=self._replacements(server), actual=notes[0])
        self._verify_notification(
            'instance-xloud_adjust-end',
            replacements=self._replacements(server), actual=notes[1])

    def test_adjust_error(self):
        server = self._boot()
        self.fake.errors = ['balloon failed']
        self._adjust(server, {'current_memory_mb': 512})
        self._wait_for_notification('instance.xloud_adjust.error')
        notes = self.notifier.versioned_notifications
        self.assertEqual(['instance.xloud_adjust.start',
                          'instance.xloud_adjust.error'],
                         [n['event_type'] for n in notes])
        replacements = self._replacements(server)
        replacements['fault.traceback'] = self.ANY
        self._verify_notification(
            'instance-xloud_adjust-error', replacements=replacements,
            actual=notes[1])

    def test_dry_run_and_refused_adjusts_notify_nothing(self):
        server = self._boot()
        self.admin_api.api_post(
            '/servers/%s/os-xloud-adjust' % server['id'],
            {'current_memory_mb': 512, 'dry_run': True},
            check_response_status=[200])
        self.admin_api.api_post(
            '/servers/%s/os-xloud-adjust' % server['id'],
            {'current_memory_mb': 1024}, check_response_status=[400])
        self.assertEqual([], [
            n for n in self.notifier.versioned_notifications
            if n['event_type'].startswith('instance.xloud_adjust')])
