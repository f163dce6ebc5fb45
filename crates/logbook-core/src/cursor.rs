//! Feed cursors: opaque, tamper-proof page positions.
//!
//! A cursor names the workspace, the order, the last event returned and the log
//! size when paging began, and carries an HMAC-SHA256 tag under a server secret.
//! A cursor that was altered, made up, or taken from another workspace or order
//! is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::filter::{Order, Position};
use crate::mac::{hmac_sha256, verify_tag};
use crate::timestamp::Timestamp;

/// Why a cursor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the cursor is not valid for this feed; start again without it")]
pub struct CursorError;

/// A decoded cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The last event of the previous page.
    pub after: Position,
    /// The log size bound fixed when paging began.
    pub max_seq: u64,
}

const TAG_LENGTH: usize = 16;

fn tag(secret: &[u8], payload: &str) -> [u8; TAG_LENGTH] {
    let full = hmac_sha256(secret, payload.as_bytes());
    let mut tag = [0u8; TAG_LENGTH];
    tag.copy_from_slice(&full[..TAG_LENGTH]);
    tag
}

impl Cursor {
    /// The opaque text form, bound to `workspace` and `order`.
    pub fn encode(&self, secret: &[u8], workspace: &str, order: Order) -> String {
        let payload = format!(
            "1:{workspace}:{}:{}:{}:{}",
            order.as_str(),
            self.after.occurred_at.as_millis(),
            self.after.seq,
            self.max_seq
        );
        let mut bytes = payload.clone().into_bytes();
        bytes.extend_from_slice(&tag(secret, &payload));
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Reads a cursor made by [`Cursor::encode`] for the same workspace and order.
    pub fn decode(text: &str, secret: &[u8], workspace: &str, order: Order) -> Result<Cursor, CursorError> {
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError)?;
        if bytes.len() <= TAG_LENGTH {
            return Err(CursorError);
        }
        let (payload, presented_tag) = bytes.split_at(bytes.len() - TAG_LENGTH);
        let payload = std::str::from_utf8(payload).map_err(|_| CursorError)?;
        if !verify_tag(secret, payload.as_bytes(), presented_tag) {
            return Err(CursorError);
        }
        let parts: Vec<&str> = payload.split(':').collect();
        let [version, cursor_workspace, cursor_order, occurred_at, seq, max_seq] = parts[..] else {
            return Err(CursorError);
        };
        if version != "1" || cursor_workspace != workspace || cursor_order != order.as_str() {
            return Err(CursorError);
        }
        let number = |text: &str| text.parse::<u64>().map_err(|_| CursorError);
        Ok(Cursor {
            after: Position {
                occurred_at: Timestamp::from_millis(occurred_at.parse::<i64>().map_err(|_| CursorError)?),
                seq: number(seq)?,
            },
            max_seq: number(max_seq)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a server secret of some length..";

    #[test]
    fn round_trips_and_refuses_tampering() {
        let cursor =
            Cursor { after: Position { occurred_at: Timestamp::from_millis(1_700_000_000_000), seq: 41 }, max_seq: 99 };
        let text = cursor.encode(SECRET, "acme", Order::Desc);
        assert_eq!(Cursor::decode(&text, SECRET, "acme", Order::Desc), Ok(cursor));
        assert_eq!(Cursor::decode(&text, SECRET, "other", Order::Desc), Err(CursorError));
        assert_eq!(Cursor::decode(&text, SECRET, "acme", Order::Asc), Err(CursorError));
        assert_eq!(Cursor::decode(&text, b"another secret", "acme", Order::Desc), Err(CursorError));
        let mut bytes = URL_SAFE_NO_PAD.decode(&text).unwrap();
        bytes[10] ^= 1;
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode(bytes), SECRET, "acme", Order::Desc), Err(CursorError));
        assert_eq!(Cursor::decode("garbage", SECRET, "acme", Order::Desc), Err(CursorError));
    }
}
