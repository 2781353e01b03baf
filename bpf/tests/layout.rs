//! Proves that `bpf/include/rewind.h` and the Rust decoders in `rewind-schema` agree.
//!
//! The test reads the header to learn which structs, fields and `enum rw_type` constants
//! it declares, generates a C program that prints `sizeof`, `offsetof` and the size of
//! every field as the C compiler sees them, plus the value of every record type constant,
//! compiles it with `$CC` (or `cc`), runs it and compares the output with
//! `rewind_schema::wire::all_layouts()` and `RecordType::ALL`. Every disagreement is
//! collected and reported at once.
//!
//! It also checks the header's own rules: no implicit padding in C (the fields, `_pad`
//! included, tile the struct exactly), every C field other than `_pad*` is decoded by
//! Rust, and the Rust field tables are contiguous with at most trailing padding.

use rewind_schema::wire::{all_layouts, LayoutInfo};
use rewind_schema::RecordType;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// What a light reading of the header finds: struct bodies and the record type enum.
#[derive(Debug, Default)]
struct HeaderDecls {
    /// `rw_exec` -> field names in declaration order (`_pad` included).
    structs: BTreeMap<String, Vec<String>>,
    /// Constants of `enum rw_type`, in order.
    types: Vec<String>,
}

/// Removes `/* */` and `//` comments and preprocessor lines.
fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("/*") {
            let end = after
                .find("*/")
                .expect("rewind.h has an unterminated /* comment");
            rest = &after[end + 2..];
            out.push(' ');
        } else if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            rest = &rest[end..];
        } else {
            let c = rest.chars().next().expect("rest is not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Field names of one struct body: `__u16 a, b[3]; struct rw_ns ns;` -> `a`, `b`, `ns`.
fn parse_body(body: &str) -> Vec<String> {
    let mut names = Vec::new();
    for decl in body.split(';') {
        let decl = decl.trim();
        if decl.is_empty() {
            continue;
        }
        let mut parts = decl.split(',');
        let first = parts.next().expect("split yields at least one part");
        let first = first
            .split_whitespace()
            .last()
            .expect("a declaration has a declarator");
        for declarator in std::iter::once(first).chain(parts) {
            let name: String = declarator
                .trim()
                .trim_start_matches('*')
                .chars()
                .take_while(|&c| is_ident(c))
                .collect();
            assert!(
                !name.is_empty(),
                "cannot read a field name from `{decl}` in rewind.h"
            );
            names.push(name);
        }
    }
    names
}

/// Finds every `struct NAME { ... };` and the body of `enum rw_type { ... };`.
fn parse_header(src: &str) -> HeaderDecls {
    let text = strip_comments(src);
    let mut decls = HeaderDecls::default();

    let mut rest = text.as_str();
    while let Some(i) = rest.find("struct") {
        let before_ok = rest[..i].chars().next_back().is_none_or(|c| !is_ident(c));
        let after = &rest[i + "struct".len()..];
        let after_ok = after.starts_with(char::is_whitespace);
        if !(before_ok && after_ok) {
            rest = after;
            continue;
        }
        let after = after.trim_start();
        let name_end = after.find(|c: char| !is_ident(c)).unwrap_or(after.len());
        let name = &after[..name_end];
        let tail = after[name_end..].trim_start();
        match tail.strip_prefix('{') {
            Some(body) => {
                let close = body
                    .find('}')
                    .unwrap_or_else(|| panic!("struct {name} in rewind.h has no closing brace"));
                decls
                    .structs
                    .insert(name.to_string(), parse_body(&body[..close]));
                rest = &body[close + 1..];
            }
            None => rest = &after[name_end..],
        }
    }

    let start = text
        .find("enum rw_type")
        .expect("rewind.h declares no `enum rw_type`");
    let enum_text = &text[start..];
    let open = enum_text.find('{').expect("enum rw_type has no body");
    let close = enum_text
        .find('}')
        .expect("enum rw_type has no closing brace");
    for entry in enum_text[open + 1..close].split(',') {
        let name = entry.split('=').next().unwrap_or("").trim();
        if !name.is_empty() {
            decls.types.push(name.to_string());
        }
    }
    decls
}

/// C enum constant of a record type: `RW_` + upper-case snake name.
fn c_const(t: RecordType) -> String {
    format!("RW_{}", t.name().to_ascii_uppercase())
}

/// The probe program: one `S`, `F` or `T` line per fact.
fn c_program(header: &Path, structs: &[(&str, &[String])], types: &[String]) -> String {
    let mut c = String::new();
    writeln!(c, "#include <stddef.h>").expect("write to String");
    writeln!(c, "#include <stdio.h>").expect("write to String");
    writeln!(c, "#include \"{}\"", header.display()).expect("write to String");
    writeln!(c, "int main(void) {{").expect("write to String");
    for (name, fields) in structs {
        writeln!(c, "\tprintf(\"S {name} %zu\\n\", sizeof(struct {name}));")
            .expect("write to String");
        for f in *fields {
            writeln!(
                c,
                "\tprintf(\"F {name} {f} %zu %zu\\n\", offsetof(struct {name}, {f}), \
                 sizeof(((struct {name} *)0)->{f}));"
            )
            .expect("write to String");
        }
    }
    for t in types {
        writeln!(c, "\tprintf(\"T {t} %lld\\n\", (long long){t});").expect("write to String");
    }
    writeln!(c, "\treturn 0;\n}}").expect("write to String");
    c
}

/// What the compiler said.
#[derive(Debug, Default)]
struct CFacts {
    sizes: BTreeMap<String, usize>,
    /// (struct, field) -> (offset, size)
    fields: BTreeMap<(String, String), (usize, usize)>,
    types: BTreeMap<String, i64>,
}

fn parse_output(out: &str) -> CFacts {
    let num = |s: Option<&str>, line: &str| -> usize {
        s.and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad line from the layout probe: {line:?}"))
    };
    let mut facts = CFacts::default();
    for line in out.lines() {
        let mut w = line.split_whitespace();
        match w.next() {
            Some("S") => {
                let s = w.next().expect("S line names a struct").to_string();
                facts.sizes.insert(s, num(w.next(), line));
            }
            Some("F") => {
                let s = w.next().expect("F line names a struct").to_string();
                let f = w.next().expect("F line names a field").to_string();
                let off = num(w.next(), line);
                let size = num(w.next(), line);
                facts.fields.insert((s, f), (off, size));
            }
            Some("T") => {
                let t = w.next().expect("T line names a constant").to_string();
                let v = w
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| panic!("bad line from the layout probe: {line:?}"));
                facts.types.insert(t, v);
            }
            _ => panic!("unexpected line from the layout probe: {line:?}"),
        }
    }
    facts
}

/// Compiles and runs the probe with `$CC` (words split on whitespace) or `cc`.
fn compile_and_run(dir: &Path, source: &str) -> String {
    let cc = std::env::var("CC")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "cc".to_string());
    let mut words = cc.split_whitespace();
    let program = words.next().expect("CC is not blank");
    let src = dir.join("layout_probe.c");
    let exe = dir.join("layout_probe");
    std::fs::write(&src, source).expect("write the probe source into the tempdir");

    let output = Command::new(program)
        .args(words)
        .args(["-std=gnu11", "-Wall", "-Wextra", "-o"])
        .arg(&exe)
        .arg(&src)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run the C compiler `{cc}` ({e}). The layout test needs gcc or clang \
                 and the kernel UAPI headers (<linux/types.h>): run `.ci/setup`, or set CC."
            )
        });
    assert!(
        output.status.success(),
        "the C compiler `{cc}` failed on the layout probe ({}). If <linux/types.h> is \
         missing, run `.ci/setup`.\n--- stderr ---\n{}\n--- probe source ---\n{source}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
    );

    let run = Command::new(&exe)
        .output()
        .expect("run the compiled layout probe");
    assert!(
        run.status.success(),
        "the layout probe exited with {}: {}",
        run.status,
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout).expect("the layout probe prints ASCII")
}

/// Checks that a list of (name, offset, size) tiles `[0, end)` without gaps or overlaps
/// and returns `end`; problems go to `errs`.
fn contiguous_end(
    what: &str,
    strukt: &str,
    mut fields: Vec<(&str, usize, usize)>,
    errs: &mut Vec<String>,
) -> usize {
    fields.sort_by_key(|&(name, off, _)| (off, name));
    let mut end = 0;
    for (name, off, size) in fields {
        if off != end {
            let kind = if off > end { "gap" } else { "overlap" };
            errs.push(format!(
                "{what} struct {strukt}: {kind} before field `{name}`: previous field ends at \
                 {end}, `{name}` starts at {off}"
            ));
        }
        end = end.max(off + size);
    }
    end
}

fn is_pad(field: &str) -> bool {
    field.starts_with("_pad")
}

#[test]
fn header_and_rust_layouts_agree() {
    let header_path = Path::new(rewind_bpf::HEADER_PATH);
    let header_src = std::fs::read_to_string(header_path)
        .unwrap_or_else(|e| panic!("read {}: {e}", header_path.display()));
    let header = parse_header(&header_src);
    let rust: Vec<LayoutInfo> = all_layouts();
    let mut errs: Vec<String> = Vec::new();

    // Which structs and constants exist on both sides.
    let rust_names: BTreeSet<&str> = rust.iter().map(|l| l.c_name).collect();
    assert_eq!(
        rust_names.len(),
        rust.len(),
        "all_layouts() lists a C struct twice"
    );
    for l in &rust {
        if !header.structs.contains_key(l.c_name) {
            errs.push(format!(
                "struct {}: described by rewind-schema but not defined in rewind.h",
                l.c_name
            ));
        }
    }
    for name in header.structs.keys() {
        if !rust_names.contains(name.as_str()) {
            errs.push(format!(
                "struct {name}: defined in rewind.h but missing from rewind_schema::wire::all_layouts()"
            ));
        }
    }
    let rust_types: BTreeMap<String, u16> = RecordType::ALL
        .iter()
        .map(|&t| (c_const(t), t as u16))
        .collect();
    assert_eq!(
        rust_types.len(),
        RecordType::ALL.len(),
        "two record types map to the same C constant"
    );
    for t in rust_types.keys() {
        if !header.types.contains(t) {
            errs.push(format!(
                "{t}: a RecordType in rewind-schema but not a constant of enum rw_type"
            ));
        }
    }
    for t in &header.types {
        if !rust_types.contains_key(t) {
            errs.push(format!(
                "{t}: a constant of enum rw_type with no RecordType in rewind-schema"
            ));
        }
    }

    // Rust fields the header does not declare cannot be probed; everything else is.
    let mut probe: Vec<(&str, Vec<String>)> = Vec::new();
    for l in &rust {
        let Some(c_fields) = header.structs.get(l.c_name) else {
            continue;
        };
        for f in &l.fields {
            if !c_fields.iter().any(|c| c == f.name) {
                errs.push(format!(
                    "struct {}: field `{}` (Rust offset {}, size {}) is not declared in rewind.h",
                    l.c_name, f.name, f.offset, f.size
                ));
            }
        }
        for c in c_fields {
            if !is_pad(c) && !l.fields.iter().any(|f| f.name == c) {
                errs.push(format!(
                    "struct {}: C field `{c}` is not decoded by rewind-schema (only `_pad*` \
                     fields may be skipped)",
                    l.c_name
                ));
            }
        }
        probe.push((l.c_name, c_fields.clone()));
    }
    let probe_refs: Vec<(&str, &[String])> =
        probe.iter().map(|(n, f)| (*n, f.as_slice())).collect();
    let probe_types: Vec<String> = rust_types
        .keys()
        .filter(|t| header.types.contains(t))
        .cloned()
        .collect();

    let dir = tempfile::tempdir().expect("create a tempdir for the layout probe");
    let source = c_program(header_path, &probe_refs, &probe_types);
    let c = parse_output(&compile_and_run(dir.path(), &source));

    // Compare sizes and offsets.
    let mut layouts_compared = 0;
    let mut fields_compared = 0;
    for l in &rust {
        let Some(&c_size) = c.sizes.get(l.c_name) else {
            continue;
        };
        layouts_compared += 1;
        if c_size != l.size {
            errs.push(format!(
                "struct {}: sizeof is {c_size} in C, {} in Rust",
                l.c_name, l.size
            ));
        }
        for f in &l.fields {
            let key = (l.c_name.to_string(), f.name.to_string());
            let Some(&(c_off, c_fsize)) = c.fields.get(&key) else {
                continue;
            };
            fields_compared += 1;
            if c_off != f.offset {
                errs.push(format!(
                    "struct {}: field `{}` offset is {c_off} in C, {} in Rust",
                    l.c_name, f.name, f.offset
                ));
            }
            if c_fsize != f.size {
                errs.push(format!(
                    "struct {}: field `{}` size is {c_fsize} in C, {} in Rust",
                    l.c_name, f.name, f.size
                ));
            }
        }

        // C: the declared fields, `_pad` included, tile the struct (no implicit padding).
        let c_fields: Vec<(&str, usize, usize)> = c
            .fields
            .iter()
            .filter(|((s, _), _)| s == l.c_name)
            .map(|((_, f), &(off, size))| (f.as_str(), off, size))
            .collect();
        let c_end = contiguous_end("C", l.c_name, c_fields, &mut errs);
        if c_end != c_size {
            errs.push(format!(
                "C struct {}: fields end at {c_end} but sizeof is {c_size}: implicit trailing \
                 padding (add an explicit `_pad`)",
                l.c_name
            ));
        }

        // Rust: contiguous; only a record struct may leave trailing padding (< 8 bytes, up
        // to its 8-byte alignment); nested structs and the header are exact.
        let rust_fields = l
            .fields
            .iter()
            .map(|f| (f.name, f.offset, f.size))
            .collect();
        let r_end = contiguous_end("Rust", l.c_name, rust_fields, &mut errs);
        let is_record = l.fields.iter().any(|f| f.name == "hdr" && f.offset == 0);
        let slack = if is_record { 7 } else { 0 };
        if r_end > l.size || l.size - r_end > slack {
            errs.push(format!(
                "Rust struct {}: fields end at {r_end}, size is {} (allowed trailing padding: \
                 {slack})",
                l.c_name, l.size
            ));
        }
        if is_record && l.size % 8 != 0 {
            errs.push(format!(
                "struct {}: size {} is not a multiple of 8",
                l.c_name, l.size
            ));
        }
    }

    // Compare record type numbers.
    let mut types_compared = 0;
    for (name, &rust_val) in &rust_types {
        let Some(&c_val) = c.types.get(name) else {
            continue;
        };
        types_compared += 1;
        if c_val != i64::from(rust_val) {
            errs.push(format!(
                "{name}: value is {c_val:#06x} in C, {rust_val:#06x} in Rust"
            ));
        }
    }

    assert!(
        errs.is_empty(),
        "rewind.h and rewind-schema disagree ({} problems):\n  {}",
        errs.len(),
        errs.join("\n  ")
    );

    // The comparison must not be vacuous.
    assert!(
        layouts_compared >= 30 && layouts_compared == rust.len(),
        "only {layouts_compared} of {} layouts were compared",
        rust.len()
    );
    let rust_field_count: usize = rust.iter().map(|l| l.fields.len()).sum();
    assert_eq!(
        fields_compared, rust_field_count,
        "not every Rust field was compared"
    );
    assert!(
        fields_compared >= 150,
        "only {fields_compared} fields compared"
    );
    assert_eq!(
        types_compared,
        RecordType::ALL.len(),
        "not every record type was compared"
    );
}

#[test]
fn header_reader_handles_the_header_idioms() {
    let src = "/* c */ #define X 1\nstruct rw_a {\n\tstruct rw_hdr hdr; /* x; y */\n\
               \t__u32 uid, gid,\n\t  euid;\n\tchar comm[RW_COMM_LEN];\n\t__u16 _pad[3];\n};\n\
               enum rw_type {\n\tRW_A = 0x0101,\n\t/* b */\n\tRW_B = 2,\n};\n\
               struct rw_b { struct rw_a a; };";
    let d = parse_header(src);
    assert_eq!(
        d.structs.get("rw_a").expect("rw_a parsed"),
        &["hdr", "uid", "gid", "euid", "comm", "_pad"]
    );
    assert_eq!(d.structs.get("rw_b").expect("rw_b parsed"), &["a"]);
    assert_eq!(d.structs.len(), 2, "struct uses are not definitions");
    assert_eq!(d.types, ["RW_A", "RW_B"]);
}

#[test]
fn mismatch_checks_are_live() {
    // A deliberate gap and overlap must be reported.
    let mut errs = Vec::new();
    let end = contiguous_end(
        "Rust",
        "rw_x",
        vec![("a", 0, 4), ("b", 8, 4), ("c", 10, 2)],
        &mut errs,
    );
    assert_eq!(end, 12);
    assert_eq!(errs.len(), 2, "{errs:?}");
    assert!(errs[0].contains("gap before field `b`"), "{errs:?}");
    assert!(errs[1].contains("overlap before field `c`"), "{errs:?}");
}
