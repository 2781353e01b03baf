-- New listening ports: every listen() in the trace with the process, address and port, and the connections accepted on it afterwards
SELECT
    l.time,
    p.exec_id,
    p.pid,
    p.name,
    p.cmdline,
    l.proto,
    l.local_addr,
    l.port,
    l.ok,
    (SELECT count(*) FROM connections c
       JOIN processes cp ON cp.id = c.process_id
      WHERE c.direction = 'inbound' AND c.local_port = l.port AND c.start_ns >= l.ts_ns
        AND cp.boot = p.boot) AS accepted
FROM listeners l
JOIN processes p ON p.id = l.process_id
ORDER BY l.ts_ns, l.id;
