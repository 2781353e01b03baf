//! `analyzer report`: the HTML page escapes every hostile string (parsed back with an
//! HTML5 parser), is byte-identical run to run, renders in headless Chromium without
//! script errors, and fails cleanly on an unwritable output.

mod common;
use common::{analyzer, root, text};

use html5ever::tendril::TendrilSink;
use markup5ever_rcdom::{Handle, NodeData, RcDom};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The page parsed by html5ever (the HTML5 parsing algorithm, as a browser does).
struct Doc(RcDom);

impl Doc {
    fn parse(html: &str) -> Doc {
        Doc(
            html5ever::parse_document(RcDom::default(), Default::default())
                .from_utf8()
                .read_from(&mut html.as_bytes())
                .expect("parse"),
        )
    }

    fn root(&self) -> Handle {
        self.0.document.clone()
    }
}

fn all(h: &Handle) -> Vec<Handle> {
    let mut out = Vec::new();
    let mut stack = vec![h.clone()];
    while let Some(n) = stack.pop() {
        for c in n.children.borrow().iter().rev() {
            stack.push(c.clone());
        }
        out.push(n);
    }
    out
}

/// Element name and attributes, or `None` for other nodes.
fn element(h: &Handle) -> Option<(String, Vec<(String, String)>)> {
    match &h.data {
        NodeData::Element { name, attrs, .. } => Some((
            name.local.to_string(),
            attrs
                .borrow()
                .iter()
                .map(|a| (a.name.local.to_string(), a.value.to_string()))
                .collect(),
        )),
        _ => None,
    }
}

fn attr(h: &Handle, name: &str) -> Option<String> {
    element(h)?
        .1
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|a| a.1)
}

fn has_class(h: &Handle, class: &str) -> bool {
    attr(h, "class").is_some_and(|c| c.split_whitespace().any(|x| x == class))
}

/// Elements named `name` (any, with `*`) with `class` (when given) under `h`.
fn select(h: &Handle, name: &str, class: Option<&str>) -> Vec<Handle> {
    all(h)
        .into_iter()
        .filter(|n| {
            element(n).is_some_and(|(e, _)| name == "*" || e == name)
                && class.is_none_or(|c| has_class(n, c))
        })
        .collect()
}

fn by_id(h: &Handle, id: &str) -> Handle {
    all(h)
        .into_iter()
        .find(|n| attr(n, "id").as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no element #{id}"))
}

/// Text content of the subtree (scripts and styles included, as the DOM has it).
fn text_of(h: &Handle) -> String {
    let mut s = String::new();
    for n in all(h) {
        if let NodeData::Text { contents } = &n.data {
            s.push_str(&contents.borrow());
        }
    }
    s
}

/// Text content without script and style elements.
fn visible_text(h: &Handle) -> String {
    let mut s = String::new();
    fn walk(n: &Handle, s: &mut String) {
        if let Some((name, _)) = element(n) {
            if name == "script" || name == "style" {
                return;
            }
        }
        if let NodeData::Text { contents } = &n.data {
            s.push_str(&contents.borrow());
        }
        for c in n.children.borrow().iter() {
            walk(c, s);
        }
    }
    walk(h, &mut s);
    s
}

/// Body rows of the table with this id.
fn body_rows(doc: &Doc, table: &str) -> usize {
    select(&by_id(&doc.root(), table), "tbody", None)
        .iter()
        .map(|b| select(b, "tr", None).len())
        .sum()
}

const HOSTILE: &str = "fixtures/synthetic/hostile/hostile.zst";
const REVSHELL: &str = "fixtures/reverse-shell.zst";

/// Writes the report of `trace` to `dir/name` and returns its path and text.
fn report(trace: &str, dir: &Path, name: &str) -> (PathBuf, String) {
    let out = dir.join(name);
    let o = analyzer(&[
        "report",
        "-q",
        trace,
        "-o",
        out.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "analyzer report {trace} failed:\n{}",
        text(&o.stderr)
    );
    let html = std::fs::read_to_string(&out).expect("read report");
    (out, html)
}

/// Attributes an injected string could bring.
const EVENT_ATTRS: [&str; 5] = ["onerror", "onload", "onmouseover", "onclick", "onfocus"];

#[test]
fn hostile_strings_are_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, html) = report(HOSTILE, dir.path(), "hostile.html");
    let doc = Doc::parse(&html);
    let root = doc.root();
    // Exactly one script, ours, at the end of the body; no element the trace names.
    let scripts = select(&root, "script", None);
    assert_eq!(scripts.len(), 1, "one script only");
    assert!(text_of(&scripts[0]).contains("data-ready"));
    for tag in [
        "img", "iframe", "textarea", "object", "embed", "base", "form",
    ] {
        assert_eq!(
            select(&root, tag, None).len(),
            0,
            "an injected <{tag}> survived"
        );
    }
    // SVG: the charts' and the graph's, none with an event handler.
    for el in select(&root, "*", None) {
        let (name, attrs) = element(&el).expect("element");
        for (a, value) in attrs {
            assert!(
                !EVENT_ATTRS.contains(&a.as_str()) && !a.starts_with("on"),
                "injected attribute {a}={value:?} on <{name}>"
            );
            assert!(
                !value.contains("javascript:"),
                "javascript: URL in {a} on <{name}>"
            );
        }
    }
    let styles = select(&root, "style", None);
    assert_eq!(styles.len(), 1, "one style element");
    assert!(
        !text_of(&styles[0]).contains("alert("),
        "the trace reached the stylesheet"
    );
    // The strings are there, as text: in the summary, incidents, tree, tables.
    let body = visible_text(&root);
    for s in [
        "<script>alert(1)</script>",
        "\"><img src=x onerror=alert(1)>",
        "' onmouseover='alert(1)' x='",
        "</style></textarea><svg onload=alert(1)>",
        "]]><!-- --><iframe src=javascript:alert(1)>",
    ] {
        assert!(body.contains(s), "{s:?} is not shown as text");
    }
    // Control characters are shown escaped, never raw; invalid UTF-8 as U+FFFD.
    assert!(
        body.contains("\\u{1b}[31mred"),
        "escape character not made visible"
    );
    assert!(!html.contains('\u{1b}') && !html.contains('\0'));
    assert!(body.contains('\u{fffd}'));
    // The 100 KiB argument is cut, and says so.
    assert!(body.contains("more characters]"));
    assert!(html.len() < 2_000_000, "report is {} bytes", html.len());
    // The hostile strings reached the incident (not only the tables).
    let inc_text = visible_text(&by_id(&root, "incident-1"));
    assert!(inc_text.contains("RW-PROC-001") && inc_text.contains("RW-FILE-001"));
    assert!(inc_text.contains("<script>alert(1)</script>"));
    // Network fetches are impossible: a CSP that allows nothing but our script's hash.
    let csp = select(&root, "meta", None)
        .iter()
        .find(|m| attr(m, "http-equiv").as_deref() == Some("Content-Security-Policy"))
        .and_then(|m| attr(m, "content"))
        .expect("CSP");
    assert!(csp.starts_with("default-src 'none'") && csp.contains("'sha256-"));
    assert!(!csp.contains("script-src 'unsafe"));
}

#[test]
fn report_shows_the_story() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, html) = report(REVSHELL, dir.path(), "rs.html");
    let doc = Doc::parse(&html);
    let root = doc.root();
    let t = visible_text(&root);
    for want in [
        "Reverse shell (shell using a socket it did not open)",
        "T1059.004",
        "Command and Scripting Interpreter: Unix Shell",
        "Process tree",
        "Timeline of its processes",
        "No loss reported",
    ] {
        assert!(t.contains(want), "missing {want:?}");
    }
    // Sections, charts (plotters SVG) and the graph are there.
    for id in [
        "summary",
        "incidents",
        "tree",
        "graph",
        "charts",
        "files",
        "network",
    ] {
        by_id(&root, id);
    }
    let graph = select(&by_id(&root, "graph"), "svg", Some("graph"));
    assert_eq!(graph.len(), 1);
    assert!(select(&graph[0], "g", Some("node")).len() >= 5);
    assert!(select(&by_id(&root, "charts"), "svg", None).len() >= 2);
    assert!(body_rows(&doc, "files-table") > 0);
    assert!(body_rows(&doc, "network-table") > 0);
    // The tree works without JavaScript: nested details elements.
    assert!(!select(&by_id(&root, "proc-tree"), "details", None).is_empty());
}

/// An attack stopped by the policy: the block is part of the incident's story, and the
/// refused connect is in the network table as refused by EPERM, not as a connection.
#[test]
fn report_shows_where_the_policy_stopped_the_attack() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, html) = report("fixtures/reverse-shell-blocked.zst", dir.path(), "rb.html");
    let doc = Doc::parse(&html);
    let incidents = visible_text(&by_id(&doc.root(), "incidents"));
    assert!(
        incidents.contains(
            "BLOCKED: connect to 127.0.0.1:14444, process killed by rule service-shell-connects-out"
        ),
        "{incidents}"
    );
    let net = visible_text(&by_id(&doc.root(), "network"));
    assert!(net.contains("failed: EPERM"), "{net}");
}

#[test]
fn report_is_deterministic() {
    let dir = tempfile::tempdir().expect("tempdir");
    for trace in [REVSHELL, HOSTILE, "fixtures/synthetic/"] {
        let (_, a) = report(trace, dir.path(), "a.html");
        let (_, b) = report(trace, dir.path(), "b.html");
        assert!(a == b, "{trace}: two runs differ");
    }
}

#[test]
fn caps_are_visible() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("capped.html");
    let o = analyzer(&[
        "report",
        "-q",
        REVSHELL,
        "-o",
        out.to_str().expect("path"),
        "--max-rows",
        "3",
        "--max-timeline",
        "5",
        "--max-processes",
        "4",
        "--max-nodes",
        "6",
        "--max-findings",
        "2",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let html = std::fs::read_to_string(&out).expect("read");
    let doc = Doc::parse(&html);
    let t = visible_text(&doc.root());
    assert!(t.contains("Showing 3 of"), "table cap not said");
    assert!(
        t.contains("Capped: these lines tell the first"),
        "timeline cap not said"
    );
    // The tree is cut hard at the cap, incident processes (with their ancestors) first.
    assert!(
        t.contains("Showing 4 of")
            && t.contains("the processes of incidents, most important incident first"),
        "tree cap not said"
    );
    assert_eq!(
        html.matches("<li data-exec=").count(),
        4,
        "tree holds more than --max-processes"
    );
    assert!(t.contains("most severe of"), "findings cap not said");
    assert!(
        t.contains("Showing 6 of") && t.contains("nodes"),
        "graph cap not said"
    );
    assert_eq!(body_rows(&doc, "files-table"), 3);
    // Evidence is kept past the timeline cap: every shown finding's line is there.
    assert!(select(&doc.root(), "li", Some("finding")).len() >= 2);

    // Incidents past --max-incidents keep their heading and facts, not their details.
    let o = analyzer(&[
        "report",
        "-q",
        REVSHELL,
        "-o",
        out.to_str().expect("path"),
        "--max-incidents",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let html = std::fs::read_to_string(&out).expect("read");
    let t = visible_text(&Doc::parse(&html).root());
    assert!(t.contains("Incident 1 "), "incident heading missing");
    assert!(
        t.contains("for the most important incidents only"),
        "incident cap not said"
    );
    assert!(
        !t.contains("Timeline of its processes"),
        "details shown past the cap"
    );
}

#[test]
fn unwritable_output_is_a_clear_error() {
    let out = analyzer(&["report", "-q", REVSHELL, "-o", "/nonexistent-dir/r.html"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("/nonexistent-dir/r.html"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // A directory where the file should go: the rename fails, nothing is left behind.
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("taken");
    std::fs::create_dir(&target).expect("mkdir");
    std::fs::write(target.join("x"), "keep").expect("write");
    let out = analyzer(&[
        "report",
        "-q",
        REVSHELL,
        "-o",
        target.to_str().expect("path"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot write report"));
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("ls")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 1, "temporary file left behind: {left:?}");
}

/// Headless Chromium: path, or `None` (skip) when it is not installed outside CI.
fn chromium() -> Option<PathBuf> {
    for c in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        if Path::new(c).exists() {
            return Some(PathBuf::from(c));
        }
    }
    assert!(
        std::env::var_os("REWIND_REQUIRE_ROOT").is_none(),
        "chromium is not installed (.ci/setup installs it)"
    );
    eprintln!("skipped: chromium is not installed (apt-get install chromium)");
    None
}

fn chromium_run(bin: &Path, profile: &Path, extra: &[String], url: &str) -> std::process::Output {
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium")
}

#[test]
fn renders_in_headless_chromium() {
    let Some(bin) = chromium() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    // Screenshots go to target/ too, so a person can look at them after the run.
    let keep = option_env!("CARGO_TARGET_TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().to_path_buf());
    for (trace, name) in [(REVSHELL, "reverse-shell"), (HOSTILE, "hostile")] {
        let (path, _) = report(trace, dir.path(), &format!("{name}.html"));
        let url = format!("file://{}", path.display());
        let profile = tempfile::tempdir().expect("profile");
        let dom = chromium_run(&bin, profile.path(), &["--dump-dom".into()], &url);
        let dom_text = text(&dom.stdout);
        let body = dom_text
            .split("<body")
            .nth(1)
            .and_then(|b| b.split('>').next())
            .unwrap_or_default()
            .to_string();
        assert!(
            body.contains("data-ready=\"1\""),
            "{name}: the page's script did not finish: <body{body}>\n{}",
            text(&dom.stderr)
        );
        assert!(
            body.contains("data-errors=\"\""),
            "{name}: script errors: <body{body}>"
        );
        // The injected markup did not become elements in the live DOM either.
        let live = Doc::parse(&dom_text);
        let lr = live.root();
        assert_eq!(
            select(&lr, "img", None).len() + select(&lr, "iframe", None).len(),
            0,
            "{name}"
        );
        assert_eq!(select(&lr, "script", None).len(), 1, "{name}");
        let shot = keep.join(format!("report-{name}.png"));
        let _ = std::fs::remove_file(&shot);
        let profile = tempfile::tempdir().expect("profile");
        let out = chromium_run(
            &bin,
            profile.path(),
            &[
                format!("--screenshot={}", shot.display()),
                "--window-size=1400,2000".into(),
            ],
            &url,
        );
        let png = std::fs::read(&shot).unwrap_or_else(|e| {
            panic!(
                "{name}: no screenshot at {}: {e}\n{}",
                shot.display(),
                text(&out.stderr)
            )
        });
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{name}: not a PNG");
        assert!(
            png.len() > 50_000,
            "{name}: screenshot is only {} bytes",
            png.len()
        );
        eprintln!("{name}: screenshot {}", shot.display());
    }
    let _ = root();
}

/// Issue 14.4 in the report: an incident's timeline joins a byte-per-snippet session's
/// bursts as the terminal timeline does; the finding's evidence keeps its own line.
#[test]
fn incident_timelines_join_payload_bursts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = common::byte_per_snippet_session(dir.path());
    let (_, html) = report(trace.to_str().expect("utf-8"), dir.path(), "session.html");
    let text = visible_text(&Doc::parse(&html).root());
    assert!(
        text.contains("RW-PROC-001"),
        "no reverse shell finding:\n{text}"
    );
    // The finding's evidence (its first 8 events, here pieces) joins too; its line
    // after the last piece of evidence ends that burst.
    for want in [
        r#"received "id\n" from 203.0.113.9:4444 (3 B in 3 pieces)"#,
        r#"sent "uid=0" to 203.0.113.9:4444 (5 B in 5 pieces)"#,
        r#"sent "(root) gid=0(root)\n" to 203.0.113.9:4444 (19 B in 19 pieces)"#,
        "Reverse shell (shell using a socket it did not open): bash[700]",
        r#"received "ls\n" from 203.0.113.9:4444 (3 B in 3 pieces)"#,
    ] {
        assert!(text.contains(want), "no {want:?} in\n{text}");
    }
    // Nine lines tell the 33 events of the shell and ls (the finding's line is extra).
    assert!(
        text.contains("Timeline of its processes (9 lines)"),
        "{text}"
    );
    assert!(!text.contains("Capped: these lines tell"), "{text}");
}
