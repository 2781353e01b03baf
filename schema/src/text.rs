//! Text from a trace on its way to a reader. Every string in a trace (argv, paths, DNS
//! names, task names, HTTP headers, the host name) was chosen by whoever ran on the
//! recorded host, who may have chosen it to attack the person reading the evidence: an
//! ESC sequence that rewrites the terminal, a CR or LF that forges a line, a C1 control
//! (U+009B is a one-character CSI on some terminals), a bidi override that shows
//! `exe.txt` for `txt.exe`. One rule decides what must never reach a terminal raw
//! ([`is_unsafe`]) and one function escapes it ([`escape`]); every printer uses them.
//! CSV cells have one more rule ([`csv_cell`]): a spreadsheet must not take them for
//! formulas (issue 14, points 10 and 11).

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};
use std::borrow::Cow;
use std::fmt;
use std::io;

/// True for a character that must not reach a terminal raw: C0 controls (tab and
/// newline included: a value must stay on its own line and column), DEL, C1 controls
/// (U+0080-U+009F), and the characters that reorder or hide text (bidi embeddings,
/// overrides and isolates, marks, zero-width characters, line and paragraph separators,
/// the byte-order mark).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2069}'
            | '\u{feff}')
}

/// `s` with every [`is_unsafe`] character written as an escape (`\n`, `\t`, `\r`,
/// `\u{1b}`, `\u{202e}`), so the result is one line of visible text. Borrowed when
/// nothing needs escaping (the common case). Escaping twice is escaping once.
pub fn escape(s: &str) -> Cow<'_, str> {
    let Some(first) = first_unsafe(s) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// Where the first [`is_unsafe`] character starts. Every line of a timeline passes here:
/// ASCII is checked byte by byte, characters are decoded only from the first non-ASCII
/// byte on.
fn first_unsafe(s: &str) -> Option<usize> {
    for (i, &b) in s.as_bytes().iter().enumerate() {
        if b < 0x20 || b == 0x7f {
            return Some(i);
        }
        if b >= 0x80 {
            // Only ASCII before it: `i` starts a character.
            return s[i..].find(is_unsafe).map(|j| i + j);
        }
    }
    None
}

/// Appends `c`, escaped when it is [`is_unsafe`].
pub fn push_escaped(out: &mut String, c: char) {
    if is_unsafe(c) {
        out.extend(c.escape_default());
    } else {
        out.push(c);
    }
}

/// Bytes (not necessarily UTF-8) as escaped text: invalid sequences become U+FFFD.
pub fn escape_bytes(b: &[u8]) -> String {
    escape(&String::from_utf8_lossy(b)).into_owned()
}

/// Anything printable, escaped when shown: `eprintln!("{}", Escaped(path.display()))`.
/// For error messages and other text that mixes our words with a trace's strings or
/// paths.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<T>(pub T);

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.to_string();
        f.write_str(&escape(&s))
    }
}

/// An error and its causes joined by `: ` (like anyhow's `{:#}`), without repeating a
/// cause that the message before it already ends with (`TraceError::Io` says its OS
/// error and also gives it as its source, which printed "Permission denied (os error
/// 13): Permission denied (os error 13)"), and escaped: messages carry paths and strings
/// from traces.
pub fn error_message(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut cur = Some(e);
    while let Some(c) = cur {
        let text = c.to_string();
        if !text.is_empty() && !out.ends_with(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        cur = c.source();
    }
    escape(&out).into_owned()
}

/// A CSV cell: escaped like terminal text (a CSV is read in terminals and editors too),
/// then, when it starts with `=`, `+`, `-`, `@`, a tab or a CR, prefixed with a single
/// quote so that no spreadsheet evaluates it as a formula (the OWASP rule for CSV
/// injection). Numbers that the program itself formats are not trace strings and are not
/// passed here.
pub fn csv_cell(s: &str) -> Cow<'_, str> {
    let e = escape(s);
    if e.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{e}"))
    } else {
        e
    }
}

/// Writes `value` as compact JSON in which every [`is_unsafe`] character is a `\uXXXX`
/// escape. serde_json escapes C0 controls itself but writes DEL, C1 controls and bidi
/// characters raw, and `--json` output is read in terminals too. The JSON means the same.
pub fn write_json<W, T>(out: &mut W, value: &T) -> serde_json::Result<()>
where
    W: io::Write + ?Sized,
    T: Serialize + ?Sized,
{
    let mut ser = serde_json::Serializer::with_formatter(out, SafeJson(CompactFormatter));
    value.serialize(&mut ser)
}

/// [`write_json`], indented.
pub fn write_json_pretty<W, T>(out: &mut W, value: &T) -> serde_json::Result<()>
where
    W: io::Write + ?Sized,
    T: Serialize + ?Sized,
{
    let mut ser = serde_json::Serializer::with_formatter(out, SafeJson(PrettyFormatter::new()));
    value.serialize(&mut ser)
}

/// [`write_json`] into a string.
pub fn json_string<T: Serialize + ?Sized>(value: &T) -> String {
    let mut v = Vec::new();
    // Serializing into memory fails only for maps with non-string keys, which no
    // caller has; the result is UTF-8 because JSON is.
    let _ = write_json(&mut v, value);
    String::from_utf8(v).unwrap_or_default()
}

/// A JSON formatter that escapes [`is_unsafe`] characters in strings.
struct SafeJson<F>(F);

impl<F: Formatter> Formatter for SafeJson<F> {
    fn write_string_fragment<W: io::Write + ?Sized>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut rest = fragment;
        while let Some(i) = rest.find(is_unsafe) {
            w.write_all(&rest.as_bytes()[..i])?;
            let c = rest[i..].chars().next().unwrap_or_default();
            // Every unsafe character is in the Basic Multilingual Plane: one \u escape.
            write!(w, "\\u{:04x}", c as u32)?;
            rest = &rest[i + c.len_utf8()..];
        }
        w.write_all(rest.as_bytes())
    }
    fn begin_array<W: io::Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: io::Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: io::Write + ?Sized>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: io::Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: io::Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: io::Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: io::Write + ?Sized>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: io::Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: io::Write + ?Sized>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_bidi_and_c1_are_escaped() {
        let s =
            "a\u{1b}[2J\r\nforged\u{7}\u{0}\u{7f}\u{9b}31m\u{85}\u{202e}txt.exe\u{2066}\u{feff}\tz";
        let e = escape(s);
        assert_eq!(
            e,
            "a\\u{1b}[2J\\r\\nforged\\u{7}\\u{0}\\u{7f}\\u{9b}31m\\u{85}\\u{202e}txt.exe\\u{2066}\\u{feff}\\tz"
        );
        assert!(!e.chars().any(is_unsafe));
        assert_eq!(escape(&e), e, "escaping twice is escaping once");
    }

    #[test]
    fn unsafe_after_non_ascii_is_found() {
        assert_eq!(escape("é\u{1b}"), "é\\u{1b}");
        assert_eq!(escape("日本\u{202e}x"), "日本\\u{202e}x");
        assert_eq!(escape("a\u{85}"), "a\\u{85}");
    }

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(
            escape("bash -c 'id; ls' é 日本"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn bytes_are_lossy() {
        assert_eq!(escape_bytes(b"\xff\x1b"), "\u{fffd}\\u{1b}");
    }

    #[test]
    fn csv_formulas_are_neutralised() {
        for (cell, want) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "\\t=1"),
            ("plain", "plain"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(csv_cell(cell), want, "{cell:?}");
        }
    }

    #[test]
    fn json_escapes_what_serde_json_leaves_raw() {
        let v = serde_json::json!({"k\u{202e}": ["a\u{1b}\u{7f}\u{9b}\u{202e}b", 1]});
        let s = json_string(&v);
        assert_eq!(s, r#"{"k\u202e":["a\u001b\u007f\u009b\u202eb",1]}"#);
        let back: serde_json::Value = serde_json::from_str(&s).expect("valid JSON");
        assert_eq!(back, v);
        let mut pretty = Vec::new();
        write_json_pretty(&mut pretty, &v).expect("pretty");
        let pretty = String::from_utf8(pretty).expect("utf-8");
        assert!(
            pretty.contains("\n  \"k\\u202e\": [\n    \"a\\u001b"),
            "{pretty}"
        );
    }

    #[test]
    fn error_causes_are_said_once() {
        let io = io::Error::from_raw_os_error(13);
        let e = crate::TraceError::Io {
            path: "/tmp/x\u{1b}".into(),
            source: io,
        };
        assert_eq!(
            error_message(&e),
            "/tmp/x\\u{1b}: Permission denied (os error 13)"
        );
    }

    #[test]
    fn escaped_wraps_display() {
        let p = std::path::PathBuf::from("/tmp/\u{1b}]0;x\u{7}");
        assert_eq!(Escaped(p.display()).to_string(), "/tmp/\\u{1b}]0;x\\u{7}");
    }
}
