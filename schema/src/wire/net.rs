//! Network family: `bpf/src/net.bpf.c` (connect, accept, listen, bind, close, UDP,
//! payload snippets and DNS).

use super::{layout, ByteString, FieldInfo, Fixed, LayoutInfo, Payload};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// `AF_UNIX`.
pub const AF_UNIX: u16 = 1;
/// `AF_INET`.
pub const AF_INET: u16 = 2;
/// `AF_INET6`.
pub const AF_INET6: u16 = 10;

/// Both ends of a socket (`struct rw_sock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(into = "SockJson", try_from = "SockJson")]
pub struct Sock {
    /// Socket cookie, stable for the socket's life.
    pub cookie: u64,
    /// Address family.
    pub family: u16,
    /// `SOCK_STREAM`, `SOCK_DGRAM`, ...
    pub sock_type: u16,
    /// Local port, host order.
    pub lport: u16,
    /// Remote port, host order.
    pub rport: u16,
    /// Local address: IPv4 in the first 4 bytes, or IPv6.
    pub laddr: [u8; 16],
    /// Remote address.
    pub raddr: [u8; 16],
}

fn ip(family: u16, a: &[u8; 16]) -> Option<IpAddr> {
    match family {
        AF_INET => Some(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))),
        AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(*a))),
        _ => None,
    }
}

fn ip_bytes(addr: IpAddr) -> [u8; 16] {
    let mut a = [0u8; 16];
    match addr {
        IpAddr::V4(v4) => a[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => a = v6.octets(),
    }
    a
}

impl Sock {
    /// A TCP socket between two addresses (for synthetic traces).
    pub fn tcp(cookie: u64, local: SocketAddr, remote: SocketAddr) -> Self {
        Self::with(cookie, 1, local, remote)
    }
    /// A UDP socket between two addresses (for synthetic traces).
    pub fn udp(cookie: u64, local: SocketAddr, remote: SocketAddr) -> Self {
        Self::with(cookie, 2, local, remote)
    }
    fn with(cookie: u64, sock_type: u16, local: SocketAddr, remote: SocketAddr) -> Self {
        Sock {
            cookie,
            family: if local.is_ipv4() { AF_INET } else { AF_INET6 },
            sock_type,
            lport: local.port(),
            rport: remote.port(),
            laddr: ip_bytes(local.ip()),
            raddr: ip_bytes(remote.ip()),
        }
    }
    /// Local end, for IP sockets.
    pub fn local(&self) -> Option<SocketAddr> {
        ip(self.family, &self.laddr).map(|a| SocketAddr::new(a, self.lport))
    }
    /// Remote end, for IP sockets.
    pub fn remote(&self) -> Option<SocketAddr> {
        ip(self.family, &self.raddr).map(|a| SocketAddr::new(a, self.rport))
    }
    /// "tcp", "udp", "unix", ...
    pub fn proto(&self) -> &'static str {
        match (self.family, self.sock_type) {
            (AF_UNIX, _) => "unix",
            (_, 1) => "tcp",
            (_, 2) => "udp",
            (_, 3) => "raw",
            _ => "sock",
        }
    }
}

/// JSON face of [`Sock`]: addresses as text.
#[derive(Serialize, Deserialize)]
struct SockJson {
    cookie: u64,
    family: u16,
    sock_type: u16,
    local: String,
    remote: String,
}

impl From<Sock> for SockJson {
    fn from(s: Sock) -> Self {
        let show = |a: Option<SocketAddr>, port: u16| match a {
            Some(a) => a.to_string(),
            None => format!(":{port}"),
        };
        SockJson {
            cookie: s.cookie,
            family: s.family,
            sock_type: s.sock_type,
            local: show(s.local(), s.lport),
            remote: show(s.remote(), s.rport),
        }
    }
}

impl TryFrom<SockJson> for Sock {
    type Error = String;
    fn try_from(j: SockJson) -> Result<Self, String> {
        let parse = |t: &str| -> Result<([u8; 16], u16), String> {
            if let Some(port) = t.strip_prefix(':') {
                return Ok(([0; 16], port.parse().map_err(|e| format!("{t}: {e}"))?));
            }
            let a: SocketAddr = t.parse().map_err(|e| format!("{t}: {e}"))?;
            Ok((ip_bytes(a.ip()), a.port()))
        };
        let (laddr, lport) = parse(&j.local)?;
        let (raddr, rport) = parse(&j.remote)?;
        Ok(Sock {
            cookie: j.cookie,
            family: j.family,
            sock_type: j.sock_type,
            lport,
            rport,
            laddr,
            raddr,
        })
    }
}

impl Fixed for Sock {
    const SIZE: usize = 48;
    fn read(b: &[u8]) -> Self {
        Sock {
            cookie: u64::read(b),
            family: u16::read(&b[8..]),
            sock_type: u16::read(&b[10..]),
            lport: u16::read(&b[12..]),
            rport: u16::read(&b[14..]),
            laddr: <[u8; 16]>::read(&b[16..]),
            raddr: <[u8; 16]>::read(&b[32..]),
        }
    }
    fn write(&self, out: &mut Vec<u8>) {
        self.cookie.write(out);
        self.family.write(out);
        self.sock_type.write(out);
        self.lport.write(out);
        self.rport.write(out);
        self.laddr.write(out);
        self.raddr.write(out);
    }
    fn nested() -> Option<LayoutInfo> {
        let f = |name, offset, size| FieldInfo { name, offset, size };
        Some(LayoutInfo {
            c_name: "rw_sock",
            size: 48,
            fields: vec![
                f("cookie", 0, 8),
                f("family", 8, 2),
                f("sock_type", 10, 2),
                f("lport", 12, 2),
                f("rport", 14, 2),
                f("laddr", 16, 16),
                f("raddr", 32, 16),
            ],
        })
    }
}

layout! {
    /// An outgoing connection attempt and its result (`struct rw_connect`).
    Connect = "rw_connect" {
        /// Both ends.
        sock: Sock,
        /// 0, -EINPROGRESS or -errno.
        ret: i32,
    }
    var {
        /// Unix socket path.
        path: ByteString,
    }
}

layout! {
    /// An accepted connection (`struct rw_accept`).
    Accept = "rw_accept" {
        /// Both ends, local = the listening side.
        sock: Sock,
        /// New fd or -errno.
        ret: i32,
    }
}

layout! {
    /// A socket starting to listen (`struct rw_listen`).
    Listen = "rw_listen" {
        /// The listening socket.
        sock: Sock,
        /// 0 or -errno.
        ret: i32,
        /// Backlog asked for.
        backlog: i32,
    }
}

layout! {
    /// A bind (`struct rw_bind`).
    Bind = "rw_bind" {
        /// The bound socket.
        sock: Sock,
        /// 0 or -errno.
        ret: i32,
    }
    var {
        /// Unix socket path.
        path: ByteString,
    }
}

layout! {
    /// A TCP connection closing, with its byte counts (`struct rw_sock_close`).
    SockClose = "rw_sock_close" {
        /// Both ends.
        sock: Sock,
        /// Bytes sent over the connection's life.
        bytes_sent: u64,
        /// Bytes received.
        bytes_received: u64,
        /// Time since connect/accept (ns), 0 = unknown.
        duration_ns: u64,
    }
}

/// `rw_conn_result.state`: the connection was established.
pub const TCP_ESTABLISHED: u32 = 1;
/// `rw_conn_result.state`: the socket closed before it was established.
pub const TCP_CLOSE: u32 = 7;

layout! {
    /// How a TCP connect ended, from the kernel's state change out of SYN_SENT
    /// (`struct rw_conn_result`).
    ConnResult = "rw_conn_result" {
        /// Both ends.
        sock: Sock,
        /// Time since the connect call's entry (ns), 0 = unknown.
        duration_ns: u64,
        /// Positive errno of the socket (ECONNREFUSED, ETIMEDOUT, ...); 0 when established
        /// or closed by the application before the handshake ended.
        err: i32,
        /// TCP state entered: [`TCP_ESTABLISHED`] or [`TCP_CLOSE`].
        state: u32,
    }
}

impl ConnResult {
    /// True when the handshake completed.
    pub fn established(&self) -> bool {
        self.state == TCP_ESTABLISHED
    }
}

layout! {
    /// A UDP datagram sent or received (`struct rw_udp`).
    Udp = "rw_udp" {
        /// Both ends.
        sock: Sock,
        /// Payload length.
        len: u32,
        /// Result of the call.
        ret: i32,
    }
}

/// `rw_snippet.flags`: received rather than sent.
pub const SNIPPET_INBOUND: u32 = 1 << 0;
/// `rw_snippet.flags`: the payload was cut at the snippet limit.
pub const SNIPPET_TRUNCATED: u32 = 1 << 1;
/// `RW_SNIPPET_OFFSET_SHIFT`: bits 16-31 of a snippet's flags hold the TCP stream offset of
/// its first byte (0 for datagrams and in traces older than the field).
pub const SNIPPET_OFFSET_SHIFT: u32 = 16;

layout! {
    /// The first bytes of a direction of a connection, or a DNS datagram
    /// (`struct rw_snippet`), parsed at replay (TLS hello, HTTP lines, DNS).
    Snippet = "rw_snippet" {
        /// Both ends.
        sock: Sock,
        /// Bytes in the send/recv this was cut from.
        total_len: u32,
        /// `RW_SNIPPET_*`.
        flags: u32,
    }
    var {
        /// The captured bytes, exactly.
        data: Payload,
    }
}

impl Snippet {
    /// True for received data.
    pub fn inbound(&self) -> bool {
        self.flags & SNIPPET_INBOUND != 0
    }

    /// Offset in the TCP stream (this direction) of the first captured byte.
    pub fn offset(&self) -> u32 {
        self.flags >> SNIPPET_OFFSET_SHIFT
    }
}
