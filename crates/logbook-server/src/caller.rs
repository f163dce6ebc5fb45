//! Who is on the other end of a request, before authentication: its headers and
//! the peer address the connection came from.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::connect_info::MockConnectInfo;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;

/// The request's headers and peer address (absent in in-process tests).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The request headers.
    pub headers: HeaderMap,
    /// The TCP peer's address. Logbook does not trust forwarding headers.
    pub address: Option<IpAddr>,
}

/// The peer address recorded in a request's extensions by the server (or, as
/// axum's own `ConnectInfo` extractor does, by `MockConnectInfo` in tests).
pub fn peer_address(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
        .or_else(|| extensions.get::<MockConnectInfo<SocketAddr>>().map(|mock| mock.0.ip()))
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Caller, Infallible> {
        Ok(Caller { headers: parts.headers.clone(), address: peer_address(&parts.extensions) })
    }
}
