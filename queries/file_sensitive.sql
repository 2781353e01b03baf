-- Sensitive file access: password hashes, SSH keys, sudoers, cron, credentials and container sockets opened or changed (account files and shell profiles: changes only)
WITH tagged AS (
    SELECT f.*,
        CASE
            WHEN f.path IN ('/etc/shadow', '/etc/gshadow', '/etc/shadow-', '/etc/gshadow-',
                            '/etc/security/opasswd') THEN 'password hashes'
            WHEN f.path GLOB '*/.ssh/id_*' OR f.path GLOB '/etc/ssh/ssh_host_*_key' THEN 'ssh private key'
            WHEN f.path GLOB '*/.ssh/authorized_keys*' THEN 'ssh authorized keys'
            WHEN f.path = '/etc/sudoers' OR f.path GLOB '/etc/sudoers.d/*' THEN 'sudoers'
            WHEN f.path GLOB '/etc/cron*' OR f.path GLOB '/var/spool/cron/*' THEN 'cron'
            WHEN f.path GLOB '*/.aws/credentials' OR f.path GLOB '*/.kube/config'
                OR f.path GLOB '*/.docker/config.json' OR f.path GLOB '*/.netrc'
                OR f.path GLOB '*/.git-credentials' THEN 'credentials'
            WHEN f.path GLOB '/etc/ssl/private/*' THEN 'tls private key'
            WHEN f.path IN ('/run/docker.sock', '/var/run/docker.sock',
                            '/run/containerd/containerd.sock') THEN 'container socket'
            WHEN (f.path IN ('/etc/passwd', '/etc/group', '/etc/profile', '/etc/bash.bashrc')
                  OR f.path GLOB '/etc/profile.d/*' OR f.path GLOB '*/.bashrc'
                  OR f.path GLOB '*/.profile' OR f.path GLOB '*/.bash_profile')
                 AND (f.op <> 'open' OR f.access <> 'read') THEN 'accounts or profile (changed)'
        END AS category
    FROM files f
)
SELECT
    t.time,
    p.exec_id,
    t.pid,
    p.name,
    p.exe,
    t.category,
    t.op,
    t.access,
    t.path,
    t.ok,
    t.ret
FROM tagged t
JOIN processes p ON p.id = t.process_id
WHERE t.category IS NOT NULL
ORDER BY t.ts_ns, t.event_id;
