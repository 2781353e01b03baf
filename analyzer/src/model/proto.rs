//! Application protocols in payload snippets: DNS messages (simple-dns), TLS hellos
//! (tls-parser) and HTTP/1 request and status lines (httparse). The recorder keeps only
//! the first bytes of each direction, so every parser here accepts truncated input and
//! says what it could read.

use serde::Serialize;
use std::net::IpAddr;
use tls_parser::{TlsCipherSuite, TlsExtension, TlsMessage, TlsMessageHandshake};

/// A DNS message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsMsg {
    /// Transaction id.
    pub id: u16,
    /// A response (else a query).
    pub response: bool,
    /// Response code name (`NOERROR`, `NXDOMAIN`, `SERVFAIL`, `REFUSED`, ...).
    pub rcode: String,
    /// Questions: (name, type).
    pub questions: Vec<(String, String)>,
    /// Address answers: (name, address).
    pub addrs: Vec<(String, IpAddr)>,
    /// CNAME answers: (alias, canonical name).
    pub cnames: Vec<(String, String)>,
}

/// Parses a DNS message (UDP payload). `None` when it is not one.
pub fn parse_dns(data: &[u8]) -> Option<DnsMsg> {
    use simple_dns::rdata::RData;
    let p = simple_dns::Packet::parse(data).ok()?;
    let mut m = DnsMsg {
        id: p.id(),
        response: p.has_flags(simple_dns::PacketFlag::RESPONSE),
        rcode: rcode_name(p.rcode(), data.get(3).map_or(0, |b| b & 0x0f)),
        questions: p
            .questions
            .iter()
            .map(|q| (name_text(&q.qname), qtype_name(u16::from(q.qtype))))
            .collect(),
        addrs: Vec::new(),
        cnames: Vec::new(),
    };
    for rr in &p.answers {
        match &rr.rdata {
            RData::A(a) => m
                .addrs
                .push((name_text(&rr.name), IpAddr::from(a.address.to_be_bytes()))),
            RData::AAAA(a) => m
                .addrs
                .push((name_text(&rr.name), IpAddr::from(a.address.to_be_bytes()))),
            RData::CNAME(c) => m.cnames.push((name_text(&rr.name), name_text(&c.0))),
            _ => {}
        }
    }
    Some(m)
}

/// The same text as simple-dns's `Display` for a name (labels joined by dots, a dot or
/// backslash inside a label escaped, invalid UTF-8 replaced), without going through the
/// formatter one character at a time: every DNS datagram of a trace is parsed at replay,
/// and that formatting was about 5 % of a replay of the benchmark workload.
fn name_text(n: &simple_dns::Name) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(64);
    for (i, label) in n.get_labels().iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        let bytes: &[u8] = label.as_ref();
        match std::str::from_utf8(bytes) {
            Ok(s) if !bytes.iter().any(|&b| b == b'.' || b == b'\\') => out.push_str(s),
            // Writing to a String cannot fail.
            _ => {
                let _ = write!(out, "{label}");
            }
        }
    }
    out
}

/// The response code's IANA mnemonic (RFC 6895: `NOERROR`, `NXDOMAIN`, `SERVFAIL`,
/// `REFUSED`, ...), the names `dig` and resolver logs print; `RCODE<n>` for a code without
/// one (`raw` is the header's 4-bit code).
fn rcode_name(r: simple_dns::RCODE, raw: u8) -> String {
    use simple_dns::RCODE;
    let name = match r {
        RCODE::NoError => "NOERROR",
        RCODE::FormatError => "FORMERR",
        RCODE::ServerFailure => "SERVFAIL",
        RCODE::NameError => "NXDOMAIN",
        RCODE::NotImplemented => "NOTIMP",
        RCODE::Refused => "REFUSED",
        RCODE::YXDOMAIN => "YXDOMAIN",
        RCODE::YXRRSET => "YXRRSET",
        RCODE::NXRRSET => "NXRRSET",
        RCODE::NOTAUTH => "NOTAUTH",
        RCODE::NOTZONE => "NOTZONE",
        RCODE::BADVERS => "BADVERS",
        _ => return format!("RCODE{raw}"),
    };
    name.into()
}

fn qtype_name(t: u16) -> String {
    match t {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        6 => "SOA".into(),
        12 => "PTR".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        65 => "HTTPS".into(),
        255 => "ANY".into(),
        n => format!("TYPE{n}"),
    }
}

/// What a TLS hello says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "hello", rename_all = "snake_case")]
pub enum TlsHello {
    /// From the client.
    Client {
        /// Server name indication.
        sni: Option<String>,
        /// Highest version offered (supported_versions wins over the legacy field).
        max_version: u16,
        /// Number of cipher suites offered.
        ciphers: usize,
        /// The hello was cut by the snippet length (fields after the cut are unknown).
        truncated: bool,
    },
    /// From the server: what was negotiated.
    Server {
        /// Negotiated version.
        version: u16,
        /// Negotiated cipher suite id.
        cipher: u16,
        /// The hello was cut by the snippet length.
        truncated: bool,
    },
}

impl TlsHello {
    /// The hello was cut by the snippet length.
    pub fn truncated(&self) -> bool {
        match self {
            TlsHello::Client { truncated, .. } | TlsHello::Server { truncated, .. } => *truncated,
        }
    }
}

/// `TLS 1.2`-style name of a version number.
pub fn tls_version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        n => format!("TLS {n:#06x}"),
    }
}

/// IANA name of a cipher suite.
pub fn cipher_name(id: u16) -> String {
    TlsCipherSuite::from_id(id)
        .map(|c| c.name.to_string())
        .unwrap_or_else(|| format!("cipher {id:#06x}"))
}

/// Key size of the bulk cipher in bits, when known.
pub fn cipher_key_bits(id: u16) -> Option<u16> {
    TlsCipherSuite::from_id(id)
        .map(|c| c.enc_size)
        .filter(|&b| b > 0)
}

/// Why a negotiated cipher suite is weak (empty when it is not).
pub fn cipher_weaknesses(id: u16) -> Vec<&'static str> {
    use tls_parser::{TlsCipherAu, TlsCipherEnc, TlsCipherEncMode, TlsCipherKx, TlsCipherMac};
    let Some(c) = TlsCipherSuite::from_id(id) else {
        return Vec::new();
    };
    let mut w = Vec::new();
    match c.enc {
        TlsCipherEnc::Null => w.push("no encryption"),
        TlsCipherEnc::Rc4 => w.push("RC4"),
        TlsCipherEnc::Des | TlsCipherEnc::TripleDes => w.push("DES/3DES"),
        TlsCipherEnc::Rc2 | TlsCipherEnc::Idea => w.push("obsolete block cipher"),
        _ => {}
    }
    if c.name.contains("EXPORT") {
        w.push("export-grade");
    }
    if matches!(c.au, TlsCipherAu::Null) && !matches!(c.kx, TlsCipherKx::Tls13) {
        w.push("anonymous (no authentication)");
    }
    if matches!(c.mac, TlsCipherMac::HmacMd5) {
        w.push("MD5 MAC");
    }
    if matches!(c.kx, TlsCipherKx::Rsa) {
        w.push("no forward secrecy (RSA key exchange)");
    }
    if matches!(c.enc_mode, TlsCipherEncMode::Cbc) && matches!(c.mac, TlsCipherMac::HmacSha1) {
        w.push("CBC with SHA-1");
    }
    if c.enc_size > 0 && c.enc_size < 128 {
        w.push("key shorter than 128 bits");
    }
    w
}

/// Parses the first TLS record of a direction, if it is a ClientHello or ServerHello.
pub fn parse_tls(data: &[u8]) -> Option<TlsHello> {
    // Record header: type 22 (handshake), version 3.x, length.
    if data.len() < 9 || data[0] != 22 || data[1] != 3 || data[5] > 2 {
        return None;
    }
    match tls_parser::parse_tls_plaintext(data) {
        Ok((_, rec)) => rec.msg.iter().find_map(|m| match m {
            TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)) => {
                let exts = ch
                    .ext
                    .and_then(|e| tls_parser::parse_tls_extensions(e).ok())
                    .map(|(_, v)| v)
                    .unwrap_or_default();
                Some(client_hello(ch.version.0, ch.ciphers.len(), &exts, false))
            }
            TlsMessage::Handshake(TlsMessageHandshake::ServerHello(sh)) => {
                let exts = sh
                    .ext
                    .and_then(|e| tls_parser::parse_tls_extensions(e).ok())
                    .map(|(_, v)| v)
                    .unwrap_or_default();
                Some(TlsHello::Server {
                    version: negotiated(sh.version.0, &exts),
                    cipher: sh.cipher.0,
                    truncated: false,
                })
            }
            _ => None,
        }),
        // Cut by the snippet length: walk the fixed fields and parse whole extensions
        // until the cut.
        Err(_) => parse_truncated_hello(&data[5..]),
    }
}

fn client_hello(legacy: u16, ciphers: usize, exts: &[TlsExtension], truncated: bool) -> TlsHello {
    let mut sni = None;
    let mut max_version = legacy;
    for e in exts {
        match e {
            TlsExtension::SNI(names) => {
                sni = names
                    .first()
                    .map(|(_, n)| String::from_utf8_lossy(n).into_owned());
            }
            TlsExtension::SupportedVersions(vs) => {
                // GREASE values (0x?a?a) are not versions.
                if let Some(v) = vs
                    .iter()
                    .map(|v| v.0)
                    .filter(|v| v & 0x0f0f != 0x0a0a)
                    .max()
                {
                    max_version = v;
                }
            }
            _ => {}
        }
    }
    TlsHello::Client {
        sni,
        max_version,
        ciphers,
        truncated,
    }
}

fn negotiated(legacy: u16, exts: &[TlsExtension]) -> u16 {
    exts.iter()
        .find_map(|e| match e {
            TlsExtension::SupportedVersions(v) if v.len() == 1 => Some(v[0].0),
            _ => None,
        })
        .unwrap_or(legacy)
}

fn parse_truncated_hello(hs: &[u8]) -> Option<TlsHello> {
    let kind = *hs.first()?;
    let body = hs.get(4..)?;
    let version = u16::from_be_bytes([*body.first()?, *body.get(1)?]);
    let mut at = 2 + 32;
    let sid_len = *body.get(at)? as usize;
    at += 1 + sid_len;
    let exts_after = |at: usize| -> Vec<TlsExtension> {
        // Skip the 2-byte extensions length, then parse whole extensions.
        let mut rest = body.get(at + 2..).unwrap_or(&[]);
        let mut out = Vec::new();
        while let Ok((r, e)) = tls_parser::parse_tls_extension(rest) {
            out.push(e);
            rest = r;
        }
        out
    };
    match kind {
        1 => {
            let n = u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]) as usize;
            at += 2 + n;
            let comp = body.get(at).map(|&c| c as usize).unwrap_or(0);
            at += 1 + comp;
            let exts = exts_after(at);
            Some(client_hello(version, n / 2, &exts, true))
        }
        2 => {
            let cipher = u16::from_be_bytes([*body.get(at)?, *body.get(at + 1)?]);
            at += 3;
            let exts = exts_after(at);
            Some(TlsHello::Server {
                version: negotiated(version, &exts),
                cipher,
                truncated: true,
            })
        }
        _ => None,
    }
}

/// An HTTP/1 request or response head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "http", rename_all = "snake_case")]
pub enum HttpMsg {
    /// Request line and Host.
    Request {
        /// Method.
        method: String,
        /// Path (request target).
        path: String,
        /// Host header, when within the snippet.
        host: Option<String>,
    },
    /// Status line (and Location of a redirect).
    Response {
        /// Status code.
        status: u16,
        /// Reason phrase.
        reason: String,
        /// Location header, when within the snippet.
        location: Option<String>,
    },
}

/// Parses an HTTP/1.x request or response head (possibly cut).
pub fn parse_http(data: &[u8]) -> Option<HttpMsg> {
    let header = |headers: &[httparse::Header], name: &str| {
        headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).into_owned())
    };
    if data.starts_with(b"HTTP/") {
        let mut hs = [httparse::EMPTY_HEADER; 32];
        let mut r = httparse::Response::new(&mut hs);
        // Partial heads are fine: the status line is what matters.
        let _ = r.parse(data).ok()?;
        let status = r.code?;
        let location = header(r.headers, "location");
        return Some(HttpMsg::Response {
            status,
            reason: r.reason.unwrap_or("").to_string(),
            location,
        });
    }
    let first = data.split(|&b| b == b' ').next()?;
    const METHODS: [&[u8]; 9] = [
        b"GET", b"POST", b"PUT", b"HEAD", b"DELETE", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE",
    ];
    if !METHODS.contains(&first) {
        return None;
    }
    let mut hs = [httparse::EMPTY_HEADER; 32];
    let mut r = httparse::Request::new(&mut hs);
    let _ = r.parse(data).ok()?;
    Some(HttpMsg::Request {
        method: r.method?.to_string(),
        path: r.path?.to_string(),
        host: header(r.headers, "host"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_heads_even_when_cut() {
        let req = b"GET /start HTTP/1.1\r\nHost: 127.0.0.1:18080\r\nUser-Agent: cu";
        assert_eq!(
            parse_http(req),
            Some(HttpMsg::Request {
                method: "GET".into(),
                path: "/start".into(),
                host: Some("127.0.0.1:18080".into())
            })
        );
        let resp = b"HTTP/1.0 302 Found\r\nLocation: /final\r\nServer: x\r\n\r\n";
        assert_eq!(
            parse_http(resp),
            Some(HttpMsg::Response {
                status: 302,
                reason: "Found".into(),
                location: Some("/final".into())
            })
        );
        assert_eq!(parse_http(b"\x16\x03\x01"), None);
        assert_eq!(parse_http(b"hello world"), None);
    }

    #[test]
    fn dns_query_and_answer() {
        use simple_dns::{rdata::RData, Name, Packet, Question, ResourceRecord, CLASS, QCLASS};
        let mut q = Packet::new_query(7);
        q.questions.push(Question::new(
            Name::new_unchecked("example.internal"),
            simple_dns::TYPE::A.into(),
            QCLASS::CLASS(CLASS::IN),
            false,
        ));
        let bytes = q.build_bytes_vec().expect("query");
        let m = parse_dns(&bytes).expect("parsed");
        assert!(!m.response);
        assert_eq!(m.questions, vec![("example.internal".into(), "A".into())]);

        let mut r = Packet::new_reply(7);
        r.answers.push(ResourceRecord::new(
            Name::new_unchecked("example.internal"),
            CLASS::IN,
            60,
            RData::A(simple_dns::rdata::A {
                address: u32::from(std::net::Ipv4Addr::new(127, 0, 0, 5)),
            }),
        ));
        let bytes = r.build_bytes_vec().expect("reply");
        let m = parse_dns(&bytes).expect("parsed");
        assert!(m.response);
        assert_eq!(
            m.addrs,
            vec![("example.internal".into(), "127.0.0.5".parse().expect("ip"))]
        );
        assert_eq!(parse_dns(b"\x16\x03\x01\x00"), None);
    }

    #[test]
    fn dns_names_read_as_simple_dns_shows_them() {
        use simple_dns::{Name, Packet, Question, CLASS, QCLASS};
        // Plain, with an escaped dot and backslash, with bytes that are not UTF-8.
        let labels: [&[u8]; 4] = [b"svc1", b"a.b", b"back\\slash", b"\xff\xfeweird"];
        let l: Vec<simple_dns::Label> = labels
            .iter()
            .map(|b| simple_dns::Label::new_unchecked(*b))
            .collect();
        let name = Name::new_with_labels(&l);
        let mut q = Packet::new_query(9);
        q.questions.push(Question::new(
            name.clone(),
            simple_dns::TYPE::AAAA.into(),
            QCLASS::CLASS(CLASS::IN),
            false,
        ));
        let bytes = q.build_bytes_vec().expect("query");
        let m = parse_dns(&bytes).expect("parsed");
        assert_eq!(m.questions, vec![(name.to_string(), "AAAA".to_string())]);
        assert!(m.questions[0].0.contains("a\\.b"), "{:?}", m.questions);
        assert_eq!(m.rcode, "NOERROR");
    }

    #[test]
    fn cipher_tables() {
        // TLS_RSA_WITH_AES_128_CBC_SHA
        let w = cipher_weaknesses(0x002f);
        assert!(
            w.contains(&"no forward secrecy (RSA key exchange)"),
            "{w:?}"
        );
        // TLS_AES_128_GCM_SHA256
        assert!(cipher_weaknesses(0x1301).is_empty());
        assert_eq!(cipher_name(0x1301), "TLS_AES_128_GCM_SHA256");
        assert_eq!(tls_version_name(0x0303), "TLS 1.2");
    }
}
