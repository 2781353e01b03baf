//! The live status line on stderr: events/s, loss, bytes written, compression, segment.
//! Only drawn when stderr is a terminal and `--quiet` is not given.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

pub(crate) struct Status {
    on: bool,
    last: Instant,
    last_records: u64,
    drawn: bool,
}

impl Status {
    pub(crate) fn new(quiet: bool) -> Self {
        Status {
            on: !quiet && std::io::stderr().is_terminal(),
            last: Instant::now(),
            last_records: 0,
            drawn: false,
        }
    }

    pub(crate) fn update(
        &mut self,
        records: u64,
        lost: u64,
        bytes: u64,
        raw: u64,
        seg: Option<&Path>,
    ) {
        let dt = self.last.elapsed().as_secs_f64().max(1e-3);
        let rate = (records - self.last_records.min(records)) as f64 / dt;
        self.last = Instant::now();
        self.last_records = records;
        if !self.on {
            return;
        }
        let ratio = if bytes > 0 {
            raw as f64 / bytes as f64
        } else {
            0.0
        };
        let seg = seg
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut e = std::io::stderr().lock();
        let _ = write!(
            e,
            "\r\x1b[Krecording: {rate:>9.0} ev/s  {records} records  {lost} lost  {:.1} MiB written  {ratio:.1}x  {seg}",
            bytes as f64 / (1 << 20) as f64
        );
        let _ = e.flush();
        self.drawn = true;
    }

    pub(crate) fn clear(&mut self) {
        if self.drawn {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}
