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

"""MariaDB and RabbitMQ for the sandbox: Debian's, private to its run dir.

What the OpenStack services of the sandbox run on, each started with its
own datadir, config and ports (drawn by the Sandbox) under the run dir,
never the host's own instance: ``start_mariadb(sb)`` creates the
databases and the ``xloud`` user the services connect as,
``start_rabbitmq(sb)`` runs its own epmd so that stop() can kill it.
"""

import os

from sandbox import configs

RABBIT_BIN = '/usr/lib/rabbitmq/bin'
# the names of their processes: what the sandbox stops after the services
# that talk to them
PROCESS_NAMES = ('mariadb', 'epmd', 'rabbitmq')


def start_mariadb(sb):
    """mariadbd on 127.0.0.1:ports['mysql'], a fresh datadir, the
    databases of every service.
    """
    cnf = sb.path('etc', 'my.cnf')
    with open(cnf, 'w') as f:
        f.write(configs.ini({
            'client': {'socket': sb.path('state', 'mysqld.sock'),
                       'port': sb.ports['mysql']},
            'mysqld': {
                'datadir': sb.path('state', 'mysql'),
                'socket': sb.path('state', 'mysqld.sock'),
                'pid-file': sb.path('state', 'mysqld.pid'),
                'port': sb.ports['mysql'],
                'bind-address': '127.0.0.1',
                'user': 'root',
                'skip-name-resolve': 'ON',
                'log-error': sb.path('logs', 'mariadb-error.log'),
                'innodb_buffer_pool_size': '128M',
                # a throw-away database: speed over durability
                'innodb_flush_log_at_trx_commit': '0',
                'sync_binlog': '0',
                'max_connections': '500',
                'character-set-server': 'utf8mb4'}}))
    sb.run('mariadb-install-db', [
        'mariadb-install-db', '--defaults-file=%s' % cnf,
        '--skip-test-db', '--auth-root-authentication-method=socket'])
    proc = sb.spawn('mariadb', ['mariadbd', '--defaults-file=%s' % cnf])
    sb.wait_for(proc, sb.port_open(sb.ports['mysql']),
                'port %d' % sb.ports['mysql'])
    sql = ''.join('CREATE DATABASE %s CHARACTER SET utf8mb4;' % db
                  for db in ('nova_api', 'nova_cell0', 'nova',
                             'placement', 'glance', 'keystone'))
    sql += ("CREATE USER 'xloud'@'127.0.0.1' IDENTIFIED BY 'xloud';"
            "GRANT ALL ON *.* TO 'xloud'@'127.0.0.1';")
    sb.run('mariadb-setup', ['mariadb', '--defaults-file=%s' % cnf,
                             '-uroot', '-e', sql])


def start_rabbitmq(sb):
    """epmd and rabbitmq-server on 127.0.0.1, their own node name,
    ports and mnesia dir.
    """
    base = sb.path('state', 'rabbitmq')
    os.makedirs(base)
    dist = '-kernel inet_dist_use_interface {127,0,0,1}'
    env_file = sb.path('etc', 'rabbitmq-env.conf')
    open(env_file, 'w').close()
    plugins = sb.path('etc', 'rabbitmq-enabled-plugins')
    with open(plugins, 'w') as f:
        f.write('[].\n')
    conf = sb.path('etc', 'rabbitmq.conf')
    with open(conf, 'w') as f:
        f.write('listeners.tcp.default = 127.0.0.1:%d\n'
                'log.file.level = warning\n' % sb.ports['amqp'])
    env = dict(os.environ,
               HOME=base,
               RABBITMQ_CONF_ENV_FILE=env_file,
               RABBITMQ_CONFIG_FILE=conf,
               RABBITMQ_ENABLED_PLUGINS_FILE=plugins,
               RABBITMQ_MNESIA_BASE=os.path.join(base, 'mnesia'),
               RABBITMQ_LOG_BASE=sb.path('logs', 'rabbitmq'),
               RABBITMQ_PID_FILE=os.path.join(base, 'rabbit.pid'),
               RABBITMQ_NODENAME='xloud@localhost',
               RABBITMQ_NODE_IP_ADDRESS='127.0.0.1',
               RABBITMQ_NODE_PORT=str(sb.ports['amqp']),
               RABBITMQ_DIST_PORT=str(sb.ports['erl_dist']),
               ERL_EPMD_ADDRESS='127.0.0.1',
               ERL_EPMD_PORT=str(sb.ports['epmd']),
               RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=dist,
               RABBITMQ_CTL_ERL_ARGS=dist)
    sb.rabbit_env = env
    # Our own epmd, in the foreground, so that it is ours to kill
    # (the one rabbitmq-server would start daemonizes).
    epmd = sb.spawn('epmd', ['epmd', '-port', str(sb.ports['epmd']),
                             '-address', '127.0.0.1'], env=env)
    sb.wait_for(epmd, sb.port_open(sb.ports['epmd']), 'epmd port')
    proc = sb.spawn('rabbitmq', [os.path.join(RABBIT_BIN,
                                              'rabbitmq-server')],
                    env=env)
    sb.wait_for(proc, sb.port_open(sb.ports['amqp']),
                'AMQP port %d' % sb.ports['amqp'], timeout=120)
