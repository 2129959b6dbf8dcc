# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""The entry points a tree declares and a wheel carries.

Read from setup.cfg (older releases) and pyproject.toml (nova 33 and
later) with the standard library only: tomllib is Python 3.11+.
"""

import configparser
import os
import re


def entry_points_txt(text):
    """Every (group, name, target) of a wheel's entry_points.txt."""
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
