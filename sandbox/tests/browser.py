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

"""Debian's Chromium, headless, driven by Selenium, for the dashboard's
tests (``test_dashboard.py``).

The flags: this machine's network is closed, and without them Chromium
waits on connections of its own (updates, sync, QUIC probes); a fresh
profile each run (``--user-data-dir``) so no earlier session leaks in.
Selenium is installed without trio (tox.ini, ``dashboard``): only its
async CDP part needs it, and it breaks Nova's eventlet processes.
"""

import os
import tempfile

from selenium import webdriver
from selenium.common import exceptions as sel_exceptions
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'
FLAGS = ('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
         '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync',
         '--window-size=1400,1000')

By = By
TimeoutException = sel_exceptions.TimeoutException


class Browser(object):
    """One Chromium; ``shot(name)`` writes ``<shots>/<NN>-<name>.png``."""

    def __init__(self, base_url, shots_dir):
        self.base_url = base_url
        self.shots_dir = shots_dir
        os.makedirs(shots_dir, exist_ok=True)
        self.profile = tempfile.mkdtemp(prefix='xloud-chromium-')
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS + ('--user-data-dir=%s' % self.profile,):
            options.add_argument(flag)
        self.driver = webdriver.Chrome(options=options,
                                       service=Service(CHROMEDRIVER))
        self.driver.set_page_load_timeout(120)
        self.count = 0
        self.shots = []

    def quit(self):
        self.driver.quit()

    def get(self, path):
        self.driver.get(self.base_url + path)

    def wait(self, condition, timeout=60):
        return WebDriverWait(self.driver, timeout, poll_frequency=0.3).until(
            condition)

    def visible(self, css, timeout=60):
        return self.wait(ec.visibility_of_element_located(
            (By.CSS_SELECTOR, css)), timeout)

    def find(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self):
        return self.driver.find_element(By.TAG_NAME, 'body').text

    def shot(self, name):
        self.count += 1
        path = os.path.join(self.shots_dir,
                            '%02d-%s.png' % (self.count, name))
        self.driver.save_screenshot(path)
        self.shots.append(path)
        return path

    def fill(self, css, value):
        field = self.visible(css)
        field.clear()
        field.send_keys(str(value))

    # ---- Horizon
    def login(self, username, password):
        self.driver.delete_all_cookies()
        self.get('/auth/login/')
        self.fill('#id_username', username)
        self.fill('#id_password', password)
        self.visible('#loginBtn').click()
        self.wait(lambda d: '/auth/login' not in d.current_url)

    def logout(self):
        self.get('/auth/logout/')
        self.visible('#id_username')
