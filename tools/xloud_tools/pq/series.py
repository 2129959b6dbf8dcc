# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""The pins: one upstream release series, its sdist and cache.

patches/<series>/UPSTREAM pins the sdist by sha256; only a verified
download is ever cached.
"""

import configparser
import hashlib
import os
import shutil
import tempfile
import urllib.request

from xloud_tools.pq.shell import BuildError, log, REPO


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
