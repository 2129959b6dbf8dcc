# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""Tests of the operators' documents upgrade/xloud_artifact.py generates.

They are per series: everything version-specific in them must come from
the series (patches/<series>/UPSTREAM), and the same inputs must give the
same bytes. Two of each series are committed under upgrade/<series>/, the
other two come with the artifact (and with ``docs --output``). A second
series is simulated here by a copy of a real one with another version and
Python, so these hold before a second series exists.
"""

import copy
import os
import re
import sys
import tempfile
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
        def everything():
            return (xloud_artifact.expected_docs(),
                    [xloud_artifact.series_docs(s) for s in self.real])
        first = everything()
        other = [s.name for s in self.real][-1]
        with mock.patch.dict(os.environ, {'XLOUD_SERIES': other}):
            second = everything()
        self.assertEqual(first, second)
        committed, per_series = first
        self.assertEqual(sorted(committed), sorted(
            ['%s/%s' % (s.name, n) for s in self.real
             for n in xloud_artifact.COMMITTED_DOCS] +
            [xloud_artifact.INDEX]))
        for docs in per_series:
            self.assertEqual(tuple(docs), xloud_artifact.DOC_NAMES)

    def test_every_series_has_its_current_documents(self):
        self.assertEqual(xloud_artifact.docs(check=True), 0)

    def test_the_artifact_documents_are_not_committed(self):
        with tempfile.TemporaryDirectory() as top:
            xloud_artifact.write_docs(xloud_artifact.expected_docs(), top,
                                      quiet=True)
            self.assertEqual(xloud_artifact.docs(True, top=top), 0)
            name = self.real[0].name
            left = os.path.join(top, name, 'EXACT_CODE_REFERENCE.md')
            mine = os.path.join(top, name, 'FILE_MAPPING.md')
            index = os.path.join(top, 'FILE_MAPPING.md')
            xloud_artifact.write_docs({left: xloud_artifact.exact_code_md(
                self.real[0]), index: 'an old index\n'}, top, quiet=True)
            with open(mine, 'w') as f:
                f.write('not generated\n')
            with mock.patch('sys.stderr'):
                self.assertEqual(xloud_artifact.docs(True, top=top), 1)
            self.assertEqual(sorted(xloud_artifact.docs_left(top)), sorted([
                'FILE_MAPPING.md', '%s/EXACT_CODE_REFERENCE.md' % name,
                '%s/FILE_MAPPING.md' % name]))
            # Writing removes the generated ones, never a file of a person.
            with mock.patch('sys.stdout'):
                self.assertEqual(xloud_artifact.docs(False, top=top), 0)
            self.assertFalse(os.path.exists(left))
            self.assertTrue(os.path.exists(mine))
            self.assertTrue(os.path.exists(index))

    def test_output_writes_every_document_of_each_series(self):
        with tempfile.TemporaryDirectory() as out:
            with mock.patch('sys.stdout'):
                self.assertEqual(xloud_artifact.main(
                    ['docs', '--output', out]), 0)
            self.assertEqual(sorted(os.listdir(out)),
                             [s.name for s in self.real])
            for s in self.real:
                for name, text in xloud_artifact.series_docs(s).items():
                    with open(os.path.join(out, s.name, name),
                              encoding='utf-8', newline='') as f:
                        self.assertEqual(f.read(), text)

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
            text = xloud_artifact.index_md()
            guide = xloud_artifact.guide_md(base)
        default = xloud_artifact.configured_default_series()
        rows = [line for line in text.splitlines()
                if line.startswith('| ') and '---' not in line][1:]
        self.assertEqual(len(rows), len(self.real) + 1)
        self.assertTrue(rows[0].startswith('| %s (default) |' % default))
        self.assertIn('[2099.2/RSYNC_DEPLOYMENT_GUIDE.md]', text)
        self.assertIn('[2099.2/XLOUD_NOVA_CHANGES.md]', text)
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
