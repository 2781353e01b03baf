//! The event tier: owned, serde-able events decoded from raw records, and the one
//! exhaustive `match` that maps type numbers to decoders and back.

use crate::snapshot::ProcessSnapshot;
use crate::wire::{self, DecodeError, EncodeError, Layout, RecordHeader, HDR_SIZE};
use serde::{Deserialize, Serialize};

macro_rules! record_types {
    ($( $(#[$m:meta])* $variant:ident = $num:literal, $name:literal; )*) => {
        /// Every record type number (`enum rw_type` in `bpf/include/rewind.h`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[repr(u16)]
        pub enum RecordType {
            $( $(#[$m])* $variant = $num, )*
        }

        impl RecordType {
            /// Every type, in number order.
            pub const ALL: &'static [RecordType] = &[ $( RecordType::$variant, )* ];

            /// The type for a number, `None` when this version does not know it.
            pub fn from_u16(n: u16) -> Option<Self> {
                match n {
                    $( $num => Some(RecordType::$variant), )*
                    _ => None,
                }
            }

            /// The snake_case name, as in `--type` filters and JSON (`RW_` + upper case in C).
            pub fn name(self) -> &'static str {
                match self {
                    $( RecordType::$variant => $name, )*
                }
            }
        }
    };
}

record_types! {
    /// Process image replaced.
    Exec = 0x0101, "exec";
    /// Process or thread created.
    Fork = 0x0102, "fork";
    /// Task exited.
    Exit = 0x0103, "exit";
    /// File opened.
    Open = 0x0201, "open";
    /// File removed.
    Unlink = 0x0202, "unlink";
    /// File renamed.
    Rename = 0x0203, "rename";
    /// Mode changed.
    Chmod = 0x0204, "chmod";
    /// Owner changed.
    Chown = 0x0205, "chown";
    /// Outgoing connection.
    Connect = 0x0301, "connect";
    /// Incoming connection.
    Accept = 0x0302, "accept";
    /// Listening socket.
    Listen = 0x0303, "listen";
    /// Bound socket.
    Bind = 0x0304, "bind";
    /// Connection closed.
    SockClose = 0x0305, "sock_close";
    /// UDP datagram sent.
    UdpSend = 0x0306, "udp_send";
    /// UDP datagram received.
    UdpRecv = 0x0307, "udp_recv";
    /// Payload snippet.
    Snippet = 0x0308, "snippet";
    /// DNS datagram.
    Dns = 0x0309, "dns";
    /// How a TCP connect ended (established, refused, timed out, ...).
    ConnResult = 0x030a, "conn_result";
    /// Credentials changed.
    Cred = 0x0401, "cred";
    /// Capabilities changed.
    Capset = 0x0402, "capset";
    /// Namespace change.
    Namespace = 0x0501, "namespace";
    /// Mount.
    Mount = 0x0502, "mount";
    /// Unmount.
    Umount = 0x0503, "umount";
    /// ptrace.
    Ptrace = 0x0504, "ptrace";
    /// Kernel module load.
    ModuleLoad = 0x0505, "module_load";
    /// bpf() program load.
    BpfLoad = 0x0506, "bpf_load";
    /// memfd_create.
    Memfd = 0x0507, "memfd";
    /// Signal sent.
    Signal = 0x0508, "signal";
    /// Executable mapping.
    MmapExec = 0x0509, "mmap_exec";
    /// Enforcement action.
    Enforce = 0x0601, "enforce";
    /// Segment header (userspace).
    SegmentHeader = 0xf001, "segment_header";
    /// Process snapshot (userspace).
    ProcessSnapshot = 0xf002, "process_snapshot";
    /// Loss marker (userspace).
    Loss = 0xf003, "loss";
    /// Segment footer (userspace).
    SegmentFooter = 0xf004, "segment_footer";
}

impl RecordType {
    /// Whether a record of this type is an *event*: something the kernel saw happen
    /// (types below `0xf000`). The recorder's own records (segment headers and footers,
    /// process snapshots, loss markers, family `0xf0xx`) are records but not events.
    ///
    /// This is the one definition of "event" every count uses (`info`, `stats`, `ingest`,
    /// `report`); where the other records are counted too, they are named "records".
    pub fn is_event(self) -> bool {
        (self as u16) < 0xf000
    }
}

/// One decoded event: the common header fields and what happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// CLOCK_BOOTTIME nanoseconds.
    pub ts: u64,
    /// CPU that emitted it.
    pub cpu: u16,
    /// Thread-group id.
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened. Segment headers and footers are not events: the reader keeps them as
/// segment metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum EventKind {
    Exec(Box<wire::Exec>),
    Fork(wire::Fork),
    Exit(wire::Exit),
    Open(wire::Open),
    Unlink(wire::Unlink),
    Rename(wire::Rename),
    Chmod(wire::Chmod),
    Chown(wire::Chown),
    Connect(wire::Connect),
    Accept(wire::Accept),
    Listen(wire::Listen),
    Bind(wire::Bind),
    SockClose(wire::SockClose),
    UdpSend(wire::Udp),
    UdpRecv(wire::Udp),
    Snippet(wire::Snippet),
    Dns(wire::Snippet),
    /// How a TCP connect ended.
    ConnResult(wire::ConnResult),
    Cred(wire::Cred),
    Capset(wire::Capset),
    Namespace(wire::Namespace),
    Mount(wire::Mount),
    Umount(wire::Umount),
    Ptrace(wire::Ptrace),
    ModuleLoad(wire::ModuleLoad),
    BpfLoad(wire::BpfLoad),
    Memfd(wire::Memfd),
    Signal(wire::Signal),
    MmapExec(wire::MmapExec),
    Enforce(wire::Enforce),
    ProcessSnapshot(Box<ProcessSnapshot>),
    Loss(wire::Loss),
}

impl EventKind {
    /// The record type this event is stored as.
    pub fn record_type(&self) -> RecordType {
        use EventKind as K;
        use RecordType as T;
        match self {
            K::Exec(_) => T::Exec,
            K::Fork(_) => T::Fork,
            K::Exit(_) => T::Exit,
            K::Open(_) => T::Open,
            K::Unlink(_) => T::Unlink,
            K::Rename(_) => T::Rename,
            K::Chmod(_) => T::Chmod,
            K::Chown(_) => T::Chown,
            K::Connect(_) => T::Connect,
            K::Accept(_) => T::Accept,
            K::Listen(_) => T::Listen,
            K::Bind(_) => T::Bind,
            K::SockClose(_) => T::SockClose,
            K::UdpSend(_) => T::UdpSend,
            K::UdpRecv(_) => T::UdpRecv,
            K::Snippet(_) => T::Snippet,
            K::Dns(_) => T::Dns,
            K::ConnResult(_) => T::ConnResult,
            K::Cred(_) => T::Cred,
            K::Capset(_) => T::Capset,
            K::Namespace(_) => T::Namespace,
            K::Mount(_) => T::Mount,
            K::Umount(_) => T::Umount,
            K::Ptrace(_) => T::Ptrace,
            K::ModuleLoad(_) => T::ModuleLoad,
            K::BpfLoad(_) => T::BpfLoad,
            K::Memfd(_) => T::Memfd,
            K::Signal(_) => T::Signal,
            K::MmapExec(_) => T::MmapExec,
            K::Enforce(_) => T::Enforce,
            K::ProcessSnapshot(_) => T::ProcessSnapshot,
            K::Loss(_) => T::Loss,
        }
    }
}

/// Decodes one whole record (header included) into an event.
///
/// Segment headers and footers are refused with `UnknownType`-like errors by design:
/// they are metadata, read by [`crate::reader::SegmentReader`].
pub fn decode(rec: &[u8]) -> Result<Event, DecodeError> {
    let hdr = RecordHeader::parse(rec).ok_or(DecodeError::Short {
        layout: "rw_hdr",
        need: HDR_SIZE,
        have: rec.len(),
    })?;
    use EventKind as K;
    use RecordType as T;
    let t = RecordType::from_u16(hdr.rtype).ok_or(DecodeError::UnknownType(hdr.rtype))?;
    let kind = match t {
        T::Exec => K::Exec(Box::new(wire::Exec::decode(rec)?)),
        T::Fork => K::Fork(wire::Fork::decode(rec)?),
        T::Exit => K::Exit(wire::Exit::decode(rec)?),
        T::Open => K::Open(wire::Open::decode(rec)?),
        T::Unlink => K::Unlink(wire::Unlink::decode(rec)?),
        T::Rename => K::Rename(wire::Rename::decode(rec)?),
        T::Chmod => K::Chmod(wire::Chmod::decode(rec)?),
        T::Chown => K::Chown(wire::Chown::decode(rec)?),
        T::Connect => K::Connect(wire::Connect::decode(rec)?),
        T::Accept => K::Accept(wire::Accept::decode(rec)?),
        T::Listen => K::Listen(wire::Listen::decode(rec)?),
        T::Bind => K::Bind(wire::Bind::decode(rec)?),
        T::SockClose => K::SockClose(wire::SockClose::decode(rec)?),
        T::UdpSend => K::UdpSend(wire::Udp::decode(rec)?),
        T::UdpRecv => K::UdpRecv(wire::Udp::decode(rec)?),
        T::Snippet => K::Snippet(wire::Snippet::decode(rec)?),
        T::Dns => K::Dns(wire::Snippet::decode(rec)?),
        T::ConnResult => K::ConnResult(wire::ConnResult::decode(rec)?),
        T::Cred => K::Cred(wire::Cred::decode(rec)?),
        T::Capset => K::Capset(wire::Capset::decode(rec)?),
        T::Namespace => K::Namespace(wire::Namespace::decode(rec)?),
        T::Mount => K::Mount(wire::Mount::decode(rec)?),
        T::Umount => K::Umount(wire::Umount::decode(rec)?),
        T::Ptrace => K::Ptrace(wire::Ptrace::decode(rec)?),
        T::ModuleLoad => K::ModuleLoad(wire::ModuleLoad::decode(rec)?),
        T::BpfLoad => K::BpfLoad(wire::BpfLoad::decode(rec)?),
        T::Memfd => K::Memfd(wire::Memfd::decode(rec)?),
        T::Signal => K::Signal(wire::Signal::decode(rec)?),
        T::MmapExec => K::MmapExec(wire::MmapExec::decode(rec)?),
        T::Enforce => K::Enforce(wire::Enforce::decode(rec)?),
        T::Loss => K::Loss(wire::Loss::decode(rec)?),
        T::ProcessSnapshot => {
            let body = wire::JsonRecord::decode(rec)?;
            let snap = serde_json::from_slice(&body.json).map_err(|e| DecodeError::Json {
                layout: "rw_json",
                reason: e.to_string(),
            })?;
            K::ProcessSnapshot(Box::new(snap))
        }
        T::SegmentHeader | T::SegmentFooter => return Err(DecodeError::UnknownType(hdr.rtype)),
    };
    Ok(Event {
        ts: hdr.ts,
        cpu: hdr.cpu,
        pid: hdr.pid,
        tid: hdr.tid,
        kind,
    })
}

/// Appends the record for `ev` to `out`.
pub fn encode(ev: &Event, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    RecordHeader {
        rtype: ev.kind.record_type() as u16,
        cpu: ev.cpu,
        size: 0,
        ts: ev.ts,
        pid: ev.pid,
        tid: ev.tid,
    }
    .write(out);
    use EventKind as K;
    let res = match &ev.kind {
        K::Exec(x) => x.encode_body(out),
        K::Fork(x) => x.encode_body(out),
        K::Exit(x) => x.encode_body(out),
        K::Open(x) => x.encode_body(out),
        K::Unlink(x) => x.encode_body(out),
        K::Rename(x) => x.encode_body(out),
        K::Chmod(x) => x.encode_body(out),
        K::Chown(x) => x.encode_body(out),
        K::Connect(x) => x.encode_body(out),
        K::Accept(x) => x.encode_body(out),
        K::Listen(x) => x.encode_body(out),
        K::Bind(x) => x.encode_body(out),
        K::SockClose(x) => x.encode_body(out),
        K::UdpSend(x) | K::UdpRecv(x) => x.encode_body(out),
        K::Snippet(x) | K::Dns(x) => x.encode_body(out),
        K::ConnResult(x) => x.encode_body(out),
        K::Cred(x) => x.encode_body(out),
        K::Capset(x) => x.encode_body(out),
        K::Namespace(x) => x.encode_body(out),
        K::Mount(x) => x.encode_body(out),
        K::Umount(x) => x.encode_body(out),
        K::Ptrace(x) => x.encode_body(out),
        K::ModuleLoad(x) => x.encode_body(out),
        K::BpfLoad(x) => x.encode_body(out),
        K::Memfd(x) => x.encode_body(out),
        K::Signal(x) => x.encode_body(out),
        K::MmapExec(x) => x.encode_body(out),
        K::Enforce(x) => x.encode_body(out),
        K::Loss(x) => x.encode_body(out),
        K::ProcessSnapshot(s) => {
            // Serializing a plain struct to a Vec cannot fail.
            let json = serde_json::to_vec(s).unwrap_or_default();
            wire::JsonRecord { json }.encode_body(out)
        }
    };
    if let Err(e) = res {
        out.truncate(start);
        return Err(e);
    }
    let size = (out.len() - start) as u32;
    out[start + 4..start + 8].copy_from_slice(&size.to_le_bytes());
    Ok(())
}

/// The C layout a record type is stored with (`rw_json` for JSON-bodied records).
pub fn layout_of(t: RecordType) -> crate::wire::LayoutInfo {
    use crate::wire::*;
    use RecordType as T;
    match t {
        T::Exec => Exec::layout(),
        T::Fork => Fork::layout(),
        T::Exit => Exit::layout(),
        T::Open => Open::layout(),
        T::Unlink => Unlink::layout(),
        T::Rename => Rename::layout(),
        T::Chmod => Chmod::layout(),
        T::Chown => Chown::layout(),
        T::Connect => Connect::layout(),
        T::Accept => Accept::layout(),
        T::Listen => Listen::layout(),
        T::Bind => Bind::layout(),
        T::SockClose => SockClose::layout(),
        T::UdpSend | T::UdpRecv => Udp::layout(),
        T::Snippet | T::Dns => Snippet::layout(),
        T::ConnResult => ConnResult::layout(),
        T::Cred => Cred::layout(),
        T::Capset => Capset::layout(),
        T::Namespace => Namespace::layout(),
        T::Mount => Mount::layout(),
        T::Umount => Umount::layout(),
        T::Ptrace => Ptrace::layout(),
        T::ModuleLoad => ModuleLoad::layout(),
        T::BpfLoad => BpfLoad::layout(),
        T::Memfd => Memfd::layout(),
        T::Signal => Signal::layout(),
        T::MmapExec => MmapExec::layout(),
        T::Enforce => Enforce::layout(),
        T::Loss => Loss::layout(),
        T::SegmentHeader => SegmentHeaderRecord::layout(),
        T::ProcessSnapshot | T::SegmentFooter => JsonRecord::layout(),
    }
}
