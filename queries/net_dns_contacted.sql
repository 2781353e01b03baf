-- DNS names resolved and then contacted: connections to an address that a DNS answer in the trace gave earlier, with the name and who asked
SELECT
    coalesce(d.question, d.name) AS name,
    d.value AS address,
    d.time AS answered_time,
    q.exec_id AS resolver_exec_id,
    q.name AS resolver_name,
    c.start_time AS contacted_time,
    p.exec_id,
    p.pid,
    p.name AS process,
    c.proto,
    c.remote_port,
    c.bytes_sent,
    c.bytes_received,
    max(d.ts_ns) AS answered_ns
FROM connections c
JOIN recordings r ON r.id = c.recording
JOIN dns d ON d.value = c.remote_addr AND d.boot = r.boot AND d.ts_ns <= c.start_ns
JOIN processes p ON p.id = c.process_id
JOIN processes q ON q.id = d.process_id
WHERE d.section = 'answer' AND d.response = 1
  AND c.proto IN ('tcp', 'udp') AND NOT (c.proto = 'udp' AND c.remote_port = 53)
GROUP BY c.id
ORDER BY c.start_ns, c.id;
