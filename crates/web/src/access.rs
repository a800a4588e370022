//! Who may see the dashboard: the gRPC rules, checked by the same key ring.
//!
//! Every page needs what `cx.v1.MetricsService/Query` needs (the `read` role, or admin). The key
//! comes from an `Authorization: Bearer <key>` header or, for browsers, from the `cxm_key`
//! cookie the sign-in form sets (HttpOnly, SameSite=Strict). Without keys configured the ring
//! lets every call through, as the gRPC gate does; cxmd then listens on loopback only.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cxm_auth::{KeyRing, Refusal};
use serde::Deserialize;

use crate::html::{escape, page};

/// The gRPC method whose role every page needs.
const PAGE_METHOD: &str = "/cx.v1.MetricsService/Query";

/// The cookie that holds the key of a signed-in browser.
const COOKIE: &str = "cxm_key";

/// The key a request presents, as an `authorization` header value.
fn presented(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        return Some(value.to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .map(|key| format!("Bearer {key}"))
}

/// A visitor let in.
pub(crate) struct Visitor {
    /// Whether the key came from the sign-in cookie (the page then offers to sign out).
    pub(crate) signed_in: bool,
}

/// Lets a request in, or answers it with the sign-in page (401) or a refusal (403).
pub(crate) fn admit(keys: &KeyRing, headers: &HeaderMap, path: &str) -> Result<Visitor, Box<Response>> {
    let authorization = presented(headers);
    match keys.authorize(PAGE_METHOD, authorization.as_deref()) {
        Ok(key) => Ok(Visitor { signed_in: key.is_some() && headers.get(header::AUTHORIZATION).is_none() }),
        Err(Refusal::Unauthenticated(reason)) => {
            let reason = if authorization.is_none() {
                "This dashboard needs an API key with the read role.".to_owned()
            } else {
                reason
            };
            Err(Box::new(sign_in(StatusCode::UNAUTHORIZED, &reason, path)))
        }
        Err(Refusal::PermissionDenied(reason)) => {
            let main = format!(
                r##"<h1>Forbidden</h1><p class="error" role="alert">{}</p><p><a href="/login">Sign in with another key</a></p>"##,
                escape(&reason)
            );
            Err(Box::new(
                (StatusCode::FORBIDDEN, page_headers(), page("Forbidden", None, false, &main)).into_response(),
            ))
        }
    }
}

/// Headers every HTML answer carries: no caching of numbers, no framing, no scripts (the alerts
/// page alone allows its own `/assets/live.js`).
pub(crate) fn page_headers() -> [(header::HeaderName, &'static str); 5] {
    [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ]
}

/// Where to go after signing in: a path on this site, nothing else.
fn local(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') { next } else { "/" }
}

/// The sign-in page.
fn sign_in(status: StatusCode, reason: &str, next: &str) -> Response {
    let main = format!(
        r##"<h1>Sign in</h1>
<p class="error" role="alert">{reason}</p>
<div class="card">
<form method="post" action="/login">
<input type="hidden" name="next" value="{next}">
<label for="key">API key</label>
<input id="key" name="key" type="password" autocomplete="current-password" required placeholder="cxm_k…" class="key">
<p class="hint">A key with the read role (<code>cxmd keys create --role read --name dashboard</code>). The browser keeps it in an HttpOnly cookie until you sign out; scripts and other sites cannot read it.</p>
<p><button class="primary" type="submit">Sign in</button></p>
</form>
</div>
<p class="hint">Programs can send <code>Authorization: Bearer &lt;key&gt;</code> instead.</p>"##,
        reason = escape(reason),
        next = escape(local(next)),
    );
    let mut response = (status, page_headers(), page("Sign in", None, false, &main)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r##"Bearer realm="cxm""##));
    }
    response
}

/// `GET /login`.
pub(crate) async fn login_page() -> Response {
    sign_in(StatusCode::OK, "Enter an API key to see the dashboard.", "/")
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub(crate) struct Login {
    key: String,
    #[serde(default)]
    next: String,
}

/// `POST /login`: checks the key like a gRPC call would, then keeps it in the cookie.
pub(crate) async fn login(keys: &KeyRing, form: Login) -> Response {
    let key = form.key.trim();
    let well_formed = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let bearer = format!("Bearer {key}");
    let checked = if well_formed {
        keys.authorize(PAGE_METHOD, Some(&bearer))
    } else {
        Err(Refusal::Unauthenticated("that is not an API key".to_owned()))
    };
    match checked {
        Ok(_) => {
            let mut response = Redirect::to(local(&form.next)).into_response();
            let cookie = format!("{COOKIE}={key}; HttpOnly; SameSite=Strict; Path=/");
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(Refusal::Unauthenticated(reason) | Refusal::PermissionDenied(reason)) => {
            sign_in(StatusCode::UNAUTHORIZED, &reason, &form.next)
        }
    }
}

/// `POST /logout`: forgets the cookie.
pub(crate) async fn logout() -> Response {
    let mut response = Redirect::to("/login").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_static("cxm_key=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_the_header_or_the_cookie() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented(&headers), None);
        headers.insert(header::COOKIE, HeaderValue::from_static("theme=dark; cxm_key=cxm_k1_ab"));
        assert_eq!(presented(&headers).as_deref(), Some("Bearer cxm_k1_ab"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer cxm_k2_cd"));
        assert_eq!(presented(&headers).as_deref(), Some("Bearer cxm_k2_cd"));
        assert_eq!((local("/?metric=nps"), local("//evil.example"), local("https://x")), ("/?metric=nps", "/", "/"));
    }
}
