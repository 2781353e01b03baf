//! Time formatting: wall-clock instants in UTC (RFC 3339, nanoseconds) and durations.

use chrono::DateTime;

/// `2026-01-15T09:00:00.000001234Z`.
pub fn wall(ns: i128) -> String {
    use chrono::{Datelike, Timelike};
    let secs = ns.div_euclid(1_000_000_000) as i64;
    let sub = ns.rem_euclid(1_000_000_000) as u32;
    // Field by field rather than strftime: this runs once per printed event, and parsing
    // a format string each time cost more than the rest of the line.
    match DateTime::from_timestamp(secs, sub) {
        Some(t) if (0..=9999).contains(&t.year()) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{sub:09}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string(),
        None => format!("@{ns}ns"),
    }
}

/// A short human duration: `850ns`, `12.5ms`, `3.2s`, `4m05s`, `2h03m`.
pub fn duration(ns: u64) -> String {
    match ns {
        0..=999 => format!("{ns}ns"),
        1_000..=999_999 => format!("{:.1}us", ns as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.1}ms", ns as f64 / 1e6),
        1_000_000_000..=59_999_999_999 => format!("{:.1}s", ns as f64 / 1e9),
        _ => {
            let s = ns / 1_000_000_000;
            if s < 3600 {
                format!("{}m{:02}s", s / 60, s % 60)
            } else {
                format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
            }
        }
    }
}

/// Bytes in binary units: `512 B`, `12.3 KiB`, `4.0 MiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Parses a duration such as `90s`, `1.5m`, `250ms`, `2h`, `500us`, `10ns` (a bare number
/// is seconds).
pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    let mult = match unit {
        "" | "s" => 1e9,
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        "d" => 86400e9,
        _ => return None,
    };
    let ns = v * mult;
    (ns.is_finite() && ns >= 0.0 && ns < u64::MAX as f64).then_some(ns as u64)
}

/// Parses an instant: RFC 3339 (`2026-11-25T18:05:03.5Z`, `...+01:00`), or the same
/// without a zone (taken as UTC, `T` or a space between date and time).
pub fn parse_wall(s: &str) -> Option<i128> {
    let s = s.trim();
    let t = chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(&s.replace(' ', "T"), "%Y-%m-%dT%H:%M:%S%.f")
                .map(|t| t.and_utc())
        })
        .ok()?;
    Some(t.timestamp() as i128 * 1_000_000_000 + t.timestamp_subsec_nanos() as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(
            wall(1_768_467_600_000_000_001),
            "2026-01-15T09:00:00.000000001Z"
        );
        assert_eq!(duration(1_500_000), "1.5ms");
        assert_eq!(duration(245_000_000_000), "4m05s");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(10), "10 B");
        assert_eq!(wall(i128::MAX), format!("@{}ns", i128::MAX));
        assert_eq!(parse_duration("1.5m"), Some(90_000_000_000));
        assert_eq!(parse_duration("250ms"), Some(250_000_000));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(
            parse_wall("2026-01-15T10:00:00.000000001+01:00"),
            Some(1_768_467_600_000_000_001)
        );
        assert_eq!(
            parse_wall("2026-01-15 09:00:00"),
            Some(1_768_467_600_000_000_000)
        );
    }
}
