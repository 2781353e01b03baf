-- Shells with a network parent or socket stdio: shells whose parent image used TCP/UDP or listened, or that use a socket another image opened (inherited stdio)
WITH
    shells AS (
        SELECT * FROM processes
        WHERE name IN ('sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'fish', 'ash', 'csh', 'tcsh', 'busybox')
    ),
    networked(id) AS (
        SELECT process_id FROM connections WHERE proto IN ('tcp', 'udp') AND failed = 0
        UNION
        SELECT process_id FROM listeners WHERE ok = 1
    ),
    inherited(shell_id, conn_id) AS (
        SELECT DISTINCT e.process_id, c.id
        FROM events e
        JOIN connections c ON c.id = e.conn_id
        WHERE e.process_id IN (SELECT id FROM shells)
          AND c.process_id <> e.process_id
          AND c.proto IN ('tcp', 'udp')
    )
SELECT
    s.exec_id,
    s.pid,
    s.name,
    s.cmdline,
    s.tty,
    s.uid,
    s.start_time,
    par.exec_id AS parent_exec_id,
    par.name AS parent_name,
    par.cmdline AS parent_cmdline,
    (par.id IN (SELECT id FROM networked)) AS network_parent,
    (s.id IN (SELECT shell_id FROM inherited)) AS socket_stdio,
    (SELECT c.remote_addr || ':' || c.remote_port
       FROM inherited i JOIN connections c ON c.id = i.conn_id
      WHERE i.shell_id = s.id ORDER BY c.id LIMIT 1) AS socket_remote
FROM shells s
LEFT JOIN processes par ON par.id = s.parent_id
WHERE par.id IN (SELECT id FROM networked) OR s.id IN (SELECT shell_id FROM inherited)
ORDER BY s.start_ns, s.id;
