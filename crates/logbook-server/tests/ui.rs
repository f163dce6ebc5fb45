//! The viewer's HTTP side through the real router: the page and its assets with
//! their security headers, sign-in and sign-out with the session cookie, the
//! cookie authenticating `/v1` reads, and the CSRF header that cookie writes need.

mod common;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use common::{OPERATOR, TestApp, event};
use logbook_core::Role;
use logbook_server::ui::assets::{ASSETS, INDEX};
use serde_json::{Value, json};
use tower::ServiceExt;

/// Sends a request with the given headers; the status, headers and body text.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, HeaderMap, String) {
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let request = request.body(body.map_or_else(Body::empty, |body| Body::from(body.to_string()))).unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default()
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_a_strict_content_security_policy() {
    let app = TestApp::new(&["acme"]).await;
    let (status, headers, body) = send(&app, Method::GET, "/ui/", &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(header(&headers, "content-type").starts_with("text/html"));
    assert!(body.contains("/ui/assets/main.js"));
    let policy = header(&headers, "content-security-policy");
    assert!(policy.contains("script-src 'self'") && policy.contains("default-src 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"), "{policy}");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert_eq!(header(&headers, "referrer-policy"), "no-referrer");
    assert_eq!(header(&headers, "cache-control"), "no-store");

    let (status, headers, _) = send(&app, Method::GET, "/ui", &[], None).await;
    assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header(&headers, "location"), "/ui/");

    for asset in ASSETS {
        let path = format!("/ui/assets/{}", asset.name);
        let (status, headers, body) = send(&app, Method::GET, &path, &[], None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, asset.body);
        assert_eq!(header(&headers, "content-type"), asset.content_type);
        assert!(header(&headers, "content-security-policy").contains("script-src 'self'"));
        let etag = header(&headers, "etag").to_string();
        let (status, _, body) = send(&app, Method::GET, &path, &[("if-none-match", &etag)], None).await;
        assert_eq!((status, body.as_str()), (StatusCode::NOT_MODIFIED, ""), "{path} revalidates");
    }
    let (status, _, _) = send(&app, Method::GET, "/ui/assets/nothing.js", &[], None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn the_assets_load_nothing_from_other_hosts_and_build_no_markup_from_strings() {
    for (name, text) in ASSETS.iter().map(|asset| (asset.name, asset.body)).chain([("index.html", INDEX)]) {
        // The only URL is the SVG namespace, which is a name, not a request.
        let without_namespace = text.replace("http://www.w3.org/2000/svg", "");
        assert!(!without_namespace.contains("://"), "{name} refers to another host");
        for forbidden in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"] {
            assert!(!text.contains(forbidden), "{name} uses {forbidden}");
        }
    }
    assert!(!INDEX.contains("<script>"), "index.html has no inline script");
    let handler = INDEX.split(" on").skip(1).any(|rest| {
        let name: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    });
    assert!(!handler, "index.html has no inline event handler");
}

#[tokio::test]
async fn signing_in_sets_an_http_only_same_site_cookie_that_reads_the_api() {
    let app = TestApp::new(&["acme"]).await;
    app.ingest("acme", vec![event("ticket.created", "ticket", "T-1")]).await;
    let admin = app.key("acme", Role::Admin).to_string();
    let csrf = ("x-logbook-ui", "1");

    // Without the viewer's header, sign-in is refused (a form on another site cannot send it).
    let (status, headers, _) = send(&app, Method::POST, "/ui/session", &[], Some(json!({"token": admin}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(headers.get("set-cookie").is_none());

    // Keys that are wrong, or cannot read a log, and other kinds of tokens are refused.
    for (token, expected) in [
        ("lbk_nosuchkey_secret".to_string(), StatusCode::UNAUTHORIZED),
        (app.key("acme", Role::Publisher).to_string(), StatusCode::FORBIDDEN),
        (app.key("acme", Role::Agent).to_string(), StatusCode::FORBIDDEN),
        (OPERATOR.to_string(), StatusCode::UNAUTHORIZED),
        (format!("{admin}; Path=/evil"), StatusCode::UNAUTHORIZED),
    ] {
        let (status, headers, _) =
            send(&app, Method::POST, "/ui/session", &[csrf], Some(json!({"token": token}))).await;
        assert_eq!(status, expected, "{token}");
        assert!(headers.get("set-cookie").is_none());
    }

    let (status, headers, body) = send(&app, Method::POST, "/ui/session", &[csrf], Some(json!({"token": admin}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let cookie = header(&headers, "set-cookie").to_string();
    assert_eq!(cookie, format!("logbook_session={admin}; Path=/; HttpOnly; SameSite=Strict"));
    let session: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(session["workspace"], "acme");
    assert_eq!(session["kind"], "api_key");
    assert_eq!(session["can_export"], true);
    assert_eq!(session["categories"], json!(["activity", "audit"]));

    // The cookie reads the API and says who the page is.
    let jar = format!("other=1; logbook_session={admin}");
    let (status, _, body) = send(&app, Method::GET, "/v1/workspaces/acme/events", &[("cookie", &jar)], None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page: Value = serde_json::from_str(&body).unwrap();
    assert!(page["events"].as_array().unwrap().iter().any(|event| event["target"]["id"] == "T-1"));
    let (status, _, body) = send(&app, Method::GET, "/ui/session", &[("cookie", &jar)], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["cookie"], true);

    // A bearer token wins over the cookie, even a bad one.
    let headers = [("cookie", jar.as_str()), ("authorization", "Bearer lbk_nosuchkey_secret")];
    let (status, _, _) = send(&app, Method::GET, "/v1/workspaces/acme/events", &headers, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Writes made with the cookie need the viewer's header.
    let body = json!({"name": "made from the page", "roles": ["supervisor"]});
    let (status, _, _) =
        send(&app, Method::POST, "/v1/workspaces/acme/keys", &[("cookie", &jar)], Some(body.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) =
        send(&app, Method::POST, "/v1/workspaces/acme/keys", &[("cookie", &jar), csrf], Some(body)).await;
    assert_eq!(status, StatusCode::CREATED);

    // Signing out forgets the cookie; without one, nobody is signed in.
    let (status, _, _) = send(&app, Method::DELETE, "/ui/session", &[("cookie", &jar)], None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, headers, _) = send(&app, Method::DELETE, "/ui/session", &[("cookie", &jar), csrf], None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(header(&headers, "set-cookie").contains("Max-Age=0"));
    let (status, _, _) = send(&app, Method::GET, "/ui/session", &[], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_viewer_token_session_says_its_scope_and_rights() {
    let app = TestApp::new(&["acme"]).await;
    let minted = app
        .call(
            Method::POST,
            "/v1/workspaces/acme/viewer-tokens",
            Some(app.key("acme", Role::Admin)),
            Some(json!({"actor": {"id": "U-5", "name": "Ana"}, "roles": ["supervisor"], "record": "ticket:T-42"})),
        )
        .await;
    let token = minted.body["token"].as_str().unwrap();
    let bearer = format!("Bearer {token}");
    let (status, _, body) = send(&app, Method::GET, "/ui/session", &[("authorization", &bearer)], None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let session: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(session["kind"], "viewer");
    assert_eq!(session["name"], "Ana");
    assert_eq!(session["record"], "ticket:T-42");
    assert_eq!(session["categories"], json!(["activity"]));
    assert_eq!(session["can_export"], false);
    assert_eq!(session["cookie"], false);
    // A viewer token is never put in the cookie.
    let (status, _, _) =
        send(&app, Method::POST, "/ui/session", &[("x-logbook-ui", "1")], Some(json!({"token": token}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The operator has no workspace to show.
    let operator = format!("Bearer {OPERATOR}");
    let (status, _, _) = send(&app, Method::GET, "/ui/session", &[("authorization", &operator)], None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
