-- Process tree of a suspect (--param pid=PID): every image of that pid, its ancestors and all its descendants, in start order
WITH RECURSIVE
    suspect(id) AS (SELECT id FROM processes WHERE pid = :pid),
    down(id) AS (
        SELECT id FROM suspect
        UNION
        SELECT p.id FROM processes p JOIN down d ON p.parent_id = d.id
    ),
    up(id) AS (
        SELECT parent_id FROM processes WHERE id IN (SELECT id FROM suspect) AND parent_id IS NOT NULL
        UNION
        SELECT p.parent_id FROM processes p JOIN up u ON p.id = u.id WHERE p.parent_id IS NOT NULL
    )
SELECT
    CASE
        WHEN p.id IN (SELECT id FROM suspect) THEN 'suspect'
        WHEN p.id IN (SELECT id FROM up) THEN 'ancestor'
        ELSE 'descendant'
    END AS relation,
    p.exec_id,
    p.pid,
    p.ppid,
    par.exec_id AS parent_exec_id,
    p.origin,
    p.name,
    p.cmdline,
    p.uid,
    p.euid,
    p.start_time,
    p.end_time,
    p.exit_code,
    p.exit_signal
FROM processes p
LEFT JOIN processes par ON par.id = p.parent_id
WHERE p.id IN (SELECT id FROM down UNION SELECT id FROM up)
ORDER BY p.start_ns, p.id;
