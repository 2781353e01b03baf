//! Decodes arbitrary bytes as one record; whatever decodes must survive
//! encode -> decode unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rewind_schema::event::{decode, encode};

fuzz_target!(|data: &[u8]| {
    let Ok(ev) = decode(data) else {
        return;
    };
    let mut buf = Vec::new();
    // A decoded variable-length field is at most 65535 bytes (u16 length), so every
    // decoded event must encode again.
    encode(&ev, &mut buf).expect("re-encoding a decoded event failed");
    let again = decode(&buf).expect("decoding a re-encoded event failed");
    assert_eq!(again, ev, "event changed across encode/decode round trip");
});
