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

"""Our Horizon plugin in a real browser, on the real sandbox
(``tox -e dashboard``).

The sandbox (fake hypervisor: Nova's fake libvirt, a stand-in; keystone,
Nova, placement and Horizon real) with Horizon and xloud-dashboard under
gunicorn; Debian's Chromium, headless, driven by Selenium
(``browser.py``). Each step as a user does it, with a screenshot in
``build/screenshots/dashboard/``; each checked in the page and, where
the page claims a change, in Nova's API too:

- an admin (Nova's default policy): the row action, the form with GET's
  minimum, current and maximum, Check that fits, Check that does not
  (the project's cores quota) with Nova's reason, the adjust, the row's
  Adjust column reaching the new size, the detail page's Resources tab;
- a member: no action under the default policy; under
  ``doc/self-service-policy.yaml`` (Nova's policy file, which Horizon
  reads too) the action, and an adjust of their own server;
- a reader under the self-service policy: no action, and the form posted
  directly is refused by Nova (403) and the refusal shown in the form;
- the admin Flavors panel: the flavor's minimum set, and Nova's validator
  refusing a minimum above the flavor, its message in the form.
"""

import os
import shutil
import time
import unittest

from sandbox import client as sandbox_client
from sandbox import configs
from sandbox import demo
from sandbox import keystone as sandbox_keystone
from sandbox.tests import browser as browser_mod
from sandbox import xloud_sandbox

RUN_DIR = os.path.join(xloud_sandbox.REPO, 'build', 'sandbox-dashboard')
SHOTS = os.path.join(xloud_sandbox.REPO, 'build', 'screenshots',
                     'dashboard')
SELF_SERVICE = os.path.join(xloud_sandbox.REPO, 'doc',
                            'self-service-policy.yaml')
NOVA_OVERRIDES = {'quota': {'count_usage_from_placement': 'True'}}
By = browser_mod.By


class DashboardTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.timings = {}
        t0 = time.monotonic()
        cls.sb = xloud_sandbox.Sandbox(RUN_DIR, dashboard=True,
                                       nova_overrides=NOVA_OVERRIDES)
        cls.sb.start()
        cls.browser = None
        try:
            cls.timings['sandbox start'] = time.monotonic() - t0
            cls.timings['horizon start'] = cls.sb.timings['horizon']
            cls.admin = sandbox_client.Cloud(cls.sb, user='admin')
            prof = demo.PROFILES['fake']
            cls.prof = prof
            cls.flavor = cls.admin.create_flavor(
                'xloud.dash', extra_specs=dict(prof.minimum), **prof.flavor)
            cls.plain_flavor = cls.admin.create_flavor(
                'xloud.plain', vcpus=2, ram=1024, disk=1)
            image = cls.admin.upload_image('dash', b'\0' * 1024)
            server = cls.admin.boot('dash-1', image['id'],
                                    cls.flavor['id'])
            cls.server_id = cls.admin.wait_server(server['id'],
                                                  'ACTIVE')['id']
            shutil.rmtree(SHOTS, ignore_errors=True)
            t1 = time.monotonic()
            cls.browser = browser_mod.Browser(cls.sb.horizon.url, SHOTS)
            cls.timings['chromium start'] = time.monotonic() - t1
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.browser is not None:
            cls.browser.quit()
        cls.set_policy(None)
        left = cls.sb.stop()
        print('\ndashboard timings: %s\nscreenshots:\n  %s' % (
            ', '.join('%s %.1f s' % kv for kv in sorted(
                cls.timings.items())),
            '\n  '.join(cls.browser.shots if cls.browser else [])))
        assert not left, 'processes left after stop: %s' % left

    # ---- helpers
    @classmethod
    def set_policy(cls, path):
        configs.set_nova_policy(cls.sb, path)

    def login(self, who):
        t = time.monotonic()
        self.browser.login(sandbox_keystone.user_name(who),
                           self.sb.keystone.passwords[who])
        self.timings['login %s' % who] = time.monotonic() - t

    def row_css(self):
        return '#instances__row__%s' % self.server_id

    def action_id(self):
        return 'instances__row_%s__action_xloud_adjust' % self.server_id

    def open_instances(self):
        self.browser.get('/project/instances/')
        return self.browser.visible(self.row_css())

    def open_adjust_form(self):
        """From the row's action menu, as a user clicks it."""
        row = self.open_instances()
        row.find_element(By.CSS_SELECTOR, '.dropdown-toggle').click()
        self.browser.visible('#%s' % self.action_id()).click()
        return self.browser.visible('#xloud_adjust_form')

    def check(self, vcpus, memory):
        b = self.browser
        b.fill('#id_vcpus', vcpus)
        b.fill('#id_memory_mb', memory)
        old = b.find('#xloud_check_answer')
        b.visible('#xloud_check').click()
        if old:
            b.wait(lambda d: not self._attached(old[0]))
        return b.visible('#xloud_check_answer').text

    @staticmethod
    def _attached(element):
        try:
            element.is_displayed()
            return True
        except Exception:
            return False

    def wait_row_text(self, *texts, timeout=90):
        """Until the row shows one of ``texts`` (Horizon's ajax row
        update: no reload), its text returned.
        """
        b = self.browser

        def shown(driver):
            row = driver.find_element(By.CSS_SELECTOR, self.row_css()).text
            return any(text in row for text in texts)
        b.wait(shown, timeout)
        return b.driver.find_element(By.CSS_SELECTOR, self.row_css()).text

    def current(self):
        got = self.admin.get_adjust(self.server_id)
        return got['vcpus']['current'], got['memory_mb']['current']

    # ---- the tests, in order
    def test_1_admin_adjusts(self):
        b = self.browser
        self.set_policy(None)
        self.login('admin')
        self.open_instances()
        b.shot('admin-instances')
        form = self.open_adjust_form()
        # GET's range in the form
        rng = b.visible('#xloud_adjust_range').text
        minimum = self.prof.min
        self.assertIn('%d %d %d' % (minimum[0], minimum[0],
                                    self.prof.flavor['vcpus']), rng)
        self.assertIn('%d %d %d' % (minimum[1], minimum[1],
                                    self.prof.flavor['ram']), rng)
        self.assertTrue(form.find_element(By.ID, 'id_persist').is_selected())
        b.shot('admin-form')

        answer = self.check(2, 2048)
        self.assertIn('It fits', answer)
        b.shot('admin-check-fits')

        # the project's cores quota: 1 in use, 2 allowed; 4 do not fit
        project = self.sb.keystone.project_id('admin')
        self.admin.nova('PUT', '/os-quota-sets/%s' % project, 200,
                        json={'quota_set': {'cores': 2}})
        try:
            answer = self.check(4, 2048)
        finally:
            self.admin.nova('PUT', '/os-quota-sets/%s' % project, 200,
                            json={'quota_set': {'cores': 20}})
        self.assertIn('It does not fit', answer)
        self.assertIn('cores', answer)
        b.shot('admin-check-does-not-fit')
        # a check changes nothing
        self.assertEqual(minimum, self.current())

        self.check(2, 2048)
        t = time.monotonic()
        b.visible('#xloud_submit').click()
        # back on the table; the row follows the instance action
        self.wait_row_text('Adjusting', 'Adjusted', timeout=30)
        b.shot('admin-row-adjusting')
        text = self.wait_row_text('Adjusted: 2 vCPUs, 2048 MiB')
        self.timings['admin adjust, click to row done'] = (
            time.monotonic() - t)
        b.shot('admin-row-adjusted')
        self.assertIn('Adjusted', text)
        self.assertEqual((2, 2048), self.current())

    def test_2_detail_tab(self):
        b = self.browser
        self.login('admin')
        b.get('/project/instances/%s/' % self.server_id)
        b.visible('a[data-target$="xloud_resources"]').click()
        text = b.visible('#xloud_resources').text
        vcpus, memory = self.current()
        self.assertIn('%d (minimum %d, maximum %d)' % (
            vcpus, self.prof.min[0], self.prof.flavor['vcpus']), text)
        self.assertIn('%d (minimum %d, maximum %d)' % (
            memory, self.prof.min[1], self.prof.flavor['ram']), text)
        b.shot('admin-detail-resources-tab')

    def test_3_member(self):
        b = self.browser
        self.set_policy(None)
        self.login('member')
        self.open_instances()
        self.assertEqual([], b.find('#%s' % self.action_id()))
        b.shot('member-default-policy-no-action')

        self.set_policy(SELF_SERVICE)
        form = self.open_adjust_form()
        self.assertTrue(form.is_displayed())
        b.shot('member-self-service-form')
        self.check(1, 1024)
        b.visible('#xloud_submit').click()
        self.wait_row_text('Adjusted: 1 vCPUs, 1024 MiB')
        b.shot('member-row-adjusted')
        self.assertEqual((1, 1024), self.current())

    def test_4_reader_refused(self):
        b = self.browser
        self.set_policy(SELF_SERVICE)
        self.login('reader')
        self.open_instances()
        self.assertEqual([], b.find('#%s' % self.action_id()))
        b.shot('reader-no-action')
        # the form's URL directly (its page, not the modal), posted: the
        # reader may look (GET) but Nova refuses the adjust
        before = self.current()
        b.get('/project/xloud_adjust/%s/' % self.server_id)
        b.visible('#xloud_adjust_form')
        b.fill('#id_vcpus', 3)
        b.visible('#xloud_submit').click()
        err = b.visible('#xloud_adjust_form .alert-danger').text
        self.assertIn('Unable to adjust the server', err)
        self.assertIn('HTTP 403', err)
        b.shot('reader-direct-post-refused')
        self.assertEqual(before, self.current())

    def test_5_flavor_minimum(self):
        b = self.browser
        self.login('admin')
        flavor = self.plain_flavor['id']
        row = '#flavors__row__%s' % flavor
        b.get('/admin/flavors/')
        b.visible(row).find_element(By.CSS_SELECTOR,
                                    '.dropdown-toggle').click()
        b.visible('#flavors__row_%s__action_xloud_minimum' % flavor).click()
        b.visible('#xloud_minimum_form')
        b.shot('admin-flavor-minimum-form')
        # above the flavor's 2 vCPUs: Nova's validator refuses, naming it
        b.fill('#id_minimum_cpu', 9)
        b.visible('#xloud_minimum_form input[type=submit]').click()
        err = b.visible('#xloud_minimum_form .alert-danger').text
        self.assertIn('minimum_cpu', err)
        b.shot('admin-flavor-minimum-validator-error')
        specs = self.admin.nova('GET', '/flavors/%s/os-extra_specs' % flavor,
                                200).json()['extra_specs']
        self.assertNotIn('minimum_cpu', specs)

        b.fill('#id_minimum_cpu', 1)
        b.fill('#id_minimum_memory', 512)
        b.visible('#xloud_minimum_form input[type=submit]').click()
        b.wait(lambda d: 'minimum of the flavor is set' in d.find_element(
            By.TAG_NAME, 'body').text)
        b.shot('admin-flavor-minimum-set')
        specs = self.admin.nova('GET', '/flavors/%s/os-extra_specs' % flavor,
                                200).json()['extra_specs']
        self.assertEqual('1', specs.get('minimum_cpu'))
        self.assertEqual('512', specs.get('minimum_memory'))


if __name__ == '__main__':
    unittest.main()
