-- Privilege transitions: uid/gid changes by set*id calls, capability gains by capset, and execs that change ids (set-id binaries)
SELECT time, exec_id, pid, name, how, ok, old_uid, new_uid, old_euid, new_euid, old_gid, new_gid,
       old_egid, new_egid, gained_root, caps_gained
FROM (
    SELECT v.time, v.ts_ns, v.event_id, p.exec_id, v.pid, p.name, v.syscall AS how, v.ok,
           v.old_uid, v.new_uid, v.old_euid, v.new_euid, v.old_gid, v.new_gid,
           v.old_egid, v.new_egid, v.gained_root, v.caps_gained
    FROM privileges v
    JOIN processes p ON p.id = v.process_id
    WHERE (v.kind = 'cred' AND (v.old_uid <> v.new_uid OR v.old_euid <> v.new_euid
                                OR v.old_gid <> v.new_gid OR v.old_egid <> v.new_egid))
       OR (v.kind = 'capset' AND v.caps_gained IS NOT NULL)
    UNION ALL
    SELECT x.time, x.ts_ns, x.event_id, p.exec_id, x.pid, p.name,
           CASE WHEN x.setid_exe THEN 'exec set-id binary' ELSE 'exec' END, 1,
           prev.uid, x.uid, prev.euid, x.euid, prev.gid, x.gid, prev.egid, x.egid,
           (coalesce(prev.euid, x.uid) <> 0 AND x.euid = 0), NULL
    FROM execs x
    JOIN processes p ON p.id = x.process_id
    LEFT JOIN processes prev ON prev.id = x.prev_id
    WHERE x.uid <> x.euid OR x.gid <> x.egid
       OR (prev.id IS NOT NULL AND (prev.uid <> x.uid OR prev.euid <> x.euid
                                    OR prev.gid <> x.gid OR prev.egid <> x.egid))
)
ORDER BY ts_ns, event_id;
