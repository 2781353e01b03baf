-- HTTP requests sent: method, host and path with the status, redirect target and latency of the response on the same connection
SELECT
    q.time,
    p.exec_id,
    p.name,
    c.remote_addr,
    c.remote_port,
    q.method,
    q.host,
    q.path,
    r.status,
    r.location,
    r.latency_ns
FROM http q
JOIN processes p ON p.id = q.process_id
LEFT JOIN connections c ON c.id = q.conn_id
LEFT JOIN http r ON r.event_id = (
    SELECT min(x.event_id) FROM http x
     WHERE x.conn_id = q.conn_id AND x.kind = 'response' AND x.event_id > q.event_id)
WHERE q.kind = 'request' AND q.inbound = 0
ORDER BY q.ts_ns, q.event_id;
