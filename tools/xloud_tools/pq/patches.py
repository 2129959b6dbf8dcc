# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""The patch queue: patch files, their rules, applying them.

A patch is a mail-style header block, a message with the fields
HEADER_FIELDS, then a git diff whose every hunk adds a MARKER line;
it applies with zero fuzz and becomes one commit of the built tree.
"""

import email.utils
import os
import re
import tempfile

from xloud_tools.pq.shell import BuildError, git, run


HEADER_FIELDS = ('Description', 'Why', 'Upstream-status')


MARKER = '# xloud'


class Patch(object):
    """A patch file: mail-style headers, a message, then a git diff."""

    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        with open(path, encoding='utf-8') as f:
            self.text = f.read()
        head, sep, rest = self.text.partition('\n\n')
        if not sep:
            raise BuildError('%s: no header block' % self.name)
        self.headers = {}
        for line in head.splitlines():
            key, _, value = line.partition(':')
            self.headers[key.strip()] = value.strip()
        for key in ('From', 'Date', 'Subject'):
            if key not in self.headers:
                raise BuildError('%s: header %s: missing' % (self.name, key))
        body, sep, self.diff = rest.partition('\n---\n')
        if not sep:
            raise BuildError("%s: no '---' line before the diff" % self.name)
        self.body = body.strip('\n')
        self.diff = self.diff[self.diff.find('diff --git'):]

    @property
    def message(self):
        return '%s\n\n%s\n' % (self.headers['Subject'], self.body)

    def hunks(self):
        """Yield (file, hunk header, added lines) for every hunk."""
        current, header, added = None, None, []
        for line in self.diff.splitlines():
            if line.startswith('diff --git '):
                if header:
                    yield current, header, added
                current = line.split(' b/', 1)[-1]
                header, added = None, []
            elif line.startswith('@@'):
                if header:
                    yield current, header, added
                header, added = line, []
            elif header and line.startswith('+'):
                added.append(line[1:])
        if header:
            yield current, header, added

    def problems(self):
        found = []
        for field in HEADER_FIELDS:
            if not re.search(r'^%s:\s*\S' % re.escape(field), self.body,
                             re.M):
                found.append('%s: header field %s: is missing' % (
                    self.name, field))
        for fname, header, added in self.hunks():
            if not any('xloud' in line for line in added):
                found.append('%s: %s %s adds no line marked %r' % (
                    self.name, fname, header.split(' @@')[0] + ' @@',
                    MARKER))
        return found


def failing_hunk(patch, stderr):
    """Name the hunk git apply refused, from its 'patch failed' line."""
    m = re.search(r'patch failed: (.+):(\d+)', stderr)
    if not m:
        return stderr.strip()
    fname, line = m.group(1), int(m.group(2))
    for hfile, header, _ in patch.hunks():
        hm = re.match(r'@@ -(\d+)', header)
        if hfile == fname and hm and int(hm.group(1)) == line:
            return 'hunk %s in %s does not match upstream' % (header, fname)
    return '%s near line %d does not match upstream' % (fname, line)


def apply_patch(tree, patch):
    with tempfile.NamedTemporaryFile('w', suffix='.diff',
                                     delete=False) as f:
        f.write(patch.diff)
    try:
        check = run(['git', 'apply', '--check', '--index', '-C3',
                     '--whitespace=nowarn', f.name], cwd=tree,
                    capture=True, check=False)
        if check.returncode != 0:
            raise BuildError(
                'patch %s does not apply (no fuzz is allowed): %s\n'
                'git apply said: %s\nRefresh it: build without it, redo the '
                'change in the tree, commit, then run export.' % (
                    patch.name, failing_hunk(patch, check.stderr),
                    check.stderr.strip()))
        git(tree, 'apply', '--index', '--whitespace=nowarn', f.name)
    finally:
        os.unlink(f.name)
    commit_patch(tree, patch)


def commit_patch(tree, patch):
    """Commit the index as the patch: its author, date and message."""
    author = email.utils.parseaddr(patch.headers['From'])
    env = {'GIT_AUTHOR_NAME': author[0], 'GIT_AUTHOR_EMAIL': author[1],
           'GIT_AUTHOR_DATE': patch.headers['Date'],
           'GIT_COMMITTER_DATE': patch.headers['Date']}
    git(tree, 'commit', '-q', '--no-verify', '--cleanup=verbatim',
        '-m', patch.message, env=env)
