#!/usr/bin/env python3
# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""xloud-pq: build the patched Nova tree and keep our patch queue.

The repository holds only what XLoud writes: an overlay of new modules at
their in-tree paths (``nova/``) and, per upstream release series, a
quilt-style ``series`` of patches to upstream files (``patches/<series>/``).
This tool turns those into a full Nova tree and back again:

``build``    download (cached) and verify the pinned upstream sdist, unpack
             it, lay the overlay in, apply the series with zero fuzz, and
             leave a git repository at ``build/<series>/nova`` that has one
             commit for upstream, one for the overlay and one per patch;
             then build the installable wheel into ``build/<series>/dist``.
``rebase``   carry a series' patches onto another release: report which
             apply as they are, with moved context, or fail (at which
             hunk), then apply them in order and stop at a failing one
             with its refused hunks left as ``.rej`` files to redo.
``export``   turn the commits made in the built tree back into the overlay
             and the patch files + ``series`` (build, export, build again
             gives byte-identical patches).
``install``  pip-install the built (or pristine) tree into the running
             Python with the series' upper-constraints (its requirements
             first with uv, where the venv has it).
``check``    lint the patch queue: headers, ``# xloud`` markers, Python
             3.10 compatibility of our own code.
``tests``    run one test selection (less ``--skip`` modules) with stestr
             and record its counts.

Only the standard library is used, so the tool runs before any venv exists,
on the operators' Python 3.10 as well as on 3.11.
"""

import argparse
import ast
import configparser
import email.utils
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OVERLAY_ROOTS = ('nova',)
HEADER_FIELDS = ('Description', 'Why', 'Upstream-status')
MARKER = '# xloud'
IDENTITY = {
    'GIT_AUTHOR_NAME': 'XLoud Nova build',
    'GIT_AUTHOR_EMAIL': 'build@xloud.invalid',
    'GIT_COMMITTER_NAME': 'XLoud Nova build',
    'GIT_COMMITTER_EMAIL': 'build@xloud.invalid',
}
# Files pbr or the test runners write into a source tree; kept out of git so
# an install or a test run never makes the built tree look edited.
TREE_EXCLUDES = """\
*.egg-info/
*.pyc
__pycache__/
/build/
/dist/
/.eggs/
/.stestr/
/.tox/
/instances/
/AUTHORS
/ChangeLog
.xloud-stamp
"""
# Python 3.11+ names our code must not use: operators run Python 3.10.
PY311_NAMES = {
    ('tomllib', None), ('datetime', 'UTC'), ('enum', 'StrEnum'),
    ('typing', 'Self'), ('typing', 'LiteralString'), ('typing', 'Never'),
    ('asyncio', 'TaskGroup'), ('asyncio', 'timeout'),
    ('hashlib', 'file_digest'), ('operator', 'call'),
    ('contextlib', 'chdir'), ('builtins', 'ExceptionGroup'),
}


# stestr workers of a functional run unless --concurrency says otherwise
# (XLOUD_FUNCTIONAL_CONCURRENCY overrides it): see stestr_concurrency.
FUNCTIONAL_WORKERS = '1.5x'


class BuildError(Exception):
    """A failure the user can act on; printed without a traceback."""


def log(msg):
    print('xloud-pq: %s' % msg, flush=True)


def run(cmd, cwd=None, env=None, capture=False, check=True, input=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run(
        cmd, cwd=cwd, env=full_env, input=input, text=True,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None)
    if check and proc.returncode != 0:
        detail = (proc.stderr or '').strip() if capture else ''
        raise BuildError('command failed (%d): %s%s' % (
            proc.returncode, ' '.join(cmd),
            ('\n' + detail) if detail else ''))
    return proc


def git(tree, *args, env=None, check=True):
    full_env = dict(IDENTITY)
    full_env.update(env or {})
    return run(['git', '-c', 'core.autocrlf=false', '-c', 'color.ui=never']
               + list(args), cwd=tree, env=full_env, capture=True,
               check=check).stdout


# --------------------------------------------------------------- the pins

class Series(object):
    """One upstream release series: its pin, its patches, its paths."""

    def __init__(self, name):
        self.name = name
        self.dir = os.path.join(REPO, 'patches', name)
        conf_path = os.path.join(self.dir, 'UPSTREAM')
        if not os.path.isfile(conf_path):
            raise BuildError('unknown series %r: %s is missing' % (
                name, os.path.relpath(conf_path, REPO)))
        conf = configparser.ConfigParser()
        conf.read(conf_path)
        up = conf['upstream']
        self.project = up['project']
        self.version = up['version']
        self.url = up['url']
        self.sha256 = up['sha256'].strip().lower()
        self.constraints = os.path.join(REPO, up['constraints'])
        self.min_python = up.get('min-python', '3.10')
        # The other OpenStack services of the same release (pip
        # requirement strings) that tests and the sandbox run beside Nova.
        self.services = dict(conf['services']) if conf.has_section(
            'services') else {}
        self.build_dir = os.path.join(REPO, 'build', name)
        self.tree = os.path.join(self.build_dir, 'nova')
        self.pristine_tree = os.path.join(self.build_dir, 'pristine')
        self.dist = os.path.join(self.build_dir, 'dist')

    @property
    def series_file(self):
        return os.path.join(self.dir, 'series')

    def patch_names(self):
        if not os.path.exists(self.series_file):
            return []
        names = []
        with open(self.series_file) as f:
            for line in f:
                line = line.split('#', 1)[0].strip()
                if line:
                    names.append(line)
        for name in names:
            if not os.path.isfile(os.path.join(self.dir, name)):
                raise BuildError('series lists %s but %s does not exist' % (
                    name, os.path.relpath(os.path.join(self.dir, name),
                                          REPO)))
        return names


def all_series():
    """Every series with a pin under patches/, oldest first."""
    top = os.path.join(REPO, 'patches')
    return [Series(n) for n in sorted(os.listdir(top))
            if os.path.isfile(os.path.join(top, n, 'UPSTREAM'))]


def default_series():
    conf = configparser.ConfigParser()
    conf.read(os.path.join(REPO, 'setup.cfg'))
    return os.environ.get('XLOUD_SERIES') or conf.get(
        'xloud', 'default-series', fallback='2026.1')


def cache_dir():
    base = os.environ.get('XLOUD_CACHE') or os.path.join(
        os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'),
        'xloud-nova')
    os.makedirs(base, exist_ok=True)
    return base


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def fetch_sdist(series):
    """Return the path of the verified upstream sdist, downloading it once.

    Only a file whose sha256 matched the pin is ever stored in the cache, so
    a mismatch there means the cache or the pin was tampered with: refuse.
    """
    name = os.path.basename(series.url.split('#', 1)[0])
    path = os.path.join(cache_dir(), name)
    pin_file = os.path.relpath(os.path.join(series.dir, 'UPSTREAM'), REPO)
    if os.path.exists(path):
        got = sha256_file(path)
        if got != series.sha256:
            raise BuildError(
                'sha256 mismatch for cached %s: expected %s (pinned in %s), '
                'got %s. Refusing to build from it; if the pin is right, '
                'delete %s and build again.' % (
                    name, series.sha256, pin_file, got, path))
        return path
    log('downloading %s' % series.url)
    fd, tmp = tempfile.mkstemp(dir=cache_dir(), prefix='.part-')
    try:
        with os.fdopen(fd, 'wb') as out, \
                urllib.request.urlopen(series.url, timeout=120) as resp:
            shutil.copyfileobj(resp, out)
        got = sha256_file(tmp)
        if got != series.sha256:
            raise BuildError(
                'sha256 mismatch for %s downloaded from %s: expected %s '
                '(pinned in %s), got %s. Refusing to build.' % (
                    name, series.url, series.sha256, pin_file, got))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


# ------------------------------------------------------------ the overlay

def overlay_files():
    """Relative paths of every file of the overlay, sorted."""
    files = []
    for root in OVERLAY_ROOTS:
        top = os.path.join(REPO, root)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = sorted(d for d in dirnames if d != '__pycache__')
            for fn in filenames:
                if fn.endswith(('.pyc', '.pyo')):
                    continue
                files.append(os.path.relpath(os.path.join(dirpath, fn),
                                             REPO))
    return sorted(files)


def inputs_digest(series, pristine):
    """A digest of everything a build depends on, to make rebuilds no-ops."""
    h = hashlib.sha256()
    h.update(('%s %s %s\n' % (series.name, series.sha256,
                              pristine)).encode())
    paths = [os.path.abspath(__file__)]
    if not pristine:
        paths += [os.path.join(series.dir, n) for n in series.patch_names()]
        paths += [os.path.join(REPO, p) for p in overlay_files()]
    for path in paths:
        h.update(os.path.relpath(path, REPO).encode() + b'\0')
        h.update(oct(os.stat(path).st_mode & 0o111).encode())
        with open(path, 'rb') as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


# ------------------------------------------------------------ the patches

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


# -------------------------------------------------------------- building

def _extract(sdist, dest, version):
    with tarfile.open(sdist) as tar:
        prefix = 'nova-%s/' % version
        members = []
        for m in tar.getmembers():
            if not (m.name + '/').startswith(prefix):
                raise BuildError('unexpected member %s in sdist' % m.name)
            if m.issym() or m.islnk() or '..' in m.name.split('/'):
                raise BuildError('refusing link or path %s in sdist' % m.name)
            members.append(m)
        kwargs = {'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}
        tar.extractall(dest, members=members, **kwargs)
    return os.path.join(dest, 'nova-%s' % version)


def _stamp_path(tree):
    return os.path.join(tree, '.git', 'xloud-stamp')


def _tree_state(tree):
    """Return (stamp, head, dirty) of an existing built tree, or None."""
    if not os.path.isdir(os.path.join(tree, '.git')):
        return None
    stamp = ''
    if os.path.exists(_stamp_path(tree)):
        with open(_stamp_path(tree)) as f:
            stamp = f.read().strip()
    head = git(tree, 'rev-parse', 'HEAD', check=False).strip()
    built = git(tree, 'rev-parse', '-q', '--verify', 'refs/tags/xloud-built',
                check=False).strip()
    dirty = bool(git(tree, 'status', '--porcelain').strip())
    return stamp, head, built, dirty


def build_tree(series, pristine=False, force=False, patches=None):
    """Build the tree; ``patches`` (Patch objects) replaces the series'."""
    tree = series.pristine_tree if pristine else series.tree
    digest = inputs_digest(series, pristine)
    state = _tree_state(tree)
    if state:
        stamp, head, built, dirty = state
        local_work = dirty or (built and head != built)
        if local_work and not force:
            raise BuildError(
                '%s has work that is not in patches/ yet (%s). Run '
                '"tools/xloud_pq.py export" first, or build --force to '
                'throw it away.' % (os.path.relpath(tree, REPO),
                                    'uncommitted changes' if dirty
                                    else 'new commits'))
        if stamp == digest and not local_work:
            log('%s is up to date' % os.path.relpath(tree, REPO))
            return tree, False
    if patches is None and not pristine:
        patches = [Patch(os.path.join(series.dir, n))
                   for n in series.patch_names()]
    if not pristine:
        problems = [p for patch in patches for p in patch.problems()]
        if problems:
            raise BuildError('the patch queue breaks its rules:\n  ' +
                             '\n  '.join(problems))
    sdist = fetch_sdist(series)
    os.makedirs(series.build_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix='.tree-', dir=series.build_dir)
    try:
        src = _extract(sdist, work, series.version)
        # pbr regenerates these from git; upstream's copy would go stale.
        shutil.rmtree(os.path.join(src, 'nova.egg-info'), ignore_errors=True)
        git(src, 'init', '-q', '-b', 'xloud')
        with open(os.path.join(src, '.git', 'info', 'exclude'), 'w') as f:
            f.write(TREE_EXCLUDES)
        date = time.strftime('%Y-%m-%dT%H:%M:%S+0000',
                             time.gmtime(_sdist_epoch(sdist)))
        fixed = {'GIT_AUTHOR_DATE': date, 'GIT_COMMITTER_DATE': date}
        git(src, 'add', '-A', '-f', '.')
        git(src, 'reset', '-q', '--', '.git')
        git(src, 'commit', '-q', '--no-verify', '-m',
            '%s %s: pristine upstream sdist\n\nsha256 %s\n' % (
                series.project, series.version, series.sha256), env=fixed)
        git(src, 'tag', 'upstream')
        if not pristine:
            _lay_overlay(src, fixed)
            for patch in patches:
                apply_patch(src, patch)
        git(src, 'tag', 'xloud-built')
        with open(_stamp_path(src), 'w') as f:
            f.write(digest + '\n')
        if os.path.exists(tree):
            shutil.rmtree(tree)
        os.replace(src, tree)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log('built %s (%s)' % (os.path.relpath(tree, REPO),
                           git(tree, 'rev-parse', '--short', 'HEAD').strip()))
    return tree, True


def _sdist_epoch(sdist):
    """The sdist's own top-level mtime: a date that never changes."""
    with tarfile.open(sdist) as tar:
        return int(tar.getmembers()[0].mtime)


def _lay_overlay(tree, fixed_env):
    files = overlay_files()
    for rel in files:
        dest = os.path.join(tree, rel)
        if os.path.lexists(dest):
            raise BuildError(
                'overlay file %s would replace an upstream file; change '
                'upstream files with a patch in patches/ instead.' % rel)
    for rel in files:
        dest = os.path.join(tree, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy2(os.path.join(REPO, rel), dest)
        os.utime(dest, (0, 0))
    if files:
        git(tree, 'add', '-f', '--', *files)
    git(tree, 'commit', '-q', '--allow-empty', '--no-verify', '-m',
        'XLoud overlay: our new modules at their in-tree paths\n\n'
        '%d files from the overlay of the xloud-nova repository.\n'
        % len(files), env=fixed_env)
    git(tree, 'tag', 'xloud-overlay')


def repo_version(series):
    """Version of the patched artifact: <upstream>+xloud.<count>.g<sha>."""
    count = run(['git', 'rev-list', '--count', 'HEAD'], cwd=REPO,
                capture=True, check=False)
    sha = run(['git', 'rev-parse', '--short=8', 'HEAD'], cwd=REPO,
              capture=True, check=False)
    if count.returncode or sha.returncode:
        return '%s+xloud.0' % series.version
    return '%s+xloud.%s.g%s' % (series.version, count.stdout.strip(),
                                sha.stdout.strip())


def pbr_env(version):
    return {'PBR_VERSION': version, 'SKIP_GENERATE_AUTHORS': '1',
            'SKIP_WRITE_GIT_CHANGELOG': '1', 'SKIP_GENERATE_RENO': '1'}


def build_wheel(series, tree):
    version = repo_version(series)
    wheel = os.path.join(series.dist, 'nova-%s-py3-none-any.whl' %
                         version.replace('-', '_'))
    head = git(tree, 'rev-parse', 'HEAD').strip()
    marker = wheel + '.tree'
    if os.path.exists(wheel) and os.path.exists(marker):
        with open(marker) as f:
            if f.read().strip() == head:
                log('artifact up to date: %s' % os.path.relpath(wheel, REPO))
                return wheel
    if os.path.isdir(series.dist):
        shutil.rmtree(series.dist)
    os.makedirs(series.dist)
    missing = [m for m in ('pbr', 'setuptools', 'wheel')
               if run([sys.executable, '-c', 'import %s' % m], capture=True,
                      check=False).returncode]
    if missing:
        raise BuildError(
            'building the wheel needs %s in %s: run "tox -e build", or pip '
            'install -r requirements.txt first (or build --no-artifact)' % (
                ', '.join(missing), sys.executable))
    log('building the wheel %s' % os.path.basename(wheel))
    work = tempfile.mkdtemp(prefix='.wheel-', dir=series.build_dir)
    try:
        # Build from a clean checkout of HEAD so nothing untracked in the
        # developer's tree can slip into the artifact.
        git(tree, 'worktree', 'prune')
        run(['git', 'clone', '-q', '--no-hardlinks', tree, work + '/src'],
            capture=True)
        run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps',
             '--no-build-isolation', '-w', series.dist, work + '/src'],
            env=pbr_env(version))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not os.path.exists(wheel):
        raise BuildError('pip did not produce %s' % wheel)
    check_wheel(series, tree, wheel, version)
    with open(marker, 'w') as f:
        f.write(head + '\n')
    log('artifact: %s' % os.path.relpath(wheel, REPO))
    return wheel


def _entry_points(text):
    parser = configparser.ConfigParser(interpolation=None,
                                       delimiters=('=',))
    parser.optionxform = str
    parser.read_string(text)
    found = set()
    for section in parser.sections():
        for name, target in parser.items(section):
            if not target.strip():
                # setup.cfg style: "group =" then one "name = target" a line
                continue
            found.add((section, name.strip(), target.strip()))
    return found


def _setup_cfg_entry_points(path):
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(path)
    found = set()
    if not parser.has_section('entry_points'):
        return found
    for group, value in parser.items('entry_points'):
        for line in value.splitlines():
            if '=' in line and not line.strip().startswith('#'):
                name, target = line.split('=', 1)
                found.add((group, name.strip(), target.strip()))
    return found


# pyproject.toml tables holding entry points, and their entry point group
PYPROJECT_SCRIPT_TABLES = {'project.scripts': 'console_scripts',
                           'project.gui-scripts': 'gui_scripts'}
PYPROJECT_EP_PREFIX = 'project.entry-points.'
_TOML_KEY = r'"[^"]+"|\'[^\']+\'|[A-Za-z0-9_.-]+'
_TOML_STR = r'"[^"]*"|\'[^\']*\''


def _toml_unquote(text):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in '"\'':
        return text[1:-1]
    return text


def pyproject_group(header):
    """The entry point group of a pyproject.toml table header, or None.

    ``[project.scripts]`` is console_scripts, ``[project.gui-scripts]``
    gui_scripts, ``[project.entry-points."a.b"]`` the group a.b.
    """
    m = re.match(r'^\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$', header.strip())
    if not m:
        return None
    table = m.group(1)
    if table in PYPROJECT_SCRIPT_TABLES:
        return PYPROJECT_SCRIPT_TABLES[table]
    if table.startswith(PYPROJECT_EP_PREFIX):
        return _toml_unquote(table[len(PYPROJECT_EP_PREFIX):])
    return None


def pyproject_entry_point(line):
    """(name, target) of a ``name = "target"`` line, or None.

    The subset of TOML that pyproject.toml entry point tables use: a bare or
    quoted key, a quoted string, an optional trailing comment (tomllib is
    Python 3.11+, and this tool runs on 3.10 too).
    """
    m = re.match(r'^\s*(%s)\s*=\s*(%s)\s*(#.*)?$' % (_TOML_KEY, _TOML_STR),
                 line)
    if not m:
        return None
    return _toml_unquote(m.group(1)), _toml_unquote(m.group(2))


def _pyproject_entry_points(path):
    found = set()
    if not os.path.exists(path):
        return found
    group = None
    with open(path, encoding='utf-8') as f:
        for line in f:
            if line.lstrip().startswith('['):
                group = pyproject_group(line)
                continue
            entry = pyproject_entry_point(line) if group else None
            if entry:
                found.add((group, entry[0], entry[1]))
    return found


def setup_cfg_entry_points(tree):
    """Every (group, name, target) the tree declares for its package.

    Older releases keep them in setup.cfg ``[entry_points]``; newer ones
    (nova 33 and later) in pyproject.toml's ``[project.scripts]`` and
    ``[project.entry-points."group"]`` tables. Both are read.
    """
    return (_setup_cfg_entry_points(os.path.join(tree, 'setup.cfg')) |
            _pyproject_entry_points(os.path.join(tree, 'pyproject.toml')))


def check_wheel(series, tree, wheel, version):
    """Prove the artifact carries the overlay and the patched entry points.

    pbr decides what lands in a wheel from git, so a file added but not
    committed, or an entry point dropped by a bad rebase, would otherwise
    only show up in an operator's container.
    """
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        distinfo = 'nova-%s.dist-info/' % version.replace('-', '_')
        missing = [p for p in overlay_files() if p not in names]
        if missing:
            raise BuildError('the wheel lacks overlay files: %s' %
                             ', '.join(missing))
        meta = zf.read(distinfo + 'METADATA').decode()
        if 'Version: %s\n' % version not in meta:
            raise BuildError('the wheel METADATA does not say version %s' %
                             version)
        have = _entry_points(zf.read(distinfo + 'entry_points.txt').decode())
    want = setup_cfg_entry_points(tree)
    lost = want - have
    if lost:
        raise BuildError('the wheel lacks entry points of setup.cfg or '
                         'pyproject.toml: %s' % sorted(lost))


# ------------------------------------------------------------- exporting

def _blob(tree, rev, rel):
    """A file's bytes at a revision of the tree, or None if absent."""
    proc = subprocess.run(['git', 'show', '%s:%s' % (rev, rel)], cwd=tree,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return proc.stdout if proc.returncode == 0 else None


def _slug(subject):
    slug = re.sub(r'[^A-Za-z0-9]+', '-', subject).strip('-').lower()
    if len(slug) > 64:
        slug = slug[:65].rsplit('-', 1)[0]
    return slug + '.patch'


def export(series):
    tree = series.tree
    state = _tree_state(tree)
    if not state:
        raise BuildError('no built tree at %s: run build first' %
                         os.path.relpath(tree, REPO))
    if state[3]:
        raise BuildError('%s has uncommitted changes: commit them in the '
                         'tree first' % os.path.relpath(tree, REPO))
    upstream_files = set(git(tree, 'ls-tree', '-r', '--name-only',
                             'upstream').splitlines())
    head_files = git(tree, 'ls-tree', '-r', '--name-only',
                     'HEAD').splitlines()
    new_files = sorted(f for f in head_files if f not in upstream_files)
    outside = [f for f in new_files
               if f.split('/', 1)[0] not in OVERLAY_ROOTS]
    if outside:
        raise BuildError('new files outside the overlay roots %s: %s' % (
            '/'.join(OVERLAY_ROOTS), ', '.join(outside)))

    # 1. the overlay: what the tree holds that upstream does not. A file
    #    edited in the repository since the build wins over the tree's copy
    #    when the tree did not touch it; edited on both sides is an error.
    laid = set(git(tree, 'ls-tree', '-r', '--name-only',
                   'xloud-overlay').splitlines()) - upstream_files
    repo_newer = []
    for rel in sorted(set(overlay_files()) | laid):
        built = _blob(tree, 'xloud-overlay', rel) if rel in laid else None
        path = os.path.join(REPO, rel)
        mine = None
        if os.path.exists(path):
            with open(path, 'rb') as f:
                mine = f.read()
        if mine == built:
            continue
        theirs = _blob(tree, 'HEAD', rel)
        if theirs != built and theirs != mine:
            raise BuildError('%s was changed both in the repository and in '
                             'the built tree since the build: keep one '
                             'change, then export again' % rel)
        repo_newer.append(rel)
    wanted = set(new_files)
    for rel in overlay_files():
        if rel not in wanted and rel not in repo_newer:
            os.unlink(os.path.join(REPO, rel))
            log('overlay: removed %s' % rel)
    for rel in new_files:
        if rel in repo_newer:
            log('overlay: kept %s as edited in the repository (rebuild to '
                'use it)' % rel)
            continue
        dest = os.path.join(REPO, rel)
        src = os.path.join(tree, rel)
        with open(src, 'rb') as f:
            data = f.read()
        old = None
        if os.path.exists(dest):
            with open(dest, 'rb') as f:
                old = f.read()
        if old != data:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, 'wb') as f:
                f.write(data)
            log('overlay: wrote %s' % rel)
        shutil.copymode(src, dest)

    # 2. the patches: every commit after the overlay, upstream files only
    commits = git(tree, 'rev-list', '--reverse', '--topo-order',
                  'xloud-overlay..HEAD').split()
    written = []
    for sha in commits:
        parents = git(tree, 'rev-list', '--parents', '-n1', sha).split()[1:]
        if len(parents) != 1:
            raise BuildError('commit %s is a merge: rebase it away' % sha)
        changed = git(tree, 'diff', '--name-only', '--no-renames',
                      '%s^' % sha, sha).splitlines()
        files = [f for f in changed if f in upstream_files]
        if not files:
            continue
        raw = git(tree, 'log', '-1', '--format=%an%x00%ae%x00%aD%x00%B', sha)
        an, ae, ad, msg = raw.split('\0', 3)
        subject, _, body = msg.strip('\n').partition('\n\n')
        subject = ' '.join(subject.split())
        diff = git(tree, 'diff', '--no-color', '--no-ext-diff',
                   '--no-renames', '--full-index', '--stat=72', '-p',
                   '%s^' % sha, sha, '--', *files)
        text = 'From: %s <%s>\nDate: %s\nSubject: %s\n\n%s\n---\n%s' % (
            an, ae, ad, subject, body.strip('\n'), diff)
        name = _slug(subject)
        if name in [w for w, _ in written]:
            raise BuildError('two commits would both be %s: give them '
                             'different subjects' % name)
        written.append((name, text))
    keep = set(n for n, _ in written)
    for old in os.listdir(series.dir):
        if old.endswith('.patch') and old not in keep:
            os.unlink(os.path.join(series.dir, old))
            log('patches: removed %s' % old)
    for name, text in written:
        path = os.path.join(series.dir, name)
        old = None
        if os.path.exists(path):
            with open(path, encoding='utf-8') as f:
                old = f.read()
        if old != text:
            with open(path, 'w', encoding='utf-8') as f:
                f.write(text)
            log('patches: wrote %s' % name)
    series_text = ''.join('%s\n' % n for n, _ in written)
    with open(series.series_file, 'w') as f:
        f.write(series_text)
    problems = [p for n, _ in written
                for p in Patch(os.path.join(series.dir, n)).problems()]
    # The exported tree is now what patches/ and nova/ describe: mark it
    # built, unless the repository holds overlay edits the tree lacks.
    git(tree, 'tag', '-f', 'xloud-built')
    with open(_stamp_path(tree), 'w') as f:
        f.write(('' if repo_newer else inputs_digest(series, False)) + '\n')
    log('exported %d patches and %d overlay files' % (len(written),
                                                      len(new_files)))
    if problems:
        raise BuildError('exported, but the queue breaks its rules (fix '
                         'and export again):\n  ' + '\n  '.join(problems))


# -------------------------------------------------------------- rebasing

REBASE_STATE = 'xloud-rebase.json'


def _patch_file(text):
    f = tempfile.NamedTemporaryFile('w', suffix='.diff', delete=False)
    with f:
        f.write(text)
    return f.name


def _git_apply(tree, diff, *flags):
    path = _patch_file(diff)
    try:
        return run(['git', 'apply', '--whitespace=nowarn'] + list(flags)
                   + [path], cwd=tree, capture=True, check=False)
    finally:
        os.unlink(path)


def _hunk_diffs(patch):
    """Yield (file, hunk header, a diff of that one hunk) for a patch."""
    head, hunk, fname = [], [], None
    for line in patch.diff.splitlines(True):
        if line.startswith('diff --git '):
            if hunk:
                yield fname, hunk[0].rstrip('\n'), ''.join(head + hunk)
            head, hunk = [line], []
            fname = line.split(' b/', 1)[-1].strip()
        elif line.startswith('@@'):
            if hunk:
                yield fname, hunk[0].rstrip('\n'), ''.join(head + hunk)
            hunk = [line]
        elif hunk:
            hunk.append(line)
        else:
            head.append(line)
    if hunk:
        yield fname, hunk[0].rstrip('\n'), ''.join(head + hunk)


def classify(tree, patch):
    """How a patch meets a tree: (verdict, details), checking only.

    ``as-is``: every hunk applies where it says; ``moved``: every hunk
    applies with its exact context, some at other lines (git apply's own
    offsets, allowed by build); ``fails``: a hunk's context is not there,
    and each failing hunk is named, with whether it would match on less
    context (upstream edited lines near ours) or not at all.
    """
    proc = _git_apply(tree, patch.diff, '--check', '-v', '-C3')
    if proc.returncode == 0:
        moved = re.findall(r'Hunk #(\d+) succeeded at (\d+) \(offset '
                           r'(-?\d+) lines?\)', proc.stderr + proc.stdout)
        if not moved:
            return 'as-is', []
        return 'moved', ['hunk #%s at line %s (%+d lines)' % (
            n, at, int(off)) for n, at, off in moved]
    details = []
    for fname, header, diff in _hunk_diffs(patch):
        if _git_apply(tree, diff, '--check', '-C3').returncode == 0:
            continue
        if _git_apply(tree, diff, '--check', '-C1').returncode == 0:
            why = 'context changed (matches on one line of context)'
        else:
            why = 'its lines are not there'
        details.append('%s %s: %s' % (fname, header.split(' @@')[0] + ' @@',
                                      why))
    return 'fails', details or [proc.stderr.strip()]


def _rebase_report(verdicts):
    width = max([len(name) for name, _, _ in verdicts] + [10])
    lines = []
    for name, verdict, details in verdicts:
        lines.append(('  %-7s %-*s' % (verdict, width, name)).rstrip())
        lines += ['          %s' % d for d in details]
    counts = dict((v, sum(1 for _, x, _ in verdicts if x == v))
                  for v in ('as-is', 'moved', 'fails'))
    lines.append('  %d apply as they are, %d with moved context, %d fail' % (
        counts['as-is'], counts['moved'], counts['fails']))
    return '\n'.join(lines)


def _state_path(series):
    return os.path.join(series.tree, '.git', REBASE_STATE)


def rebase(target, source):
    """Start carrying ``source``'s patch queue onto ``target``'s release.

    Reports, for every patch, whether it applies to the target's upstream
    as it is, with moved context, or fails (and at which hunk), on a
    scratch worktree where each patch meets its predecessors. Then builds
    ``build/<target>/nova`` (upstream, overlay) and applies the queue in
    order like ``git rebase``: it stops at the first patch that fails, with
    the hunks that do apply in the working tree and a ``.rej`` file for
    each one that does not, for ``rebase --continue`` (or ``--skip``).
    """
    if target.name == source.name:
        raise BuildError('--onto names the series the patches come from')
    patches = [Patch(os.path.join(source.dir, n))
               for n in source.patch_names()]
    state = _tree_state(target.tree)
    if state and (state[3] or (state[2] and state[1] != state[2])):
        raise BuildError('%s has work that is not in patches/ yet: export '
                         'it or remove the tree first' %
                         os.path.relpath(target.tree, REPO))
    shutil.rmtree(target.tree, ignore_errors=True)
    tree, _ = build_tree(target, patches=[])
    # every commit from here on is work a plain build must not discard
    git(tree, 'tag', '-f', 'xloud-built', 'xloud-overlay')
    os.unlink(_stamp_path(tree))

    scratch = tempfile.mkdtemp(prefix='.rebase-', dir=target.build_dir)
    verdicts = []
    try:
        git(tree, 'worktree', 'add', '-q', '--detach', scratch, 'HEAD')
        for patch in patches:
            verdict, details = classify(scratch, patch)
            verdicts.append((patch.name, verdict, details))
            if verdict != 'fails':
                _git_apply(scratch, patch.diff, '-C3')
    finally:
        git(tree, 'worktree', 'remove', '--force', scratch, check=False)
        shutil.rmtree(scratch, ignore_errors=True)
    log('%s %s onto %s %s (checked in order, each patch on the ones '
        'before it that apply):\n%s' % (
            source.name, source.version, target.name, target.version,
            _rebase_report(verdicts)))
    todo = [p.name for p in patches]
    _rebase_steps(target, source, todo)


def _rebase_steps(target, source, todo):
    """Apply ``todo`` in order; stop at a failing patch, or export."""
    tree = target.tree
    while todo:
        patch = Patch(os.path.join(source.dir, todo[0]))
        verdict, details = classify(tree, patch)
        if verdict == 'fails':
            _git_apply(tree, patch.diff, '--reject', '-C3')
            with open(_state_path(target), 'w') as f:
                json.dump({'source': source.name, 'todo': todo}, f)
            rejects = sorted(
                line[3:] for line in git(
                    tree, 'status', '--porcelain', '-uall').splitlines()
                if line.endswith('.rej'))
            raise BuildError(
                'stopped at %s:\n  %s\nIts other hunks are applied in %s;'
                ' the refused ones are in %s. Redo them by hand (hooks '
                'into our modules, each marked %r), delete the .rej files,'
                ' then run "xloud_pq.py --series %s rebase --continue" (or'
                ' --skip to drop the patch).' % (
                    patch.name, '\n  '.join(details),
                    os.path.relpath(tree, REPO), ', '.join(rejects) or
                    'no file', MARKER, target.name))
        if verdict == 'moved':
            log('%s: applied with moved context' % patch.name)
        apply_patch(tree, patch)
        todo.pop(0)
    if os.path.exists(_state_path(target)):
        os.unlink(_state_path(target))
    export(target)
    log('rebased %d patches onto %s %s; next: "XLOUD_SERIES=%s tox"' % (
        len(target.patch_names()), target.project, target.version,
        target.name))


def rebase_resume(target, skip=False):
    """``rebase --continue`` / ``--skip``: finish the patch it stopped at."""
    path = _state_path(target)
    if not os.path.exists(path):
        raise BuildError('no rebase in progress in %s' %
                         os.path.relpath(target.tree, REPO))
    with open(path) as f:
        state = json.load(f)
    source, todo = Series(state['source']), state['todo']
    tree = target.tree
    patch = Patch(os.path.join(source.dir, todo[0]))
    if skip:
        git(tree, 'reset', '-q', '--hard')
        git(tree, 'clean', '-q', '-fd')
        log('%s: dropped' % patch.name)
    else:
        status = git(tree, 'status', '--porcelain', '-uall').splitlines()
        rejects = [line[3:] for line in status if line.endswith('.rej')]
        if rejects:
            raise BuildError('rejected hunks are still there: %s' %
                             ', '.join(rejects))
        if not status:
            raise BuildError('%s changed nothing: --skip drops it' %
                             patch.name)
        git(tree, 'add', '-A')
        commit_patch(tree, patch)
        log('%s: committed as redone' % patch.name)
    _rebase_steps(target, source, todo[1:])


# --------------------------------------------------------------- checking

def python_problems(min_version):
    """Syntax and stdlib names of our code newer than operators' Python."""
    major, minor = (int(x) for x in min_version.split('.')[:2])
    found = []
    paths = [os.path.join(REPO, p) for p in overlay_files()
             if p.endswith('.py')]
    for top in ('tools', 'tests', 'upgrade', 'sandbox', 'realvirt', 'osc'):
        for dirpath, _, filenames in os.walk(os.path.join(REPO, top)):
            paths += [os.path.join(dirpath, f) for f in filenames
                      if f.endswith('.py')]
    for path in sorted(paths):
        rel = os.path.relpath(path, REPO)
        with open(path, encoding='utf-8') as f:
            src = f.read()
        try:
            tree = ast.parse(src, rel, feature_version=(major, minor))
        except SyntaxError as e:
            found.append('%s:%s: not Python %s syntax: %s' % (
                rel, e.lineno, min_version, e.msg))
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.TryStar if hasattr(ast, 'TryStar')
                          else ()):
                found.append('%s:%d: except* needs Python 3.11' % (
                    rel, node.lineno))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if (alias.name, None) in PY311_NAMES:
                        found.append('%s:%d: %s needs Python 3.11' % (
                            rel, node.lineno, alias.name))
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if (node.module, alias.name) in PY311_NAMES:
                        found.append('%s:%d: %s.%s needs Python 3.11' % (
                            rel, node.lineno, node.module, alias.name))
            elif (isinstance(node, ast.Attribute) and
                    isinstance(node.value, ast.Name) and
                    (node.value.id, node.attr) in PY311_NAMES):
                found.append('%s:%d: %s.%s needs Python 3.11' % (
                    rel, node.lineno, node.value.id, node.attr))
            elif isinstance(node, ast.Name) and (
                    ('builtins', node.id) in PY311_NAMES):
                found.append('%s:%d: %s needs Python 3.11' % (
                    rel, node.lineno, node.id))
    return found


def check(series):
    problems = []
    for name in series.patch_names():
        problems += Patch(os.path.join(series.dir, name)).problems()
    problems += python_problems(series.min_python)
    listed = set(series.patch_names())
    for fn in sorted(os.listdir(series.dir)):
        if fn.endswith('.patch') and fn not in listed:
            problems.append('%s is not in the series file' % fn)
    if problems:
        raise BuildError('check of %s failed:\n  %s' % (
            series.name, '\n  '.join(problems)))
    log('check %s (Python >= %s): %d patches, %d overlay files, %d %r '
        'markers: ok' % (series.name, series.min_python, len(listed),
                         len(overlay_files()), count_markers(series),
                         MARKER))


def count_markers(series):
    """Lines marked '# xloud' that the series adds to upstream files."""
    total = 0
    for name in series.patch_names():
        for _, _, added in Patch(os.path.join(series.dir, name)).hunks():
            total += sum(1 for line in added if MARKER in line)
    return total


# --------------------------------------------------------------- installs

def service_requirement(series, name):
    try:
        return series.services[name]
    except KeyError:
        raise BuildError('%s has no %r pin in its [services] section' % (
            os.path.relpath(os.path.join(series.dir, 'UPSTREAM'), REPO),
            name))


def lint_requirements(tree):
    """The lines of the tree's test-requirements that flake8 needs.

    Nova's hacking checks (nova/hacking/checks.py) import only hacking, and
    flake8 reads them from the tree: the pep8 env needs neither Nova nor
    its requirements, only the hacking pin of the release (which brings
    its flake8).
    """
    with open(os.path.join(tree, 'test-requirements.txt')) as f:
        found = [line.split('#')[0].strip() for line in f
                 if re.match(r'hacking\s*([=<>!~;\[]|$)', line.strip(),
                             re.IGNORECASE)]
    if not found:
        raise BuildError('no hacking line in %s' % os.path.relpath(
            os.path.join(tree, 'test-requirements.txt'), REPO))
    return found


def install(series, pristine=False, placement=False, extras=None,
            services=(), lint=False):
    tree = series.pristine_tree if pristine else series.tree
    if not os.path.isdir(tree):
        raise BuildError('no tree at %s: build it first' % tree)
    if lint:
        log('installing %s into %s' % (
            ' '.join(lint_requirements(tree)), sys.prefix))
        run([sys.executable, '-m', 'pip', 'install', '-q', '-c',
             series.constraints] + lint_requirements(tree))
        return
    target = tree + ('[%s]' % extras if extras else '')
    wanted = ['-r', os.path.join(tree, 'test-requirements.txt')]
    if placement:
        wanted.append(service_requirement(series, 'placement'))
    wanted += [service_requirement(series, name) for name in services]
    version = series.version if pristine else repo_version(series)
    log('installing %s %s into %s' % (os.path.relpath(tree, REPO), version,
                                      sys.prefix))
    if importlib.util.find_spec('uv'):
        # The tox envs have uv: it installs the bulk (the tree's own and
        # test requirements, the services) in seconds; pip below then only
        # links the tree and adds its extras. The same versions either way
        # (the series' constraints pin them all); pip alone took about 80 s
        # an env, uv and pip about 20 s.
        run([sys.executable, '-m', 'uv', 'pip', 'install', '-q',
             '--python', sys.executable, '-c', series.constraints,
             '-r', os.path.join(tree, 'requirements.txt')] + wanted)
    run([sys.executable, '-m', 'pip', 'install', '-q', '-c',
         series.constraints, '-e', target] + wanted, env=pbr_env(version))


# ------------------------------------------------------------------ tests

def overlay_test_modules(kind):
    prefix = 'nova/tests/%s/' % kind
    return sorted(
        p[:-3].replace('/', '.') for p in overlay_files()
        if p.startswith(prefix) and os.path.basename(p).startswith('test_')
        and p.endswith('.py'))


def touched_files(series):
    """The upstream files the series' patches change, in queue order."""
    seen = []
    for name in series.patch_names():
        for fname, _, _ in Patch(os.path.join(series.dir, name)).hunks():
            if fname not in seen:
                seen.append(fname)
    return seen


# Upstream's unit test module of a patched module, where its name is not
# test_<module> (upstream's own naming, per file). Tried first; a release
# that renamed it to test_<module> (nova 34: test_flavors_extraspecs) falls
# back to that.
UNIT_TEST_OF = {
    'nova/compute/manager.py': 'nova.tests.unit.compute.test_compute_mgr',
    'nova/virt/driver.py': 'nova.tests.unit.virt.test_virt_drivers',
    'nova/api/openstack/compute/flavors_extraspecs.py':
        'nova.tests.unit.api.openstack.compute.test_flavors_extra_specs',
}


def touched_tests(series, kind, tree):
    """Upstream's tests of what the patches touch, as stestr selections.

    Unit: a patched module ``nova/a/b/m.py`` is tested by its own unit
    test module, ``nova.tests.unit.a.b.test_m`` or the one named in
    ``UNIT_TEST_OF``; a patched test module stands for itself. A module
    with no test module of its own selects nothing (never its whole test
    package: that would be most of the suite, see README "CI budget").
    Functional tests are grouped by feature, not by module: a patched
    package ``nova/x/.../y`` selects ``nova.tests.functional.y`` where it
    exists. Files outside ``nova/`` (packaging metadata) select nothing.
    """
    found = []
    for fname in touched_files(series):
        parts = fname[:-3].split('/') if fname.endswith('.py') else []
        if len(parts) < 2 or parts[0] != 'nova':
            continue
        if parts[1] == 'tests':
            if parts[2] == kind:
                found.append('.'.join(parts))
            continue
        pkg, mod = parts[1:-1], parts[-1]
        if kind == 'unit':
            named = UNIT_TEST_OF.get(fname)
            candidates = ([named.split('.')] if named else []) + [
                ['nova', 'tests', 'unit'] + pkg + ['test_' + mod]]
        else:
            candidates = [['nova', 'tests', 'functional', pkg[-1]]] if pkg \
                else []
        for cand in candidates:
            path = os.path.join(tree, *cand)
            if os.path.isfile(path + '.py') or os.path.isdir(path):
                found.append('.'.join(cand))
                break
    # a package selected also selects its modules: keep the package only
    return sorted(set(f for f in found if not any(
        f.startswith(g + '.') for g in found)))


def stestr_filters(kind, selection, ours, excluded):
    """stestr run's filter arguments: the tests under the named modules or
    packages (a '*' matches one name; 'all' is the whole kind) and our
    ``ours`` modules, less those under ``excluded``. [] selects nothing.
    """
    regexes = []
    for item in selection:
        if item == 'all':
            regexes = ['^nova\\.tests\\.%s\\.' % kind]
            break
        regexes.append('^%s(\\.|$)' % re.escape(item).replace(
            '\\*', '[^.]+'))
    regexes += ['^%s\\.' % re.escape(m) for m in ours]
    if not regexes:
        return []
    exclude = []
    if excluded:
        exclude = ['--exclude-regex', '|'.join(
            '^%s(\\.|$)' % re.escape(m) for m in excluded)]
    return exclude + ['|'.join(regexes)]


def stestr_concurrency(value, cpus):
    """stestr's worker count for ``--concurrency``: a number, or a factor
    of the machine's cores ('1.5x'). Nova's functional tests wait on their
    in-process services for about a third of their time (CPU 65-75 % busy
    with a worker per core, vmstat), so one and a half workers a core
    keep the cores busy; the unit tests do not wait (98 %).
    """
    text = str(value).strip()
    if text.endswith('x'):
        try:
            factor = float(text[:-1])
        except ValueError:
            factor = 0
        if factor <= 0:
            raise BuildError('--concurrency %s: a factor of the cores must '
                             'be a positive number, e.g. 1.5x' % value)
        return max(1, int(factor * (cpus or 1) + 0.5))
    if not text.isdigit() or int(text) < 1:
        raise BuildError('--concurrency %s: give a worker count (3) or a '
                         'factor of the cores (1.5x)' % value)
    return int(text)


def run_tests(series, label, kind, pristine=False, upstream=(),
              include_ours=True, extra=(), skip=()):
    """Run stestr on one selection and append its counts to the summary.

    The selection is our overlay's test modules of that kind (absent on the
    pristine tree) plus the named upstream ones (a module or package prefix,
    or 'all' for the whole kind), less the modules or packages in ``skip``.
    """
    tree = series.pristine_tree if pristine else series.tree
    ours = [] if pristine or not include_ours else overlay_test_modules(kind)
    selection = []
    for item in upstream:
        if item == 'touched':
            touched = touched_tests(series, kind, tree)
            log('%s: upstream tests of what the patches touch: %s' % (
                label, ', '.join(touched)))
            selection += touched
        else:
            selection.append(item)
    # upstream's tests only: ours are counted in their own selection,
    # except one of ours named here (tox -e chaos: the campaign alone)
    excluded = list(skip)
    if not include_ours and not pristine:
        excluded += [m for m in overlay_test_modules(kind)
                     if m not in selection]
    filters = stestr_filters(kind, selection, ours, excluded)
    if not filters:
        log('%s: nothing to run' % label)
        return 0
    cmd = ['stestr', '--test-path', './nova/tests/%s' % kind, '--top-dir',
           './', 'run', '--color'] + list(extra) + filters
    started = time.time()
    # The envs set PYTHONDONTWRITEBYTECODE (as upstream's), so without this
    # the discovery and every stestr worker compile the whole tree again
    # (about 6 s each for the unit tests); the .pyc files stay out of git.
    run([sys.executable, '-m', 'compileall', '-q', '-j', '0', 'nova'],
        cwd=tree, capture=True, check=False)
    # As upstream's own unit and functional tox envs: nova 33+ otherwise
    # picks threading for some services (nova.cmd.scheduler), and a test
    # module importing one breaks discovery once eventlet is selected.
    # Older releases only read it as "do patch" (their default).
    env = {'OS_NOVA_DISABLE_EVENTLET_PATCHING': os.environ.get(
        'OS_NOVA_DISABLE_EVENTLET_PATCHING', 'False')}
    proc = run(cmd, cwd=tree, env=env, check=False)
    elapsed = time.time() - started
    counts = _stestr_counts(tree)
    line = '%-28s %s  passed %6d  failed %4d  skipped %5d  %6.1f min%s' % (
        label, 'pristine' if pristine else 'patched ', counts['passed'],
        counts['failed'], counts['skipped'], elapsed / 60,
        '' if proc.returncode == 0 else '  FAILED')
    os.makedirs(series.build_dir, exist_ok=True)
    with open(os.path.join(series.build_dir, 'test-summary.txt'), 'a') as f:
        f.write(time.strftime('%Y-%m-%d %H:%M ') + line + '\n')
    log(line)
    return proc.returncode


def _stestr_counts(tree):
    out = subprocess.run(['stestr', 'last', '--subunit'], cwd=tree,
                         stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL).stdout
    counts = {'passed': 0, 'failed': 0, 'skipped': 0}
    try:
        import io

        import subunit
        import testtools
    except ImportError as e:  # counts are a report, never the verdict
        log('no counts (%s)' % e)
        return counts
    final = {}

    class _Tally(testtools.StreamResult):
        def status(self, test_id=None, test_status=None, **kwargs):
            if test_id and test_status in ('success', 'fail', 'skip',
                                           'xfail', 'uxsuccess'):
                final[test_id] = test_status

    result = testtools.CopyStreamResult([_Tally()])
    result.startTestRun()
    subunit.ByteStreamToStreamResult(io.BytesIO(out)).run(result)
    result.stopTestRun()
    for status in final.values():
        key = {'success': 'passed', 'xfail': 'passed',
               'skip': 'skipped'}.get(status, 'failed')
        counts[key] += 1
    return counts


def summary(series, reset=False):
    path = os.path.join(series.build_dir, 'test-summary.txt')
    if reset:
        if os.path.exists(path):
            os.unlink(path)
        return
    if not os.path.exists(path):
        log('%s: no test runs recorded yet' % series.name)
        return
    print('series %s (%s %s):' % (series.name, series.project,
                                  series.version))
    with open(path) as f:
        print(f.read(), end='')


def flake8(series):
    """flake8 with the built tree's own config and Nova's hacking checks.

    Run from inside the tree, flake8 reads upstream's tox.ini: its ignore
    list and its local hacking plugins (nova/hacking/checks.py) apply to our
    overlay and to every upstream Python file a patch touches, exactly as
    they would in Nova's gate.
    """
    files = [p for p in overlay_files() if p.endswith('.py')]
    for name in series.patch_names():
        for fname, _, _ in Patch(os.path.join(series.dir, name)).hunks():
            if fname.endswith('.py') and fname not in files:
                files.append(fname)
    log('flake8 on %d files' % len(files))
    return run([sys.executable, '-m', 'flake8'] + sorted(files),
               cwd=series.tree, check=False).returncode


# ------------------------------------------------------------------- main

def main(argv=None):
    parser = argparse.ArgumentParser(
        prog='xloud_pq.py', description=__doc__.split('\n\n')[0])
    parser.add_argument('--series', default=None,
                        help='upstream series under patches/ (default: '
                             '[xloud] default-series of setup.cfg)')
    sub = parser.add_subparsers(dest='cmd', required=True)
    b = sub.add_parser('build', help='build the patched tree and artifact')
    b.add_argument('--pristine', action='store_true',
                   help='upstream only, at build/<series>/pristine')
    b.add_argument('--force', action='store_true',
                   help='discard local commits in the built tree')
    b.add_argument('--no-artifact', action='store_true')
    sub.add_parser('export', help='commits in the tree back to patches/')
    r = sub.add_parser('rebase', help="carry a series' patches onto "
                                      "another release")
    r.add_argument('--onto', help='the new series (its UPSTREAM written)')
    r.add_argument('--from', dest='source', default=None,
                   help='the series whose patches to carry (default: the '
                        'default series)')
    r.add_argument('--continue', dest='resume', action='store_true',
                   help='commit the redone patch and go on')
    r.add_argument('--skip', action='store_true',
                   help='drop the patch it stopped at and go on')
    i = sub.add_parser('install', help='pip install the tree here')
    i.add_argument('--pristine', action='store_true')
    i.add_argument('--placement', action='store_true')
    i.add_argument('--extras', default=None)
    i.add_argument('--service', action='append', default=[],
                   help="also install a service of the series' release "
                        "(a name of UPSTREAM's [services], e.g. glance)")
    i.add_argument('--lint', action='store_true',
                   help='only what the flake8 command needs (hacking)')
    t = sub.add_parser('tests', help='run a test selection with stestr')
    t.add_argument('label')
    t.add_argument('kind', choices=('unit', 'functional'))
    t.add_argument('upstream', nargs='*',
                   help="upstream modules/packages, 'all', or 'touched' "
                        "(the tests of the files our patches change)")
    t.add_argument('--pristine', action='store_true')
    t.add_argument('--no-ours', action='store_true')
    t.add_argument('--concurrency', default=None,
                   help="stestr workers: a number, or a factor of the "
                        "cores ('1.5x'); default: one a core for unit "
                        "tests, FUNCTIONAL_WORKERS for functional ones")
    t.add_argument('--skip', action='append', default=[],
                   metavar='MODULE',
                   help='leave out this module or package (repeatable)')
    c = sub.add_parser('check', help='lint the queue and our Python')
    c.add_argument('--all', action='store_true', help='every series')
    s = sub.add_parser('summary', help='print the recorded test counts')
    s.add_argument('--all', action='store_true', help='every series')
    s.add_argument('--reset', action='store_true',
                   help='forget earlier runs')
    sub.add_parser('flake8', help='flake8 + hacking on our Python')
    sub.add_parser('markers', help="count the '# xloud' lines we add")
    p = sub.add_parser('path', help='print the built tree path')
    p.add_argument('--pristine', action='store_true')
    sub.add_parser('version', help='print the artifact version')
    args = parser.parse_args(argv)
    try:
        series = Series(args.series or default_series())
        if args.cmd == 'build':
            tree, _ = build_tree(series, pristine=args.pristine,
                                 force=args.force)
            if not (args.pristine or args.no_artifact):
                build_wheel(series, tree)
            log('tree: %s' % tree)
        elif args.cmd == 'export':
            export(series)
        elif args.cmd == 'rebase':
            if args.resume or args.skip:
                rebase_resume(Series(args.onto or series.name), args.skip)
            elif not args.onto:
                raise BuildError('rebase needs --onto <series>')
            else:
                rebase(Series(args.onto),
                       Series(args.source or default_series()))
        elif args.cmd == 'check':
            for one in all_series() if args.all else [series]:
                check(one)
        elif args.cmd == 'install':
            install(series, args.pristine, args.placement, args.extras,
                    args.service, args.lint)
        elif args.cmd == 'tests':
            workers = args.concurrency or (
                os.environ.get('XLOUD_FUNCTIONAL_CONCURRENCY',
                               FUNCTIONAL_WORKERS)
                if args.kind == 'functional' else None)
            extra = (['--concurrency', str(stestr_concurrency(
                workers, os.cpu_count()))] if workers else [])
            return run_tests(series, args.label, args.kind, args.pristine,
                             args.upstream, not args.no_ours, extra,
                             args.skip)
        elif args.cmd == 'summary':
            for one in all_series() if args.all else [series]:
                summary(one, args.reset)
        elif args.cmd == 'flake8':
            return flake8(series)
        elif args.cmd == 'markers':
            print(count_markers(series))
        elif args.cmd == 'path':
            print(series.pristine_tree if args.pristine else series.tree)
        elif args.cmd == 'version':
            print(repo_version(series))
    except BuildError as e:
        print('xloud-pq: error: %s' % e, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
