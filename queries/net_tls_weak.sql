-- TLS handshakes, weak ones first: SNI, offered and negotiated version, cipher suite and why it is weak, per connection
SELECT
    c.start_time,
    p.exec_id,
    p.name,
    c.direction,
    c.local_port,
    c.remote_addr,
    c.remote_port,
    t.sni,
    t.offered_version_name,
    t.version_name,
    t.cipher_name,
    t.weak,
    t.weaknesses
FROM tls t
JOIN connections c ON c.id = t.conn_id
JOIN processes p ON p.id = c.process_id
ORDER BY t.weak DESC, c.start_ns, c.id;
