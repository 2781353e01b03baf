//! Compiles `src/rewind.bpf.c` (which includes every family's `*.bpf.c`) and
//! `src/probe.bpf.c` with clang and generates their libbpf-rs skeletons. Needs clang and libelf (`.ci/setup` installs them).

use libbpf_cargo::SkeletonBuilder;
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let arch = match std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("x86_64") => "x86",
        Ok("aarch64") => "arm64",
        Ok(other) => panic!("unsupported architecture {other}"),
        Err(_) => "x86",
    };
    // The recorder's object, and the probe object (programs that do nothing, loaded alone
    // at start to learn which program types this kernel allows).
    for (src, skel) in [
        ("rewind.bpf.c", "rewind.skel.rs"),
        ("probe.bpf.c", "probe.skel.rs"),
        ("enforce.bpf.c", "enforce.skel.rs"),
    ] {
        let res = SkeletonBuilder::new()
            .source(dir.join("src").join(src))
            .clang_args([
                format!("-I{}", dir.join("src").display()),
                format!("-I{}", dir.join("include").display()),
                format!("-D__TARGET_ARCH_{arch}"),
                "-Wall".into(),
                "-Wno-unused-function".into(),
            ])
            .build_and_generate(out_dir.join(skel));
        if let Err(e) = res {
            panic!("building the BPF programs ({src}) failed (is clang installed? run .ci/setup): {e:#}");
        }
    }
    for entry in std::fs::read_dir(dir.join("src")).expect("src").flatten() {
        let p = entry.path();
        if p.extension().is_some_and(|e| e == "c" || e == "h") {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
    println!(
        "cargo:rerun-if-changed={}",
        dir.join("include/rewind.h").display()
    );
}
