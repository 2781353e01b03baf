-- Rewind SQLite model, schema version 1. Documented column by column in queries/SCHEMA.md.
-- Times: *_ns columns are CLOCK_BOOTTIME nanoseconds (as in the trace); the matching
-- text column (*_time, time) is the wall-clock instant in RFC 3339 UTC with nanoseconds.
-- Foreign keys are declared; ingest checks them once at the end (by dense key ranges,
-- or with PRAGMA foreign_key_check when that cannot prove them).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE recordings (
    id          INTEGER PRIMARY KEY,
    trace_id    TEXT NOT NULL,
    boot        INTEGER NOT NULL REFERENCES boots(id),
    hostname    TEXT NOT NULL,
    kernel      TEXT NOT NULL,
    anchor_boot_ns INTEGER NOT NULL,
    anchor_wall_ns INTEGER NOT NULL,
    segments    INTEGER NOT NULL
);

CREATE TABLE boots (
    id       INTEGER PRIMARY KEY,
    boot_id  TEXT NOT NULL,
    hostname TEXT NOT NULL
);

CREATE TABLE processes (
    id            INTEGER PRIMARY KEY,
    exec_id       TEXT NOT NULL UNIQUE,
    boot          INTEGER NOT NULL REFERENCES boots(id),
    pid           INTEGER NOT NULL,
    ppid          INTEGER NOT NULL,
    parent_id     INTEGER REFERENCES processes(id),
    origin        TEXT NOT NULL,
    name          TEXT NOT NULL,
    exe           TEXT NOT NULL,
    cmdline       TEXT NOT NULL,
    argv          TEXT NOT NULL,
    argv_truncated INTEGER NOT NULL,
    comm          TEXT NOT NULL,
    cwd           TEXT NOT NULL,
    uid           INTEGER NOT NULL,
    euid          INTEGER NOT NULL,
    gid           INTEGER NOT NULL,
    egid          INTEGER NOT NULL,
    auid          INTEGER,
    cap_eff       INTEGER NOT NULL,
    cap_prm       INTEGER NOT NULL,
    tty           INTEGER NOT NULL,
    cgroup        TEXT NOT NULL,
    container_runtime TEXT,
    container_id  TEXT,
    ns_mnt        INTEGER NOT NULL,
    ns_pid        INTEGER NOT NULL,
    ns_net        INTEGER NOT NULL,
    ns_uts        INTEGER NOT NULL,
    ns_ipc        INTEGER NOT NULL,
    ns_user       INTEGER NOT NULL,
    ns_cgroup     INTEGER NOT NULL,
    ns_time       INTEGER NOT NULL,
    non_host_ns   TEXT NOT NULL,
    exe_mode      INTEGER NOT NULL,
    setid_exe     INTEGER NOT NULL,
    from_memfd    INTEGER NOT NULL,
    exe_deleted   INTEGER NOT NULL,
    start_ns      INTEGER NOT NULL,
    start_time    TEXT NOT NULL,
    proc_start_ns INTEGER NOT NULL,
    end_ns        INTEGER,
    end_time      TEXT,
    end_how       TEXT,
    exit_code     INTEGER,
    exit_signal   INTEGER,
    core_dumped   INTEGER,
    next_id       INTEGER REFERENCES processes(id),
    events        INTEGER NOT NULL,
    files         INTEGER NOT NULL,
    conns         INTEGER NOT NULL,
    children      INTEGER NOT NULL
);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    ts_ns       INTEGER NOT NULL,
    time        TEXT NOT NULL,
    recording   INTEGER NOT NULL REFERENCES recordings(id),
    segment     INTEGER NOT NULL,
    cpu         INTEGER NOT NULL,
    type        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    tid         INTEGER NOT NULL,
    process_id  INTEGER REFERENCES processes(id),
    related_id  INTEGER REFERENCES processes(id),
    conn_id     INTEGER REFERENCES connections(id)
);

CREATE TABLE execs (
    event_id    INTEGER PRIMARY KEY REFERENCES events(id),
    process_id  INTEGER NOT NULL REFERENCES processes(id),
    prev_id     INTEGER REFERENCES processes(id),
    ts_ns       INTEGER NOT NULL,
    time        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    ppid        INTEGER NOT NULL,
    exe         TEXT NOT NULL,
    cmdline     TEXT NOT NULL,
    cwd         TEXT NOT NULL,
    uid         INTEGER NOT NULL,
    euid        INTEGER NOT NULL,
    gid         INTEGER NOT NULL,
    egid        INTEGER NOT NULL,
    exe_mode    INTEGER NOT NULL,
    setid_exe   INTEGER NOT NULL,
    from_memfd  INTEGER NOT NULL,
    exe_deleted INTEGER NOT NULL,
    tty         INTEGER NOT NULL
);

CREATE TABLE files (
    event_id    INTEGER PRIMARY KEY REFERENCES events(id),
    process_id  INTEGER NOT NULL REFERENCES processes(id),
    ts_ns       INTEGER NOT NULL,
    time        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    op          TEXT NOT NULL,
    path        TEXT NOT NULL,
    new_path    TEXT,
    ret         INTEGER NOT NULL,
    ok          INTEGER NOT NULL,
    access      TEXT,
    created     INTEGER,
    truncated   INTEGER,
    open_flags  INTEGER,
    mode        INTEGER,
    uid         INTEGER,
    gid         INTEGER,
    ino         INTEGER
);

CREATE TABLE connections (
    id          INTEGER PRIMARY KEY,
    process_id  INTEGER NOT NULL REFERENCES processes(id),
    recording   INTEGER NOT NULL REFERENCES recordings(id),
    cookie      TEXT NOT NULL,
    direction   TEXT NOT NULL,
    proto       TEXT NOT NULL,
    local_addr  TEXT,
    local_port  INTEGER,
    remote_addr TEXT,
    remote_port INTEGER,
    remote_name TEXT,
    unix_path   TEXT,
    start_ns    INTEGER NOT NULL,
    start_time  TEXT NOT NULL,
    end_ns      INTEGER,
    end_time    TEXT,
    ret         INTEGER NOT NULL,
    failed      INTEGER NOT NULL,
    outcome     TEXT NOT NULL,
    handshake_ns INTEGER,
    bytes_sent  INTEGER NOT NULL,
    bytes_received INTEGER NOT NULL,
    datagrams   INTEGER NOT NULL,
    peer_id     INTEGER REFERENCES connections(id)
);

CREATE TABLE listeners (
    id          INTEGER PRIMARY KEY,
    process_id  INTEGER NOT NULL REFERENCES processes(id),
    ts_ns       INTEGER NOT NULL,
    time        TEXT NOT NULL,
    proto       TEXT NOT NULL,
    local_addr  TEXT,
    port        INTEGER NOT NULL,
    ret         INTEGER NOT NULL,
    ok          INTEGER NOT NULL
);

CREATE TABLE dns (
    id          INTEGER PRIMARY KEY,
    event_id    INTEGER NOT NULL REFERENCES events(id),
    process_id  INTEGER NOT NULL REFERENCES processes(id),
    conn_id     INTEGER REFERENCES connections(id),
    ts_ns       INTEGER NOT NULL,
    time        TEXT NOT NULL,
    boot        INTEGER NOT NULL REFERENCES boots(id),
    txid        INTEGER NOT NULL,
    response    INTEGER NOT NULL,
    rcode       TEXT NOT NULL,
    section     TEXT NOT NULL,
    question    TEXT,
    name        TEXT NOT NULL,
    type        TEXT,
    value       TEXT
);

CREATE TABLE tls (
    conn_id         INTEGER PRIMARY KEY REFERENCES connections(id),
    sni             TEXT,
    offered_version INTEGER,
    offered_version_name TEXT,
    version         INTEGER,
    version_name    TEXT,
    cipher          INTEGER,
    cipher_name     TEXT,
    key_bits        INTEGER,
    weaknesses      TEXT,
    weak            INTEGER NOT NULL
);

CREATE TABLE http (
    event_id    INTEGER PRIMARY KEY REFERENCES events(id),
    process_id  INTEGER NOT NULL REFERENCES processes(id),
    conn_id     INTEGER REFERENCES connections(id),
    ts_ns       INTEGER NOT NULL,
    time        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    inbound     INTEGER NOT NULL,
    method      TEXT,
    path        TEXT,
    host        TEXT,
    status      INTEGER,
    reason      TEXT,
    location    TEXT,
    latency_ns  INTEGER
);

CREATE TABLE privileges (
    event_id    INTEGER PRIMARY KEY REFERENCES events(id),
    process_id  INTEGER NOT NULL REFERENCES processes(id),
    ts_ns       INTEGER NOT NULL,
    time        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    syscall     TEXT NOT NULL,
    ret         INTEGER NOT NULL,
    ok          INTEGER NOT NULL,
    old_uid     INTEGER, new_uid   INTEGER,
    old_euid    INTEGER, new_euid  INTEGER,
    old_suid    INTEGER, new_suid  INTEGER,
    old_fsuid   INTEGER, new_fsuid INTEGER,
    old_gid     INTEGER, new_gid   INTEGER,
    old_egid    INTEGER, new_egid  INTEGER,
    old_cap_eff INTEGER, new_cap_eff INTEGER,
    old_cap_prm INTEGER, new_cap_prm INTEGER,
    gained_root INTEGER NOT NULL,
    caps_gained TEXT
);

CREATE TABLE namespaces (
    event_id    INTEGER PRIMARY KEY REFERENCES events(id),
    process_id  INTEGER NOT NULL REFERENCES processes(id),
    ts_ns       INTEGER NOT NULL,
    time        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    op          TEXT NOT NULL,
    ret         INTEGER NOT NULL,
    ok          INTEGER NOT NULL,
    flags       TEXT,
    changed     TEXT,
    source      TEXT,
    target      TEXT,
    fstype      TEXT
);

CREATE TABLE losses (
    id          INTEGER PRIMARY KEY,
    recording   INTEGER NOT NULL REFERENCES recordings(id),
    cpu         INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    start_ns    INTEGER NOT NULL,
    start_time  TEXT NOT NULL,
    end_ns      INTEGER NOT NULL,
    end_time    TEXT NOT NULL
);
