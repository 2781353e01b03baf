//! Segment signatures (format 1.1): the recorder signs every footer with ed25519, so that
//! an attacker who can rewrite the files, and so recompute every SHA-256 of the chain,
//! still cannot produce footers that verify under the recorder's public key.
//!
//! The unkeyed chain (§8 of FORMAT.md) proves only that nobody changed the bytes
//! *without* recomputing the hashes. A signature binds each footer (its chain hash,
//! recording id, segment number, reason and counts) to a key the attacker does not hold.
//! See FORMAT.md §8.1 for the signed message, byte by byte.

use crate::meta::SegmentFooter;
use ed25519_dalek::{Signature, Signer};
use std::io::Read;
use std::path::Path;

pub use ed25519_dalek::{SigningKey, VerifyingKey};

/// First bytes of every signed message, so a signature made for a Rewind footer can never
/// be taken for one made for anything else.
pub const SIGNATURE_CONTEXT: &[u8] = b"rewind segment footer v1\0";

/// A key that could not be read or parsed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a key.
    #[error("{what}: {reason}")]
    Invalid {
        /// Where the text came from (file name, or "the key given").
        what: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The message a footer's signature covers: every footer field except `public_key` and
/// `signature`, in a fixed binary layout (strings length-prefixed, integers little-endian).
pub fn signed_message(f: &SegmentFooter) -> Vec<u8> {
    fn put_str(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
    let mut m = Vec::with_capacity(256);
    m.extend_from_slice(SIGNATURE_CONTEXT);
    put_str(&mut m, &f.trace_id);
    m.extend_from_slice(&f.seq.to_le_bytes());
    put_str(&mut m, f.prev_sha256.as_deref().unwrap_or(""));
    put_str(&mut m, &f.sha256);
    put_str(&mut m, &f.reason);
    for n in [f.records, f.frames, f.first_ts, f.last_ts, f.lost] {
        m.extend_from_slice(&n.to_le_bytes());
    }
    m.extend_from_slice(&(f.counts.len() as u32).to_le_bytes());
    for (k, v) in &f.counts {
        put_str(&mut m, k);
        m.extend_from_slice(&v.to_le_bytes());
    }
    m
}

/// Signs `footer` in place: sets `public_key` and `signature`.
pub fn sign_footer(footer: &mut SegmentFooter, key: &SigningKey) {
    footer.public_key = None;
    footer.signature = None;
    let sig = key.sign(&signed_message(footer));
    footer.public_key = Some(key_hex(&key.verifying_key()));
    footer.signature = Some(hex::encode(sig.to_bytes()));
}

/// What a footer's signature says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureStatus {
    /// The footer carries no signature (written before format 1.1, or unsigned).
    Missing,
    /// The signature verifies under `public_key` (the expected key, when one was given).
    Valid {
        /// The signer, 64 hex digits.
        public_key: String,
    },
    /// Signed by another key than the one expected.
    OtherKey {
        /// The key named in the footer.
        public_key: String,
    },
    /// The signature does not verify, or the fields are malformed.
    Bad {
        /// Why.
        reason: String,
    },
}

/// Checks a footer's signature: against `expected` when given (the footer must name that
/// key), otherwise against the key the footer itself names (which proves only that the
/// footer was not damaged, not who wrote it).
pub fn check_footer(f: &SegmentFooter, expected: Option<&VerifyingKey>) -> SignatureStatus {
    let (Some(pk), Some(sig)) = (&f.public_key, &f.signature) else {
        return match (&f.public_key, &f.signature) {
            (None, None) => SignatureStatus::Missing,
            _ => SignatureStatus::Bad {
                reason: "the footer has a key without a signature, or a signature without a key"
                    .into(),
            },
        };
    };
    let key = match expected {
        Some(k) if key_hex(k) != pk.to_ascii_lowercase() => {
            return SignatureStatus::OtherKey {
                public_key: pk.clone(),
            }
        }
        Some(k) => *k,
        None => match parse_public_key(pk, "the footer's public_key") {
            Ok(k) => k,
            Err(e) => {
                return SignatureStatus::Bad {
                    reason: e.to_string(),
                }
            }
        },
    };
    let mut raw = [0u8; 64];
    if hex::decode_to_slice(sig, &mut raw).is_err() {
        return SignatureStatus::Bad {
            reason: "the signature is not 128 hex digits".into(),
        };
    }
    match key.verify_strict(&signed_message(f), &Signature::from_bytes(&raw)) {
        Ok(()) => SignatureStatus::Valid {
            public_key: key_hex(&key),
        },
        Err(_) => SignatureStatus::Bad {
            reason: format!("the signature does not verify under key {}", key_hex(&key)),
        },
    }
}

/// A public key as 64 lowercase hex digits (the form printed, logged and stored).
pub fn key_hex(k: &VerifyingKey) -> String {
    hex::encode(k.as_bytes())
}

fn hex32(text: &str, what: &str) -> Result<[u8; 32], KeyError> {
    let t = text.trim();
    let mut out = [0u8; 32];
    hex::decode_to_slice(t, &mut out).map_err(|e| KeyError::Invalid {
        what: what.to_string(),
        reason: format!("expected 64 hex digits ({e})"),
    })?;
    Ok(out)
}

/// Parses a public key from 64 hex digits.
pub fn parse_public_key(text: &str, what: &str) -> Result<VerifyingKey, KeyError> {
    VerifyingKey::from_bytes(&hex32(text, what)?).map_err(|e| KeyError::Invalid {
        what: what.to_string(),
        reason: format!("not an ed25519 public key ({e})"),
    })
}

/// A public key given on the command line: 64 hex digits, or a file holding them.
pub fn public_key_arg(arg: &str) -> Result<VerifyingKey, KeyError> {
    let t = arg.trim();
    if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return parse_public_key(t, "the key given");
    }
    let path = Path::new(arg);
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_public_key(&text, &path.display().to_string())
}

/// Reads a private key file: the 32-byte ed25519 seed as 64 hex digits (whitespace around
/// it ignored), as `recorder keygen` writes it.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(SigningKey::from_bytes(&hex32(
        &text,
        &path.display().to_string(),
    )?))
}

/// A fresh key from the kernel's random number generator.
pub fn generate_key() -> std::io::Result<SigningKey> {
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The private key file's content: the seed as 64 hex digits and a newline.
pub fn signing_key_text(k: &SigningKey) -> String {
    format!("{}\n", hex::encode(k.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn footer() -> SegmentFooter {
        SegmentFooter {
            trace_id: "5e5e5e5e000000000000000000000001".into(),
            seq: 2,
            records: 20,
            frames: 5,
            counts: [("exec".to_string(), 3u64), ("exit".to_string(), 2)]
                .into_iter()
                .collect(),
            first_ts: 10,
            last_ts: 99,
            lost: 0,
            prev_sha256: Some("aa".repeat(32)),
            sha256: "bb".repeat(32),
            reason: "size".into(),
            ..Default::default()
        }
    }

    fn key(b: u8) -> SigningKey {
        SigningKey::from_bytes(&[b; 32])
    }

    #[test]
    fn signed_footer_verifies_with_and_without_the_expected_key() {
        let mut f = footer();
        sign_footer(&mut f, &key(7));
        let pk = key(7).verifying_key();
        assert_eq!(f.public_key.as_deref(), Some(key_hex(&pk).as_str()));
        assert_eq!(f.signature.as_ref().map(String::len), Some(128));
        let valid = SignatureStatus::Valid {
            public_key: key_hex(&pk),
        };
        assert_eq!(check_footer(&f, Some(&pk)), valid);
        assert_eq!(check_footer(&f, None), valid);
    }

    #[test]
    fn every_signed_field_is_covered() {
        let mut f = footer();
        sign_footer(&mut f, &key(7));
        let pk = key(7).verifying_key();
        type Edit = Box<dyn Fn(&mut SegmentFooter)>;
        let edits: Vec<(&str, Edit)> = vec![
            ("trace_id", Box::new(|f| f.trace_id.push('0'))),
            ("seq", Box::new(|f| f.seq += 1)),
            ("prev", Box::new(|f| f.prev_sha256 = None)),
            ("sha256", Box::new(|f| f.sha256 = "cc".repeat(32))),
            ("reason", Box::new(|f| f.reason = "shutdown".into())),
            ("records", Box::new(|f| f.records -= 1)),
            ("frames", Box::new(|f| f.frames += 1)),
            ("first_ts", Box::new(|f| f.first_ts += 1)),
            ("last_ts", Box::new(|f| f.last_ts += 1)),
            ("lost", Box::new(|f| f.lost += 1)),
            (
                "counts",
                Box::new(|f| *f.counts.entry("exec".into()).or_default() += 1),
            ),
        ];
        for (name, edit) in edits {
            let mut g = f.clone();
            edit(&mut g);
            assert!(
                matches!(check_footer(&g, Some(&pk)), SignatureStatus::Bad { .. }),
                "{name} edited but the signature still verifies"
            );
            assert!(
                matches!(check_footer(&g, None), SignatureStatus::Bad { .. }),
                "{name}"
            );
        }
    }

    #[test]
    fn wrong_key_missing_and_malformed_signatures() {
        let mut f = footer();
        assert_eq!(check_footer(&f, None), SignatureStatus::Missing);
        let other = key(8).verifying_key();
        assert_eq!(check_footer(&f, Some(&other)), SignatureStatus::Missing);
        sign_footer(&mut f, &key(7));
        assert!(matches!(
            check_footer(&f, Some(&other)),
            SignatureStatus::OtherKey { .. }
        ));
        // An attacker re-signing with their own key verifies only under that key.
        let mut forged = f.clone();
        forged.sha256 = "cc".repeat(32);
        sign_footer(&mut forged, &key(9));
        assert!(matches!(
            check_footer(&forged, None),
            SignatureStatus::Valid { .. }
        ));
        assert!(matches!(
            check_footer(&forged, Some(&key(7).verifying_key())),
            SignatureStatus::OtherKey { .. }
        ));
        // Claiming the right key with a signature made by another.
        forged.public_key = Some(key_hex(&key(7).verifying_key()));
        assert!(matches!(
            check_footer(&forged, Some(&key(7).verifying_key())),
            SignatureStatus::Bad { .. }
        ));
        let mut g = f.clone();
        g.signature = Some("zz".into());
        assert!(matches!(
            check_footer(&g, None),
            SignatureStatus::Bad { .. }
        ));
        let mut g = f.clone();
        g.signature = None;
        assert!(matches!(
            check_footer(&g, None),
            SignatureStatus::Bad { .. }
        ));
    }

    #[test]
    fn key_files_and_arguments() {
        let dir = tempfile::tempdir().expect("tempdir");
        let k = generate_key().expect("urandom");
        assert_ne!(k.to_bytes(), generate_key().expect("urandom").to_bytes());
        let p = dir.path().join("k");
        std::fs::write(&p, signing_key_text(&k)).expect("write");
        let back = read_signing_key(&p).expect("read");
        assert_eq!(back.to_bytes(), k.to_bytes());
        let pk_hex = key_hex(&k.verifying_key());
        assert_eq!(public_key_arg(&pk_hex).expect("hex"), k.verifying_key());
        let pf = dir.path().join("k.pub");
        std::fs::write(&pf, format!("{pk_hex}\n")).expect("write");
        assert_eq!(
            public_key_arg(pf.to_str().expect("utf8")).expect("file"),
            k.verifying_key()
        );
        std::fs::write(&p, "not a key").expect("write");
        let e = read_signing_key(&p).expect_err("bad key");
        assert!(e.to_string().contains("64 hex digits"), "{e}");
        let e = public_key_arg("/nonexistent/key").expect_err("missing");
        assert!(e.to_string().contains("/nonexistent/key"), "{e}");
    }
}
