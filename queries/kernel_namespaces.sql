-- Namespace changes and mounts: unshare, setns and clone into new namespaces, mount and umount, by process
SELECT
    n.time,
    p.exec_id,
    n.pid,
    p.name,
    n.op,
    n.ok,
    n.flags,
    n.changed,
    n.source,
    n.target,
    n.fstype,
    p.container_id
FROM namespaces n
JOIN processes p ON p.id = n.process_id
ORDER BY n.ts_ns, n.event_id;
