//! Analytics: the process model and the event stream as polars tables, for `analyzer
//! stats` (aggregations printed as text or JSON) and `analyzer export` (Parquet,
//! partitioned by host and day, for Spark, Trino or DuckDB).
//!
//! A [`Collector`] sink keeps one compact row per event (time, type, pid, image) plus the
//! file and DNS events the model does not keep; [`Tables`] turns those and the finished
//! [`Model`] into DataFrames. Times are wall-clock UTC; process and connection times come
//! from the model's boot-time ns through the recording's clock anchor.

pub mod export;
pub mod stats;

use crate::model::net::Direction;
use crate::model::process::ImageId;
use crate::model::{App, Model};
use crate::replay::{Sink, Step};
use polars::prelude::*;
use rewind_schema::meta::ClockAnchor;
use rewind_schema::{EventKind, RecordType};

/// One file event.
#[derive(Debug, Clone)]
struct FileRow {
    time: i64,
    image: ImageId,
    op: &'static str,
    path: String,
    ret: i32,
}

/// One DNS message.
#[derive(Debug, Clone)]
struct DnsRow {
    time: i64,
    image: ImageId,
    response: bool,
    name: String,
    qtype: String,
    rcode: String,
    answers: String,
}

/// A [`Sink`] that keeps what the tables need from each event.
#[derive(Debug, Default)]
pub struct Collector {
    anchors: Vec<ClockAnchor>,
    time: Vec<i64>,
    rtype: Vec<u32>,
    pid: Vec<u32>,
    tid: Vec<u32>,
    image: Vec<Option<u32>>,
    recording: Vec<u32>,
    files: Vec<FileRow>,
    dns: Vec<DnsRow>,
}

/// Wall-clock ns as the i64 polars and Parquet store (saturating: a corrupt timestamp
/// must not panic).
fn ns64(t: i128) -> i64 {
    t.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

impl Collector {
    /// A collector for recordings with these clock anchors (`TraceSet::recordings` order).
    pub fn new(anchors: Vec<ClockAnchor>) -> Self {
        Collector {
            anchors,
            ..Default::default()
        }
    }

    /// Records collected (events, process snapshots and loss markers: the rows of the
    /// exported `events` table).
    pub fn len(&self) -> usize {
        self.time.len()
    }

    /// No records collected.
    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    /// Indexes of the records that are events ([`RecordType::is_event`]), in order.
    pub fn events(&self) -> impl Iterator<Item = usize> + '_ {
        self.rtype.iter().enumerate().filter_map(|(i, &t)| {
            let ev = u16::try_from(t)
                .ok()
                .and_then(RecordType::from_u16)
                .is_some_and(RecordType::is_event);
            ev.then_some(i)
        })
    }

    fn file(&mut self, time: i64, image: ImageId, op: &'static str, path: String, ret: i32) {
        self.files.push(FileRow {
            time,
            image,
            op,
            path,
            ret,
        });
    }
}

impl Sink for Collector {
    fn step(&mut self, _model: &Model, step: &Step) -> anyhow::Result<()> {
        let t = ns64(step.wall_ns);
        let ev = step.ev;
        self.time.push(t);
        self.rtype.push(ev.kind.record_type() as u32);
        self.pid.push(ev.pid);
        self.tid.push(ev.tid);
        self.image.push(step.at.image.map(|i| i.0));
        self.recording.push(step.recording as u32);
        let Some(image) = step.at.image else {
            return Ok(());
        };
        use EventKind as K;
        match &ev.kind {
            K::Open(o) => {
                let op = if o.open_flags & 3 == 0 {
                    "read"
                } else {
                    "write"
                };
                self.file(t, image, op, o.path.display(), o.ret);
            }
            K::Unlink(u) => self.file(t, image, "unlink", u.path.display(), u.ret),
            K::Rename(r) => {
                let path = format!("{} -> {}", r.old.display(), r.new.display());
                self.file(t, image, "rename", path, r.ret);
            }
            K::Chmod(c) => self.file(t, image, "chmod", c.path.display(), c.ret),
            K::Chown(c) => self.file(t, image, "chown", c.path.display(), c.ret),
            _ => {}
        }
        if let Some(App::Dns(m)) = &step.at.app {
            let (name, qtype) = m.questions.first().cloned().unwrap_or_default();
            let answers = m
                .addrs
                .iter()
                .map(|(_, ip)| ip.to_string())
                .collect::<Vec<_>>()
                .join(",");
            self.dns.push(DnsRow {
                time: t,
                image,
                response: m.response,
                name,
                qtype,
                rcode: m.rcode.clone(),
                answers,
            });
        }
        Ok(())
    }
}

/// The tables, as polars DataFrames. Every table has `host` and `day` (`YYYY-MM-DD`,
/// UTC) columns, the partition keys of the export.
#[derive(Debug, Clone)]
pub struct Tables {
    /// One row per event: time, type, pid, tid, exec_id, exe.
    pub events: DataFrame,
    /// One row per process image (the model's images).
    pub processes: DataFrame,
    /// One row per connection or UDP flow.
    pub connections: DataFrame,
    /// One row per file event (open, unlink, rename, chmod, chown).
    pub files: DataFrame,
    /// One row per DNS message.
    pub dns: DataFrame,
    /// One row per loss window (records the recorder dropped).
    pub losses: DataFrame,
}

/// `YYYY-MM-DD` (UTC) of a wall-clock ns.
pub fn day(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    match chrono::DateTime::from_timestamp(secs, 0) {
        Some(t) => t.format("%Y-%m-%d").to_string(),
        None => "unknown".to_string(),
    }
}

/// The string for image index `img` in a per-image table.
fn image_str(v: &[String], img: Option<u32>) -> Option<&str> {
    img.and_then(|x| v.get(x as usize)).map(String::as_str)
}

/// The distinct days of `times` and, per time, the index of its day: formatting a date
/// once per day instead of once per row.
fn day_table(times: impl Iterator<Item = i64>) -> (Vec<String>, Vec<usize>) {
    let mut days: Vec<(i64, String)> = Vec::new();
    let mut idx = Vec::new();
    for t in times {
        let d = t.div_euclid(86_400_000_000_000);
        match days.iter().position(|(x, _)| *x == d) {
            Some(i) => idx.push(i),
            None => {
                days.push((d, day(t)));
                idx.push(days.len() - 1);
            }
        }
    }
    (days.into_iter().map(|d| d.1).collect(), idx)
}

fn datetime(name: &str, v: Vec<Option<i64>>) -> PolarsResult<Column> {
    Series::new(name.into(), v)
        .cast(&DataType::Datetime(
            TimeUnit::Nanoseconds,
            Some(TimeZone::UTC),
        ))
        .map(Column::from)
}

fn col_of<T, V>(name: &str, v: V) -> Column
where
    Series: NamedFrom<V, T>,
    T: ?Sized,
{
    Column::from(Series::new(name.into(), v))
}

impl Tables {
    /// Builds every table from the collector and the finished model.
    pub fn build(c: &Collector, model: &Model) -> PolarsResult<Tables> {
        let host_of_boot = |boot: u16| -> String {
            model
                .boots
                .get(boot as usize)
                .map(|b| b.hostname.clone())
                .unwrap_or_default()
        };
        let host_of_image = |i: ImageId| -> String {
            model
                .images
                .get(i.idx())
                .map(|img| host_of_boot(img.boot))
                .unwrap_or_default()
        };
        let exec_ids: Vec<String> = model.images.iter().map(|i| i.exec_id()).collect();
        let exes: Vec<String> = model.images.iter().map(|i| i.exe.display()).collect();
        // Boot-time ns to wall: the first recording of the image's boot.
        let boot_anchor = |boot: u16| -> Option<ClockAnchor> {
            let r = model.recording_boot.iter().position(|&b| b == boot)?;
            c.anchors.get(r).copied()
        };
        let wall = |a: Option<ClockAnchor>, ts: u64| -> Option<i64> { a.map(|a| ns64(a.wall(ts))) };

        // events: strings borrowed from small per-recording and per-day tables, so a
        // million rows cost no million allocations.
        let rec_host: Vec<String> = model
            .recording_boot
            .iter()
            .map(|&b| host_of_boot(b))
            .collect();
        let (days, day_idx) = day_table(c.time.iter().copied());
        let host: Vec<&str> = c
            .recording
            .iter()
            .map(|&r| rec_host.get(r as usize).map(String::as_str).unwrap_or(""))
            .collect();
        let dayv: Vec<&str> = day_idx
            .iter()
            .map(|&i| days.get(i).map(String::as_str).unwrap_or("unknown"))
            .collect();
        let ty: Vec<&str> = c
            .rtype
            .iter()
            .map(|&t| {
                u16::try_from(t)
                    .ok()
                    .and_then(RecordType::from_u16)
                    .map(|t| t.name())
                    .unwrap_or("?")
            })
            .collect();
        let exec_id: Vec<Option<&str>> = c.image.iter().map(|&i| image_str(&exec_ids, i)).collect();
        let exe: Vec<Option<&str>> = c.image.iter().map(|&i| image_str(&exes, i)).collect();
        let events = DataFrame::new_infer_height(vec![
            col_of("host", host),
            col_of("day", dayv),
            datetime("time", c.time.iter().map(|&t| Some(t)).collect())?,
            col_of("type", ty),
            col_of("pid", c.pid.clone()),
            col_of("tid", c.tid.clone()),
            col_of("exec_id", exec_id),
            col_of("exe", exe),
        ])?;

        // processes
        let imgs = &model.images;
        let starts: Vec<Option<i64>> = imgs
            .iter()
            .map(|i| wall(boot_anchor(i.boot), i.start_ns))
            .collect();
        let processes = DataFrame::new_infer_height(vec![
            col_of(
                "host",
                imgs.iter()
                    .map(|i| host_of_boot(i.boot))
                    .collect::<Vec<_>>(),
            ),
            col_of(
                "day",
                starts
                    .iter()
                    .map(|t| t.map(day).unwrap_or_else(|| "unknown".into()))
                    .collect::<Vec<_>>(),
            ),
            col_of("exec_id", exec_ids.clone()),
            col_of("pid", imgs.iter().map(|i| i.pid).collect::<Vec<_>>()),
            col_of("ppid", imgs.iter().map(|i| i.ppid).collect::<Vec<_>>()),
            col_of(
                "parent_exec_id",
                imgs.iter()
                    .map(|i| i.parent.and_then(|p| exec_ids.get(p.idx()).cloned()))
                    .collect::<Vec<_>>(),
            ),
            datetime("start", starts.clone())?,
            datetime(
                "end",
                imgs.iter()
                    .map(|i| i.end_ns.and_then(|e| wall(boot_anchor(i.boot), e)))
                    .collect(),
            )?,
            col_of(
                "origin",
                imgs.iter().map(|i| i.origin.name()).collect::<Vec<_>>(),
            ),
            col_of("exe", exes.clone()),
            col_of(
                "cmdline",
                imgs.iter().map(|i| i.cmdline()).collect::<Vec<_>>(),
            ),
            col_of("uid", imgs.iter().map(|i| i.creds.uid).collect::<Vec<_>>()),
            col_of(
                "euid",
                imgs.iter().map(|i| i.creds.euid).collect::<Vec<_>>(),
            ),
            col_of(
                "container",
                imgs.iter()
                    .map(|i| i.container.as_ref().map(|c| c.id.clone()))
                    .collect::<Vec<_>>(),
            ),
            col_of(
                "exit_code",
                imgs.iter()
                    .map(|i| i.exit_code().map(u32::from))
                    .collect::<Vec<_>>(),
            ),
            col_of(
                "exit_signal",
                imgs.iter()
                    .map(|i| i.exit_signal().map(u32::from))
                    .collect::<Vec<_>>(),
            ),
            col_of(
                "events",
                imgs.iter().map(|i| i.counts.events).collect::<Vec<_>>(),
            ),
            col_of(
                "file_events",
                imgs.iter().map(|i| i.counts.files).collect::<Vec<_>>(),
            ),
            col_of(
                "connections",
                imgs.iter().map(|i| i.counts.conns).collect::<Vec<_>>(),
            ),
            col_of(
                "children",
                imgs.iter().map(|i| i.counts.children).collect::<Vec<_>>(),
            ),
        ])?;

        // connections
        let cs = &model.conns;
        let anchor_of_rec = |r: u16| c.anchors.get(r as usize).copied();
        let cstart: Vec<Option<i64>> = cs
            .iter()
            .map(|x| wall(anchor_of_rec(x.recording), x.start_ns))
            .collect();
        let connections = DataFrame::new_infer_height(vec![
            col_of(
                "host",
                cs.iter()
                    .map(|x| host_of_image(x.image))
                    .collect::<Vec<_>>(),
            ),
            col_of(
                "day",
                cstart
                    .iter()
                    .map(|t| t.map(day).unwrap_or_else(|| "unknown".into()))
                    .collect::<Vec<_>>(),
            ),
            datetime("start", cstart.clone())?,
            datetime(
                "end",
                cs.iter()
                    .map(|x| x.end_ns.and_then(|e| wall(anchor_of_rec(x.recording), e)))
                    .collect(),
            )?,
            col_of(
                "exec_id",
                cs.iter()
                    .map(|x| exec_ids.get(x.image.idx()).cloned().unwrap_or_default())
                    .collect::<Vec<_>>(),
            ),
            col_of(
                "exe",
                cs.iter()
                    .map(|x| exes.get(x.image.idx()).cloned().unwrap_or_default())
                    .collect::<Vec<_>>(),
            ),
            col_of(
                "direction",
                cs.iter().map(|x| x.dir.name()).collect::<Vec<_>>(),
            ),
            col_of("proto", cs.iter().map(|x| x.proto).collect::<Vec<_>>()),
            col_of(
                "local",
                cs.iter()
                    .map(|x| x.local.map(|a| a.to_string()))
                    .collect::<Vec<_>>(),
            ),
            col_of(
                "remote",
                cs.iter()
                    .map(|x| x.remote.map(|a| a.to_string()))
                    .collect::<Vec<_>>(),
            ),
            col_of(
                "remote_name",
                cs.iter().map(|x| x.remote_name.clone()).collect::<Vec<_>>(),
            ),
            col_of(
                "unix_path",
                cs.iter()
                    .map(|x| x.unix_path.as_ref().map(|p| p.display()))
                    .collect::<Vec<_>>(),
            ),
            col_of(
                "destination",
                cs.iter().map(|x| x.remote_text()).collect::<Vec<_>>(),
            ),
            col_of("ret", cs.iter().map(|x| x.ret).collect::<Vec<_>>()),
            col_of("failed", cs.iter().map(|x| x.failed()).collect::<Vec<_>>()),
            col_of(
                "outcome",
                cs.iter().map(|x| x.outcome().text()).collect::<Vec<_>>(),
            ),
            col_of(
                "bytes_sent",
                cs.iter().map(|x| x.bytes_sent).collect::<Vec<_>>(),
            ),
            col_of(
                "bytes_received",
                cs.iter().map(|x| x.bytes_received).collect::<Vec<_>>(),
            ),
            col_of(
                "datagrams",
                cs.iter().map(|x| x.datagrams).collect::<Vec<_>>(),
            ),
        ])?;

        // files (borrowed strings, as for events)
        let fs = &c.files;
        let boot_host: Vec<String> = (0..model.boots.len())
            .map(|b| host_of_boot(b as u16))
            .collect();
        let image_host = |i: ImageId| -> &str {
            model
                .images
                .get(i.idx())
                .and_then(|img| boot_host.get(img.boot as usize))
                .map(String::as_str)
                .unwrap_or("")
        };
        let (fdays, fday_idx) = day_table(fs.iter().map(|f| f.time));
        let files = DataFrame::new_infer_height(vec![
            col_of(
                "host",
                fs.iter().map(|f| image_host(f.image)).collect::<Vec<_>>(),
            ),
            col_of(
                "day",
                fday_idx
                    .iter()
                    .map(|&i| fdays.get(i).map(String::as_str).unwrap_or("unknown"))
                    .collect::<Vec<_>>(),
            ),
            datetime("time", fs.iter().map(|f| Some(f.time)).collect())?,
            col_of(
                "exec_id",
                fs.iter()
                    .map(|f| {
                        exec_ids
                            .get(f.image.idx())
                            .map(String::as_str)
                            .unwrap_or("")
                    })
                    .collect::<Vec<_>>(),
            ),
            col_of(
                "exe",
                fs.iter()
                    .map(|f| exes.get(f.image.idx()).map(String::as_str).unwrap_or(""))
                    .collect::<Vec<_>>(),
            ),
            col_of("op", fs.iter().map(|f| f.op).collect::<Vec<_>>()),
            col_of(
                "path",
                fs.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
            ),
            col_of("ret", fs.iter().map(|f| f.ret).collect::<Vec<_>>()),
        ])?;

        // dns
        let ds = &c.dns;
        let dns = DataFrame::new_infer_height(vec![
            col_of(
                "host",
                ds.iter()
                    .map(|d| host_of_image(d.image))
                    .collect::<Vec<_>>(),
            ),
            col_of("day", ds.iter().map(|d| day(d.time)).collect::<Vec<_>>()),
            datetime("time", ds.iter().map(|d| Some(d.time)).collect())?,
            col_of(
                "exec_id",
                ds.iter()
                    .map(|d| exec_ids.get(d.image.idx()).cloned().unwrap_or_default())
                    .collect::<Vec<_>>(),
            ),
            col_of(
                "response",
                ds.iter().map(|d| d.response).collect::<Vec<_>>(),
            ),
            col_of(
                "name",
                ds.iter().map(|d| d.name.clone()).collect::<Vec<_>>(),
            ),
            col_of(
                "qtype",
                ds.iter().map(|d| d.qtype.clone()).collect::<Vec<_>>(),
            ),
            col_of(
                "rcode",
                ds.iter().map(|d| d.rcode.clone()).collect::<Vec<_>>(),
            ),
            col_of(
                "answers",
                ds.iter().map(|d| d.answers.clone()).collect::<Vec<_>>(),
            ),
        ])?;
        // losses
        let ls = &model.losses;
        let lstart: Vec<Option<i64>> = ls
            .iter()
            .map(|l| wall(anchor_of_rec(l.recording), l.start_ns))
            .collect();
        let losses = DataFrame::new_infer_height(vec![
            col_of(
                "host",
                ls.iter()
                    .map(|l| {
                        let boot = model.recording_boot.get(l.recording as usize);
                        host_of_boot(boot.copied().unwrap_or(0))
                    })
                    .collect::<Vec<_>>(),
            ),
            col_of(
                "day",
                lstart
                    .iter()
                    .map(|t| t.map(day).unwrap_or_else(|| "unknown".into()))
                    .collect::<Vec<_>>(),
            ),
            col_of(
                "recording",
                ls.iter()
                    .map(|l| u32::from(l.recording))
                    .collect::<Vec<_>>(),
            ),
            col_of("cpu", ls.iter().map(|l| l.cpu).collect::<Vec<_>>()),
            col_of("count", ls.iter().map(|l| l.count).collect::<Vec<_>>()),
            datetime("start", lstart.clone())?,
            datetime(
                "end",
                ls.iter()
                    .map(|l| wall(anchor_of_rec(l.recording), l.end_ns))
                    .collect(),
            )?,
        ])?;
        Ok(Tables {
            events,
            processes,
            connections,
            files,
            dns,
            losses,
        })
    }
}

/// The compact event frame `stats` aggregates, events only (no snapshots or loss
/// markers): `bucket` (i64 wall ns, start of the
/// `bucket_ns` bucket), `type` (u32 record type number), `image` (u32, null when the
/// event has no process).
pub fn event_frame(c: &Collector, bucket_ns: i64) -> PolarsResult<DataFrame> {
    let b = bucket_ns.max(1);
    let keep: Vec<usize> = c.events().collect();
    DataFrame::new_infer_height(vec![
        col_of(
            "bucket",
            keep.iter()
                .map(|&i| c.time[i].div_euclid(b).saturating_mul(b))
                .collect::<Vec<_>>(),
        ),
        col_of("type", keep.iter().map(|&i| c.rtype[i]).collect::<Vec<_>>()),
        col_of(
            "image",
            keep.iter().map(|&i| c.image[i]).collect::<Vec<_>>(),
        ),
    ])
}

/// The connection frame `stats` aggregates: outbound connections, UDP flows and sockets
/// already open (accepted ones are the other side's destination), with `destination`
/// (`Conn::remote_text`), `bytes_sent`, `bytes_received`.
/// With `images`, only the connections of those images.
pub fn destination_frame(
    model: &Model,
    images: Option<&std::collections::HashSet<crate::model::process::ImageId>>,
) -> PolarsResult<DataFrame> {
    let cs: Vec<_> = model
        .conns
        .iter()
        .filter(|c| c.dir != Direction::Inbound)
        .filter(|c| images.is_none_or(|s| s.contains(&c.image)))
        .collect();
    DataFrame::new_infer_height(vec![
        col_of(
            "destination",
            cs.iter().map(|c| c.remote_text()).collect::<Vec<_>>(),
        ),
        col_of(
            "bytes_sent",
            cs.iter().map(|c| c.bytes_sent).collect::<Vec<_>>(),
        ),
        col_of(
            "bytes_received",
            cs.iter().map(|c| c.bytes_received).collect::<Vec<_>>(),
        ),
    ])
}
