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

    /// The connection failed (connect returned an error other than EINPROGRESS).
    pub fn failed(&self) -> bool {
        self.ret < 0 && self.ret != -115
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
