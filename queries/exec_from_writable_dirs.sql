-- Executions from writable directories: programs run from /tmp, /var/tmp, /dev/shm, /run/user, a memfd, or a deleted file
SELECT
    x.time,
    p.exec_id,
    x.pid,
    p.name,
    x.exe,
    x.cmdline,
    CASE
        WHEN x.from_memfd THEN 'memfd'
        WHEN x.exe GLOB '/tmp/*' THEN '/tmp'
        WHEN x.exe GLOB '/var/tmp/*' THEN '/var/tmp'
        WHEN x.exe GLOB '/dev/shm/*' THEN '/dev/shm'
        WHEN x.exe GLOB '/run/user/*' THEN '/run/user'
        ELSE 'deleted'
    END AS location,
    x.exe_deleted,
    x.uid,
    x.euid,
    x.setid_exe,
    par.exec_id AS parent_exec_id,
    par.name AS parent_name
FROM execs x
JOIN processes p ON p.id = x.process_id
LEFT JOIN processes par ON par.id = p.parent_id
WHERE x.exe GLOB '/tmp/*' OR x.exe GLOB '/var/tmp/*' OR x.exe GLOB '/dev/shm/*'
   OR x.exe GLOB '/run/user/*' OR x.from_memfd OR x.exe_deleted
ORDER BY x.ts_ns, x.event_id;
