//! The wire tier: fixed record layouts exactly as `bpf/include/rewind.h` defines them.
//!
//! Every record is little-endian, naturally aligned, without implicit padding, and starts
//! with the 24-byte [`RecordHeader`]. Each layout is declared once with [`layout!`], which
//! yields the owned struct (the event tier uses it directly), its decoder, its encoder (for
//! `TraceBuilder` and the recorder's userspace records) and a field table that
//! `bpf/tests/layout.rs` checks against the C compiler's `offsetof`.

use serde::{Deserialize, Serialize};
use std::fmt;

pub mod cred;
pub mod enforce;
pub mod exec;
pub mod file;
pub mod kernel;
pub mod net;
pub mod recorder;

pub use cred::{Capset, Cred, Creds};
pub use enforce::Enforce;
pub use exec::{Exec, Exit, Fork, Namespaces};
pub use file::{Chmod, Chown, Open, Rename, Unlink};
pub use kernel::{BpfLoad, Memfd, MmapExec, ModuleLoad, Mount, Namespace, Ptrace, Signal, Umount};
pub use net::{Accept, Bind, ConnResult, Connect, Listen, Snippet, Sock, SockClose, Udp};
pub use recorder::{JsonRecord, Loss, SegmentHeaderRecord, FORMAT_MAGIC};

/// Size of [`RecordHeader`] on the wire.
pub const HDR_SIZE: usize = 24;
/// Largest record a reader accepts (a sanity bound against corrupt sizes).
pub const MAX_RECORD_SIZE: usize = 16 << 20;

/// A record that could not be decoded. Never fatal to a whole trace: the reader reports
/// it and moves on to the next record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer bytes than the fixed part of the layout.
    #[error("{layout} record is {have} bytes, its fixed part needs {need}")]
    Short {
        /// C struct name.
        layout: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// A variable-length field runs past the end of the record.
    #[error("{layout}.{field}: {len} bytes at offset {offset} run past the record end ({size})")]
    TailOverflow {
        /// C struct name.
        layout: &'static str,
        /// Field name.
        field: &'static str,
        /// Claimed length.
        len: usize,
        /// Where the field starts.
        offset: usize,
        /// Record size.
        size: usize,
    },
    /// A type number this version does not know.
    #[error("unknown record type {0:#06x}")]
    UnknownType(u16),
    /// The JSON body of a userspace record is invalid.
    #[error("{layout}: invalid JSON body: {reason}")]
    Json {
        /// C struct name.
        layout: &'static str,
        /// serde_json's message.
        reason: String,
    },
}

/// A record that could not be encoded (a field too long for its length prefix).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A variable-length field is longer than 65535 bytes.
    #[error("{layout}.{field} is {len} bytes; at most 65535 fit")]
    TooLong {
        /// C struct name.
        layout: &'static str,
        /// Field name.
        field: &'static str,
        /// Its length.
        len: usize,
    },
}

/// The common header of every record (`struct rw_hdr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RecordHeader {
    /// Record type number (`enum rw_type`).
    pub rtype: u16,
    /// CPU that emitted the record.
    pub cpu: u16,
    /// Whole record size in bytes.
    pub size: u32,
    /// CLOCK_BOOTTIME nanoseconds.
    pub ts: u64,
    /// Thread-group id of the acting task.
    pub pid: u32,
    /// Thread id of the acting task.
    pub tid: u32,
}

impl RecordHeader {
    /// Parses the first 24 bytes; `None` if fewer are given.
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < HDR_SIZE {
            return None;
        }
        Some(RecordHeader {
            rtype: u16::read(&b[0..]),
            cpu: u16::read(&b[2..]),
            size: u32::read(&b[4..]),
            ts: u64::read(&b[8..]),
            pid: u32::read(&b[16..]),
            tid: u32::read(&b[20..]),
        })
    }

    /// Appends the 24 header bytes.
    pub fn write(&self, out: &mut Vec<u8>) {
        self.rtype.write(out);
        self.cpu.write(out);
        self.size.write(out);
        self.ts.write(out);
        self.pid.write(out);
        self.tid.write(out);
    }
}

/// Rounds up to a multiple of 8, the alignment of every record struct.
pub const fn pad8(n: usize) -> usize {
    (n + 7) & !7
}

/// Copies the first `N` bytes of `b` into an array. Callers check lengths first.
fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[..N]);
    a
}

/// A fixed-size little-endian field.
pub trait Fixed: Sized {
    /// Bytes on the wire.
    const SIZE: usize;
    /// Reads from the first `SIZE` bytes of `b`.
    fn read(b: &[u8]) -> Self;
    /// Appends `SIZE` bytes.
    fn write(&self, out: &mut Vec<u8>);
    /// Nested C struct layout, for fields that are structs themselves.
    fn nested() -> Option<LayoutInfo> {
        None
    }
}

macro_rules! fixed_int {
    ($($t:ty),*) => {$(
        impl Fixed for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            fn read(b: &[u8]) -> Self {
                <$t>::from_le_bytes(arr(b))
            }
            fn write(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
fixed_int!(u8, u16, u32, u64, i32, i64);

impl Fixed for [u8; 16] {
    const SIZE: usize = 16;
    fn read(b: &[u8]) -> Self {
        arr(b)
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}

/// A variable-length field stored in the record tail, announced by a `u16` length.
pub trait Var: Sized {
    /// Decodes the field from exactly its stored bytes.
    fn decode(b: &[u8]) -> Self;
    /// Bytes the field will occupy.
    fn encoded_len(&self) -> usize;
    /// Appends the stored bytes.
    fn encode(&self, out: &mut Vec<u8>);
}

/// Bytes from the kernel (a path, a name, a payload): not necessarily UTF-8. Shown lossily
/// with control characters escaped, never unwrapped.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteString(pub Vec<u8>);

impl ByteString {
    /// The lossy UTF-8 view, control and bidi characters escaped ([`crate::text::escape`])
    /// so that a hostile value cannot forge extra lines, terminal escapes or reordered text.
    pub fn display(&self) -> String {
        crate::text::escape_bytes(&self.0)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for ByteString {
    fn from(s: &str) -> Self {
        ByteString(s.as_bytes().to_vec())
    }
}

impl From<Vec<u8>> for ByteString {
    fn from(v: Vec<u8>) -> Self {
        ByteString(v)
    }
}

impl From<String> for ByteString {
    fn from(s: String) -> Self {
        ByteString(s.into_bytes())
    }
}

impl fmt::Debug for ByteString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

impl fmt::Display for ByteString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

impl Serialize for ByteString {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(&self.0) {
            Ok(text) => s.serialize_str(text),
            // Lossy, but keeps JSON valid; the raw bytes stay in the trace.
            Err(_) => s.serialize_str(&String::from_utf8_lossy(&self.0)),
        }
    }
}

impl<'de> Deserialize<'de> for ByteString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ByteString(String::deserialize(d)?.into_bytes()))
    }
}

impl Var for ByteString {
    fn decode(b: &[u8]) -> Self {
        // The kernel's *_str helpers count the terminating NUL; it is not part of the value.
        let b = b.strip_suffix(&[0]).unwrap_or(b);
        ByteString(b.to_vec())
    }
    fn encoded_len(&self) -> usize {
        self.0.len() + usize::from(self.0.last() == Some(&0))
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
        // A value that itself ends in NUL gets a terminator, so decoding strips only that.
        if self.0.last() == Some(&0) {
            out.push(0);
        }
    }
}

/// Raw payload bytes (a snippet of a connection, a DNS datagram): stored and decoded
/// exactly, NULs included. JSON shows them as an ASCII string with `\xNN` escapes.
#[derive(Clone, PartialEq, Eq, Hash, Default, Debug)]
pub struct Payload(pub Vec<u8>);

impl Payload {
    /// Escaped text: printable ASCII kept, everything else as `\n`, `\xNN`, ...
    pub fn escaped(&self) -> String {
        self.0.escape_ascii().to_string()
    }
}

impl From<&str> for Payload {
    fn from(s: &str) -> Self {
        Payload(s.as_bytes().to_vec())
    }
}

impl Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.escaped())
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        unescape_ascii(&s)
            .map(Payload)
            .map_err(serde::de::Error::custom)
    }
}

/// Inverse of `<[u8]>::escape_ascii`.
fn unescape_ascii(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = *b.get(i + 1).ok_or("dangling backslash")?;
        i += 2;
        out.push(match c {
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'\\' | b'\'' | b'"' => c,
            b'x' => {
                let h = s.get(i..i + 2).ok_or("short \\x escape")?;
                i += 2;
                u8::from_str_radix(h, 16).map_err(|e| format!("\\x{h}: {e}"))?
            }
            _ => return Err(format!("unknown escape \\{}", c as char)),
        });
    }
    Ok(out)
}

impl Var for Payload {
    fn decode(b: &[u8]) -> Self {
        Payload(b.to_vec())
    }
    fn encoded_len(&self) -> usize {
        self.0.len()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

/// An argument vector, stored as the kernel keeps it: every argument followed by a NUL.
/// A final fragment without its NUL (cut by the argv limit) is kept as the last argument.
#[derive(Clone, PartialEq, Eq, Default, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Argv(pub Vec<ByteString>);

impl Var for Argv {
    fn decode(b: &[u8]) -> Self {
        let mut args = Vec::new();
        let mut rest = b;
        while !rest.is_empty() {
            match rest.iter().position(|&c| c == 0) {
                Some(i) => {
                    args.push(ByteString(rest[..i].to_vec()));
                    rest = &rest[i + 1..];
                }
                None => {
                    args.push(ByteString(rest.to_vec()));
                    rest = &[];
                }
            }
        }
        Argv(args)
    }
    fn encoded_len(&self) -> usize {
        self.0.iter().map(|a| a.0.len() + 1).sum()
    }
    fn encode(&self, out: &mut Vec<u8>) {
        for a in &self.0 {
            out.extend_from_slice(&a.0);
            out.push(0);
        }
    }
}

impl Argv {
    /// The command line as one string, arguments separated by spaces (lossy).
    pub fn joined(&self) -> String {
        self.0
            .iter()
            .map(ByteString::display)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A task or program name: 16 bytes, NUL-padded (`TASK_COMM_LEN`).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Comm(pub [u8; 16]);

impl Comm {
    /// The name up to the first NUL.
    pub fn as_bytes(&self) -> &[u8] {
        let end = self.0.iter().position(|&c| c == 0).unwrap_or(16);
        &self.0[..end]
    }
    /// Lossy text.
    pub fn display(&self) -> String {
        ByteString(self.as_bytes().to_vec()).display()
    }
    /// Builds from text, cut at 15 bytes like the kernel does.
    pub fn new(name: &str) -> Self {
        let mut a = [0u8; 16];
        let n = name.len().min(15);
        a[..n].copy_from_slice(&name.as_bytes()[..n]);
        Comm(a)
    }
}

impl fmt::Debug for Comm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.display())
    }
}

impl Serialize for Comm {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

impl<'de> Deserialize<'de> for Comm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Comm::new(&String::deserialize(d)?))
    }
}

impl Fixed for Comm {
    const SIZE: usize = 16;
    fn read(b: &[u8]) -> Self {
        Comm(arr(b))
    }
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

/// One field of a C struct: name, offset and size, for the layout test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    /// Field name, as in the C header.
    pub name: &'static str,
    /// Offset from the start of the struct.
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
}

/// A C struct's layout as the Rust side sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutInfo {
    /// `struct` name in `rewind.h`.
    pub c_name: &'static str,
    /// `sizeof`.
    pub size: usize,
    /// Every named field (the header is checked as `hdr`).
    pub fields: Vec<FieldInfo>,
}

/// A record layout: decoder, encoder and field table, generated by [`layout!`].
pub trait Layout: Sized {
    /// `struct` name in `rewind.h`.
    const C_NAME: &'static str;
    /// Size of the fixed part, header included (`sizeof` of the C struct).
    const FIXED_SIZE: usize;
    /// Decodes a whole record (header included).
    fn decode(rec: &[u8]) -> Result<Self, DecodeError>;
    /// Appends everything after the header: fixed fields, lengths, padding, tail.
    fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), EncodeError>;
    /// The field table.
    fn layout() -> LayoutInfo;
}

/// Declares a record layout. Fields are listed in C order; variable-length fields get a
/// `u16 <name>_len` after the fixed fields, then padding up to a multiple of 8, then
/// their bytes in order.
macro_rules! layout {
    (
        $(#[$meta:meta])*
        $name:ident = $cname:literal {
            $( $(#[$fmeta:meta])* $field:ident : $fty:ty ),* $(,)?
        }
        $( var { $( $(#[$vmeta:meta])* $vfield:ident : $vty:ty ),* $(,)? } )?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $fty, )*
            $( $( $(#[$vmeta])* pub $vfield: $vty, )* )?
        }

        impl $crate::wire::Layout for $name {
            const C_NAME: &'static str = $cname;
            const FIXED_SIZE: usize = $crate::wire::pad8(
                $crate::wire::HDR_SIZE
                $( + <$fty as $crate::wire::Fixed>::SIZE )*
                $( $( + { let _ = stringify!($vfield); 2 } )* )?
            );

            #[allow(unused_assignments, unused_mut, unused_variables)]
            fn decode(rec: &[u8]) -> Result<Self, $crate::wire::DecodeError> {
                #[allow(unused_imports)]
                use $crate::wire::{Fixed, Var};
                if rec.len() < Self::FIXED_SIZE {
                    return Err($crate::wire::DecodeError::Short {
                        layout: $cname,
                        need: Self::FIXED_SIZE,
                        have: rec.len(),
                    });
                }
                let mut off = $crate::wire::HDR_SIZE;
                $(
                    let $field = <$fty as Fixed>::read(&rec[off..]);
                    off += <$fty as Fixed>::SIZE;
                )*
                let mut tail = Self::FIXED_SIZE;
                $( $(
                    let len = u16::read(&rec[off..]) as usize;
                    off += 2;
                    if tail + len > rec.len() {
                        return Err($crate::wire::DecodeError::TailOverflow {
                            layout: $cname,
                            field: stringify!($vfield),
                            len,
                            offset: tail,
                            size: rec.len(),
                        });
                    }
                    let $vfield = <$vty as Var>::decode(&rec[tail..tail + len]);
                    tail += len;
                )* )?
                Ok(Self { $( $field, )* $( $( $vfield, )* )? })
            }

            fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), $crate::wire::EncodeError> {
                #[allow(unused_imports)]
                use $crate::wire::{Fixed, Var};
                let start = out.len() - $crate::wire::HDR_SIZE;
                $( Fixed::write(&self.$field, out); )*
                $( $(
                    let len = self.$vfield.encoded_len();
                    let len = u16::try_from(len).map_err(|_| $crate::wire::EncodeError::TooLong {
                        layout: $cname,
                        field: stringify!($vfield),
                        len,
                    })?;
                    len.write(out);
                )* )?
                out.resize(start + Self::FIXED_SIZE, 0);
                $( $( self.$vfield.encode(out); )* )?
                Ok(())
            }

            #[allow(unused_mut, unused_assignments)]
            fn layout() -> $crate::wire::LayoutInfo {
                use $crate::wire::{FieldInfo, Fixed};
                let mut fields = vec![FieldInfo {
                    name: "hdr",
                    offset: 0,
                    size: $crate::wire::HDR_SIZE,
                }];
                let mut off = $crate::wire::HDR_SIZE;
                $(
                    fields.push(FieldInfo {
                        name: stringify!($field),
                        offset: off,
                        size: <$fty as Fixed>::SIZE,
                    });
                    off += <$fty as Fixed>::SIZE;
                )*
                $( $(
                    fields.push(FieldInfo {
                        name: concat!(stringify!($vfield), "_len"),
                        offset: off,
                        size: 2,
                    });
                    off += 2;
                )* )?
                $crate::wire::LayoutInfo { c_name: $cname, size: Self::FIXED_SIZE, fields }
            }
        }
    };
}

/// Declares a plain struct that is a fixed field of other records (`struct rw_ns`, ...).
macro_rules! nested {
    (
        $(#[$meta:meta])*
        $name:ident = $cname:literal { $( $(#[$fmeta:meta])* $field:ident : $fty:ty ),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, serde::Serialize, serde::Deserialize)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $fty, )*
        }

        impl $crate::wire::Fixed for $name {
            const SIZE: usize = 0 $( + <$fty as $crate::wire::Fixed>::SIZE )*;
            #[allow(unused_assignments)]
            fn read(b: &[u8]) -> Self {
                let mut off = 0;
                $(
                    let $field = <$fty as $crate::wire::Fixed>::read(&b[off..]);
                    off += <$fty as $crate::wire::Fixed>::SIZE;
                )*
                Self { $( $field, )* }
            }
            fn write(&self, out: &mut Vec<u8>) {
                $( $crate::wire::Fixed::write(&self.$field, out); )*
            }
            fn nested() -> Option<$crate::wire::LayoutInfo> {
                let mut fields = Vec::new();
                let mut off = 0;
                $(
                    fields.push($crate::wire::FieldInfo {
                        name: stringify!($field),
                        offset: off,
                        size: <$fty as $crate::wire::Fixed>::SIZE,
                    });
                    off += <$fty as $crate::wire::Fixed>::SIZE;
                )*
                Some($crate::wire::LayoutInfo { c_name: $cname, size: off, fields })
            }
        }
    };
}

pub(crate) use layout;
pub(crate) use nested;

/// Every record layout and nested struct, for the C layout test in `bpf/`.
pub fn all_layouts() -> Vec<LayoutInfo> {
    let mut v = vec![
        Exec::layout(),
        Fork::layout(),
        Exit::layout(),
        Open::layout(),
        Unlink::layout(),
        Rename::layout(),
        Chmod::layout(),
        Chown::layout(),
        Connect::layout(),
        Accept::layout(),
        Listen::layout(),
        Bind::layout(),
        SockClose::layout(),
        ConnResult::layout(),
        Udp::layout(),
        Snippet::layout(),
        Cred::layout(),
        Capset::layout(),
        Namespace::layout(),
        Mount::layout(),
        Umount::layout(),
        Ptrace::layout(),
        ModuleLoad::layout(),
        BpfLoad::layout(),
        Memfd::layout(),
        Signal::layout(),
        MmapExec::layout(),
        Enforce::layout(),
        Loss::layout(),
        SegmentHeaderRecord::layout(),
        JsonRecord::layout(),
    ];
    v.extend(Namespaces::nested());
    v.extend(Sock::nested());
    v.extend(Creds::nested());
    v.push(LayoutInfo {
        c_name: "rw_hdr",
        size: HDR_SIZE,
        fields: vec![
            FieldInfo {
                name: "type",
                offset: 0,
                size: 2,
            },
            FieldInfo {
                name: "cpu",
                offset: 2,
                size: 2,
            },
            FieldInfo {
                name: "size",
                offset: 4,
                size: 4,
            },
            FieldInfo {
                name: "ts",
                offset: 8,
                size: 8,
            },
            FieldInfo {
                name: "pid",
                offset: 16,
                size: 4,
            },
            FieldInfo {
                name: "tid",
                offset: 20,
                size: 4,
            },
        ],
    });
    v
}
