//! HMAC-SHA256, the one keyed hash Logbook uses: personal-field commitments,
//! cursor tags and viewer-token tags.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Whether `tag` is a prefix (at least 16 bytes) of the HMAC-SHA256 of `message`,
/// compared in constant time.
pub fn verify_tag(key: &[u8], message: &[u8], tag: &[u8]) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    tag.len() >= 16 && mac.verify_truncated_left(tag).is_ok()
}
