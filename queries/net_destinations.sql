-- Network destinations by process: each remote address and port a process connected or sent to, with connection count and bytes
SELECT
    p.exec_id,
    p.pid,
    p.name,
    c.proto,
    c.remote_addr,
    c.remote_port,
    c.remote_name,
    count(*) AS connections,
    sum(c.failed) AS failed,
    sum(c.bytes_sent) AS bytes_sent,
    sum(c.bytes_received) AS bytes_received,
    min(c.start_time) AS first_time
FROM connections c
JOIN processes p ON p.id = c.process_id
WHERE c.direction IN ('outbound', 'datagram', 'existing') AND c.remote_addr IS NOT NULL
GROUP BY p.id, c.proto, c.remote_addr, c.remote_port, c.remote_name
ORDER BY p.start_ns, p.id, c.proto, c.remote_addr, c.remote_port, c.remote_name;
