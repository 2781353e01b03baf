-- Loss windows: where the recorder dropped records, so answers about that time may be incomplete
SELECT
    l.recording,
    l.cpu,
    l.count AS lost,
    l.start_time,
    l.end_time,
    (SELECT count(*) FROM events e
      WHERE e.recording = l.recording AND e.ts_ns BETWEEN l.start_ns AND l.end_ns) AS events_in_window
FROM losses l
ORDER BY l.start_ns, l.recording, l.cpu, l.id;
