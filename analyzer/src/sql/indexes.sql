-- Created after the bulk load (faster than maintaining them row by row). Each index costs
-- ingest time (sorting every row): only the ones the canned queries and common joins use.
CREATE INDEX processes_pid ON processes(pid);
CREATE INDEX processes_parent ON processes(parent_id);
CREATE INDEX processes_exe ON processes(exe);
CREATE INDEX events_process ON events(process_id);
-- events.id is time order already, so no index on ts_ns; most events have no connection.
CREATE INDEX events_conn ON events(conn_id) WHERE conn_id IS NOT NULL;
CREATE INDEX execs_process ON execs(process_id);
CREATE INDEX files_path ON files(path);
CREATE INDEX files_process ON files(process_id);
CREATE INDEX connections_process ON connections(process_id);
CREATE INDEX connections_remote ON connections(remote_addr, remote_port);
CREATE INDEX listeners_process ON listeners(process_id);
CREATE INDEX dns_name ON dns(name);
CREATE INDEX dns_value ON dns(value);
CREATE INDEX http_conn ON http(conn_id);
CREATE INDEX privileges_process ON privileges(process_id);
CREATE INDEX namespaces_process ON namespaces(process_id);
