//! Viewer tokens: short-lived, read-only tokens that the embedding product's
//! backend mints for one of its users, to embed the viewer in its own pages.
//!
//! A token is `lbv_<payload>.<tag>`: the claims as base64url JSON and an
//! HMAC-SHA256 tag under a deployment secret. It is stateless (nothing is stored
//! per token) and lives at most 24 hours.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::access::Role;
use crate::event::Actor;
use crate::mac::{hmac_sha256, verify_tag};
use crate::timestamp::Timestamp;

/// The prefix of viewer tokens.
pub const VIEWER_TOKEN_PREFIX: &str = "lbv_";

/// The longest lifetime of a viewer token, in seconds.
pub const MAX_TTL_SECONDS: u64 = 24 * 60 * 60;

/// What a viewer token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewerClaims {
    /// The workspace it reads.
    pub workspace: String,
    /// The end user it was minted for; reads are attributed to them.
    pub actor: Actor,
    /// Their roles.
    pub roles: Vec<Role>,
    /// `type:id` when the token may see only one record's timeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// Why a viewer token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewerTokenError {
    /// It was not made by this deployment, or was altered.
    #[error("the token is not valid")]
    Invalid,
    /// It has expired.
    #[error("the viewer token has expired")]
    Expired,
}

impl ViewerClaims {
    /// The token text for these claims.
    pub fn encode(&self, secret: &[u8]) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).expect("claims serialise"));
        let signature = URL_SAFE_NO_PAD.encode(hmac_sha256(secret, payload.as_bytes()));
        format!("{VIEWER_TOKEN_PREFIX}{payload}.{signature}")
    }

    /// Reads and checks a token made by [`ViewerClaims::encode`] that has not
    /// expired at `now`.
    pub fn decode(token: &str, secret: &[u8], now: Timestamp) -> Result<ViewerClaims, ViewerTokenError> {
        let body = token.strip_prefix(VIEWER_TOKEN_PREFIX).ok_or(ViewerTokenError::Invalid)?;
        let (payload, signature) = body.split_once('.').ok_or(ViewerTokenError::Invalid)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| ViewerTokenError::Invalid)?;
        if signature.len() != 32 || !verify_tag(secret, payload.as_bytes(), &signature) {
            return Err(ViewerTokenError::Invalid);
        }
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| ViewerTokenError::Invalid)?;
        let claims: ViewerClaims = serde_json::from_slice(&json).map_err(|_| ViewerTokenError::Invalid)?;
        if claims.expires_at <= now {
            return Err(ViewerTokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ActorType;

    #[test]
    fn tokens_round_trip_expire_and_resist_tampering() {
        let claims = ViewerClaims {
            workspace: "acme".into(),
            actor: Actor {
                actor_type: ActorType::User,
                id: "U-7".into(),
                name: Some("Ana".into()),
                email: None,
                role: None,
            },
            roles: vec![Role::Supervisor],
            record: Some("ticket:T-42".into()),
            expires_at: Timestamp::from_millis(2_000),
        };
        let token = claims.encode(b"secret");
        assert_eq!(ViewerClaims::decode(&token, b"secret", Timestamp::from_millis(1_999)), Ok(claims.clone()));
        assert_eq!(
            ViewerClaims::decode(&token, b"secret", Timestamp::from_millis(2_000)),
            Err(ViewerTokenError::Expired)
        );
        assert_eq!(ViewerClaims::decode(&token, b"other", Timestamp::from_millis(0)), Err(ViewerTokenError::Invalid));
        let mut forged = claims.clone();
        forged.roles = vec![Role::Superadmin];
        let (_, signature) = token.rsplit_once('.').unwrap();
        let forged_payload = forged.encode(b"secret").rsplit_once('.').unwrap().0.to_string();
        let spliced = format!("{forged_payload}.{signature}");
        assert_eq!(
            ViewerClaims::decode(&spliced, b"secret", Timestamp::from_millis(0)),
            Err(ViewerTokenError::Invalid)
        );
        assert_eq!(ViewerClaims::decode("lbv_x", b"secret", Timestamp::from_millis(0)), Err(ViewerTokenError::Invalid));
    }
}
