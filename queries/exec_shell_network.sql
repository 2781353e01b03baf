-- Shells with a network parent or socket stdio: shells whose parent process (or own earlier image) used TCP/UDP or listened, or that use a socket another image opened (inherited stdio)
WITH RECURSIVE
    shells AS (
        SELECT * FROM processes
        WHERE name IN ('sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'fish', 'ash', 'csh', 'tcsh', 'busybox')
    ),
    -- The images before the shell: its own earlier images (same pid: fork, exec chain)
    -- up to and including the first image of another pid, the parent process.
    parent_side(shell_id, id, parent_process) AS (
        SELECT s.id, p.id, p.pid <> s.pid
        FROM shells s JOIN processes p ON p.id = s.parent_id
        UNION
        SELECT ps.shell_id, p.id, p.pid <> s.pid
        FROM parent_side ps
        JOIN processes cur ON cur.id = ps.id
        JOIN processes p ON p.id = cur.parent_id
        JOIN processes s ON s.id = ps.shell_id
        WHERE ps.parent_process = 0
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
    ),
    found AS (
        SELECT s.*,
            EXISTS (SELECT 1 FROM parent_side ps
                     WHERE ps.shell_id = s.id AND ps.id IN (SELECT id FROM networked)) AS network_parent,
            EXISTS (SELECT 1 FROM inherited i WHERE i.shell_id = s.id) AS socket_stdio,
            (SELECT ps.id FROM parent_side ps
              WHERE ps.shell_id = s.id AND ps.parent_process = 1) AS parent_process_id
        FROM shells s
    )
SELECT
    f.exec_id,
    f.pid,
    f.name,
    f.cmdline,
    f.tty,
    f.uid,
    f.start_time,
    par.exec_id AS parent_exec_id,
    par.name AS parent_name,
    par.cmdline AS parent_cmdline,
    f.network_parent,
    f.socket_stdio,
    (SELECT c.remote_addr || ':' || c.remote_port
       FROM inherited i JOIN connections c ON c.id = i.conn_id
      WHERE i.shell_id = f.id ORDER BY c.id LIMIT 1) AS socket_remote
FROM found f
LEFT JOIN processes par ON par.id = f.parent_process_id
WHERE f.network_parent OR f.socket_stdio
ORDER BY f.start_ns, f.id;
