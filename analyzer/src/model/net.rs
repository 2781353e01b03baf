//! Connections: TCP and unix streams (outbound, accepted, or already open when the
//! recording began) and UDP flows, with byte counts, the DNS name of the remote, and what
//! the payload snippets say (TLS hellos, HTTP heads). Both ends of a loopback connection
//! are linked as peers so each end can borrow what only the other saw.

use super::process::ImageId;
use super::proto::{HttpMsg, TlsHello};
use rewind_schema::wire::{ByteString, Sock};
use serde::Serialize;
use std::net::SocketAddr;

/// Index of a connection in [`super::Model::conns`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ConnId(pub u32);

impl ConnId {
    /// As a `usize` index.
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

/// Which side opened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// connect().
    Outbound,
    /// accept().
    Inbound,
    /// UDP datagrams to or from one remote address.
    Datagram,
    /// First seen in use (opened before the recording, or its open was lost).
    Existing,
}

impl Direction {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
            Direction::Datagram => "datagram",
            Direction::Existing => "existing",
        }
    }
}

const EINPROGRESS: i32 = -115;

/// The kernel's word on a connect's handshake (`conn_result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Settled {
    /// Boot ns the socket left SYN_SENT.
    pub ns: u64,
    /// Established (true) or closed (false).
    pub established: bool,
    /// The socket error when closed (positive errno; 0 = closed by the application).
    pub err: i32,
    /// Time from the connect call to the outcome (ns), 0 = unknown.
    pub after_ns: u64,
}

impl Settled {
    /// The outcome it decides.
    pub fn outcome(&self) -> Outcome {
        Outcome::settled(self.established, self.err)
    }
}

/// What became of a connection attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Established (or accepted, or already open).
    Connected,
    /// A non-blocking connect whose outcome the trace does not hold.
    InProgress,
    /// The peer answered with a reset (ECONNREFUSED).
    Refused,
    /// No answer (ETIMEDOUT).
    TimedOut,
    /// No route or an ICMP unreachable (EHOSTUNREACH, ENETUNREACH).
    Unreachable,
    /// The application closed the socket before the handshake ended.
    Abandoned,
    /// Any other error (positive errno).
    Failed(i32),
}

impl Outcome {
    /// From the kernel's `conn_result`: established, or closed with this socket error
    /// (0: closed by the application before the handshake ended).
    pub fn settled(established: bool, err: i32) -> Self {
        if established {
            Outcome::Connected
        } else if err == 0 {
            Outcome::Abandoned
        } else {
            Outcome::from_errno(err)
        }
    }

    /// From a positive errno.
    pub fn from_errno(e: i32) -> Self {
        match e {
            111 => Outcome::Refused,
            110 => Outcome::TimedOut,
            101 | 113 => Outcome::Unreachable,
            _ => Outcome::Failed(e),
        }
    }

    /// True unless connected or still in progress.
    pub fn failed(self) -> bool {
        !matches!(self, Outcome::Connected | Outcome::InProgress)
    }

    /// In words: "connected", "refused", "timed out", "failed: EACCES", ...
    pub fn text(self) -> String {
        match self {
            Outcome::Connected => "connected".into(),
            Outcome::InProgress => "in progress".into(),
            Outcome::Refused => "refused".into(),
            Outcome::TimedOut => "timed out".into(),
            Outcome::Unreachable => "unreachable".into(),
            Outcome::Abandoned => "closed before connected".into(),
            Outcome::Failed(e) => format!("failed: {}", crate::describe::errno_name(e)),
        }
    }
}

/// One connection or UDP flow.
#[derive(Debug, Clone, Serialize)]
pub struct Conn {
    /// Index in the model.
    pub id: ConnId,
    /// The image that opened (or first used) it.
    pub image: ImageId,
    /// Recording it belongs to (cookies are per recording).
    pub recording: u16,
    /// Scrambled socket cookie from the recorder.
    pub cookie: u64,
    /// Which side opened it.
    pub dir: Direction,
    /// "tcp", "udp", "unix".
    pub proto: &'static str,
    /// Local address.
    pub local: Option<SocketAddr>,
    /// Remote address.
    pub remote: Option<SocketAddr>,
    /// Unix socket path.
    pub unix_path: Option<ByteString>,
    /// Boot ns it began.
    pub start_ns: u64,
    /// Boot ns it closed, if seen.
    pub end_ns: Option<u64>,
    /// connect() result (0, or a negative errno; -EINPROGRESS for non-blocking).
    pub ret: i32,
    /// How the kernel says the handshake ended (`conn_result` records), when recorded.
    pub settled: Option<Settled>,
    /// Bytes sent (from the close record, or datagram lengths).
    pub bytes_sent: u64,
    /// Bytes received.
    pub bytes_received: u64,
    /// Datagrams (UDP).
    pub datagrams: u64,
    /// Name the remote address was resolved from, when a DNS answer in the trace said so.
    pub remote_name: Option<String>,
    /// The client's TLS hello seen on this socket.
    pub tls_client: Option<Box<TlsHello>>,
    /// The server's TLS hello seen on this socket.
    pub tls_server: Option<Box<TlsHello>>,
    /// HTTP request head seen on this socket, with its time.
    pub http_request: Option<Box<(u64, HttpMsg)>>,
    /// HTTP response head seen on this socket, with its time.
    pub http_response: Option<Box<(u64, HttpMsg)>>,
    /// The other end, when both ends are in the trace.
    pub peer: Option<ConnId>,
    /// Snippet bytes of each direction (out, in) gathered across calls while what they
    /// hold is not yet a whole hello or head and more can follow.
    #[serde(skip)]
    pub(crate) gather: [Option<Box<Gather>>; 2],
}

/// Bytes of one direction of a stream from offset 0, and what they said so far.
#[derive(Debug, Clone)]
pub(crate) struct Gather {
    pub(crate) bytes: Vec<u8>,
    pub(crate) said: Option<super::App>,
}

impl Conn {
    pub(crate) fn new(
        id: ConnId,
        image: ImageId,
        recording: u16,
        sock: &Sock,
        dir: Direction,
        ts: u64,
    ) -> Self {
        Conn {
            id,
            image,
            recording,
            cookie: sock.cookie,
            dir,
            proto: sock.proto(),
            local: sock.local(),
            remote: sock.remote(),
            unix_path: None,
            start_ns: ts,
            end_ns: None,
            ret: 0,
            settled: None,
            bytes_sent: 0,
            bytes_received: 0,
            datagrams: 0,
            remote_name: None,
            tls_client: None,
            tls_server: None,
            http_request: None,
            http_response: None,
            peer: None,
            gather: [None, None],
        }
    }

    /// The connection failed: connect returned an error, or the kernel reported that a
    /// connect in progress ended without being established.
    pub fn failed(&self) -> bool {
        self.outcome().failed()
    }

    /// What became of it. Accepted, existing and datagram flows are connected by
    /// definition; an outbound connect is decided by its return value, then by the
    /// kernel's `conn_result` for one that returned EINPROGRESS (or, in traces recorded
    /// before that record existed, by bytes having moved over it).
    pub fn outcome(&self) -> Outcome {
        if self.dir != Direction::Outbound {
            return Outcome::Connected;
        }
        match self.ret {
            0 => Outcome::Connected,
            EINPROGRESS => match self.settled {
                Some(s) => s.outcome(),
                None if self.bytes_sent > 0
                    || self.bytes_received > 0
                    || self.tls_client.is_some()
                    || self.tls_server.is_some()
                    || self.http_request.is_some()
                    || self.http_response.is_some() =>
                {
                    Outcome::Connected
                }
                None => Outcome::InProgress,
            },
            e => Outcome::from_errno(-e),
        }
    }

    /// The remote as text: `name (ip:port)`, `ip:port`, or the unix path.
    pub fn remote_text(&self) -> String {
        if let Some(p) = &self.unix_path {
            return p.display();
        }
        match (&self.remote_name, self.remote) {
            (Some(n), Some(r)) => format!("{n} ({r})"),
            (None, Some(r)) => r.to_string(),
            (Some(n), None) => n.clone(),
            (None, None) => "?".into(),
        }
    }

    /// HTTP latency: response time minus request time, when both are on this socket.
    pub fn http_latency_ns(&self) -> Option<u64> {
        match (self.http_request.as_deref(), self.http_response.as_deref()) {
            (Some((a, _)), Some((b, _))) if b >= a => Some(b - a),
            _ => None,
        }
    }
}

/// What a connection's TLS handshake came to, combining both ends when the peer is in
/// the trace (a client often reads only a record header first, so the ServerHello may be
/// visible only in the server's snippet).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TlsSummary {
    /// SNI from the ClientHello.
    pub sni: Option<String>,
    /// Highest version the client offered.
    pub offered_version: Option<u16>,
    /// Negotiated version.
    pub version: Option<u16>,
    /// Negotiated cipher suite.
    pub cipher: Option<u16>,
}

impl TlsSummary {
    /// Is there anything?
    pub fn is_empty(&self) -> bool {
        *self == TlsSummary::default()
    }
}

/// Combines both ends' hellos.
pub fn tls_summary(own: &Conn, peer: Option<&Conn>) -> TlsSummary {
    let mut s = TlsSummary::default();
    let client = own
        .tls_client
        .as_deref()
        .or(peer.and_then(|p| p.tls_client.as_deref()));
    let server = own
        .tls_server
        .as_deref()
        .or(peer.and_then(|p| p.tls_server.as_deref()));
    if let Some(TlsHello::Client {
        sni, max_version, ..
    }) = client
    {
        s.sni = sni.clone();
        s.offered_version = Some(*max_version);
    }
    if let Some(TlsHello::Server {
        version, cipher, ..
    }) = server
    {
        s.version = Some(*version);
        s.cipher = Some(*cipher);
    }
    s
}

/// A listening socket.
#[derive(Debug, Clone, Serialize)]
pub struct Listener {
    /// Who listens.
    pub image: ImageId,
    /// Boot ns of listen().
    pub ts: u64,
    /// "tcp", "unix", ...
    pub proto: &'static str,
    /// Local address.
    pub local: Option<SocketAddr>,
    /// Port (also when the address is unknown).
    pub port: u16,
    /// listen() result.
    pub ret: i32,
}
