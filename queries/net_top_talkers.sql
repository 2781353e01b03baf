-- Top talkers by bytes: processes ranked by bytes sent plus received over their TCP connections and UDP flows
SELECT
    p.exec_id,
    p.pid,
    p.name,
    p.cmdline,
    count(*) AS connections,
    sum(c.bytes_sent) AS bytes_sent,
    sum(c.bytes_received) AS bytes_received,
    sum(c.bytes_sent + c.bytes_received) AS bytes_total
FROM connections c
JOIN processes p ON p.id = c.process_id
WHERE c.proto IN ('tcp', 'udp')
GROUP BY p.id
HAVING bytes_total > 0
ORDER BY bytes_total DESC, p.start_ns, p.id;
