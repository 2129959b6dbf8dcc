# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""Tests of the operators' documents upgrade/xloud_artifact.py generates.

They are per series: everything version-specific in them must come from
the series (patches/<series>/UPSTREAM), and the same inputs must give the
same bytes. A second series is simulated here by a copy of a real one with
another version and Python, so these hold before a second series exists.
"""

import copy
import os
import re
import sys
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, 'upgrade'))
import xloud_artifact  # noqa: E402
from xloud_tools import pq as xloud_pq  # noqa: E402


def prose(text):
    """The text without its fenced blocks (reproduced code says what it
    says: the overlay's own comments may name releases)."""
    return re.sub(r'(?ms)^(`{3,})[a-z]*\n.*?^\1$', '', text)


def fake_series(real, name, version, python):
    s = copy.copy(real)
    s.name, s.version, s.min_python = name, version, python
    s.constraints = os.path.join(REPO, 'constraints',
                                 'upper-constraints-%s.txt' % name)
    return s


class TestDocs(unittest.TestCase):

    maxDiff = None

    def setUp(self):
        self.real = xloud_artifact.all_series()
        self.assertTrue(self.real)

    def test_same_inputs_same_bytes_whatever_the_environment(self):
        first = xloud_artifact.expected_docs()
        other = [s.name for s in self.real][-1]
        with mock.patch.dict(os.environ, {'XLOUD_SERIES': other}):
            second = xloud_artifact.expected_docs()
        self.assertEqual(first, second)
        for s in self.real:
            for name in xloud_artifact.DOC_NAMES:
                self.assertIn('%s/%s' % (s.name, name), first)
                self.assertIn(name, first)

    def test_every_series_has_its_current_documents(self):
        self.assertEqual(xloud_artifact.docs(check=True), 0)

    def test_nothing_version_specific_is_hard_coded(self):
        base = self.real[0]
        fake = fake_series(base, '2099.2', '99.1.3', '3.13')
        with mock.patch.object(xloud_artifact, 'all_series',
                               return_value=[fake]):
            texts = [(make, make(fake))
                     for make in xloud_artifact.SERIES_DOCS.values()]
            guide = xloud_artifact.guide_md(fake)
        for make, text in texts:
            text = prose(text)
            self.assertIn('99.1.3', text)
            for s in self.real:
                self.assertNotIn(s.version, text, make.__name__)
                self.assertNotIn(s.name, text, make.__name__)
        self.assertNotIn('@@', guide)
        for what in ('build/2099.2/dist/nova-99.1.3+xloud.N.gSHA-py3-none-'
                     'any.whl', 'kolla/$svc:2099.2-xloud.N',
                     'python3.13/site-packages', 'Python\n3.13 or newer',
                     "installed nova is '99.1.2'"):
            self.assertIn(what, guide)

    def test_the_index_lists_every_series_default_first(self):
        base = self.real[0]
        fake = fake_series(base, '2099.2', '99.1.3', '3.13')
        with mock.patch.object(xloud_artifact, 'all_series',
                               return_value=[fake] + self.real):
            text = xloud_artifact.index_md('RSYNC_DEPLOYMENT_GUIDE.md')
            guide = xloud_artifact.guide_md(base)
        default = xloud_artifact.configured_default_series()
        rows = [line for line in text.splitlines()
                if line.startswith('| ') and '---' not in line][1:]
        self.assertEqual(len(rows), len(self.real) + 1)
        self.assertTrue(rows[0].startswith('| %s (default) |' % default))
        self.assertIn('[2099.2/RSYNC_DEPLOYMENT_GUIDE.md]', text)
        self.assertIn('2099.2 (nova 99.1.3)', guide)

    def test_the_guide_says_what_the_patch_set_has(self):
        for s in self.real:
            guide = xloud_artifact.guide_md(s)
            c = xloud_artifact.checks(s)
            for route in c['routes']:
                self.assertIn('`%s`' % route, guide)
            self.assertNotIn('not in the patch set yet', guide)
            self.assertNotIn('there are none yet', guide)

    def test_exact_code_reference_has_every_file_and_hunk(self):
        for s in self.real:
            text = xloud_artifact.exact_code_md(s)
            for p in xloud_artifact.overlay_files():
                if p.startswith('nova/tests/'):
                    self.assertIn('`%s`' % p, text)
                    continue
                with open(os.path.join(REPO, p), encoding='utf-8') as f:
                    self.assertIn('\n' + f.read(), text)
            for p in xloud_artifact.patches(s):
                self.assertIn(p.diff.rstrip('\n'), text)

    def test_a_wheel_names_its_series(self):
        for s in self.real:
            self.assertIs(type(xloud_artifact.series_of_version(
                s.version + '+xloud.3.gabc')), xloud_pq.Series)
            self.assertEqual(xloud_artifact.series_of_version(
                s.version + '+xloud.3.gabc').name, s.name)
        with self.assertRaises(SystemExit):
            xloud_artifact.series_of_version('1.2.3+xloud.1.gabc')


if __name__ == '__main__':
    unittest.main()
