//! Authentication. Fly's docs say "All requests must include an API token
//! in the HTTP headers as follows: `Authorization: Bearer <fly_api_token>`",
//! with the token from `fly tokens deploy` (`docs:machines/api/working-with-machines-api.html.markerb:33-49`),
//! which prints `FlyV1 fm2_…`: so `Bearer FlyV1 fm2_…` and `Bearer fm2_…`
//! are accepted, as is fly-go's own `FlyV1 fm2_…` for macaroons
//! (`tokens/tokens.go:231-251`). flyctl's release client sends
//! `Bearer <macaroons,tokens>` to api.fly.io (`internal/uiex/releases.go:87`).
//! Schemes are stripped the way fly-go strips them: case-insensitively and
//! repeatedly (`TestAuthorizationHeader`). The request log records the
//! scheme each request used, for tests that hold a client to fly-go's form.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest, Sha256};

/// Who is calling, derived from the token (the same token is the same owner).
/// Leases record it as their owner.
#[derive(Debug, Clone)]
pub struct Caller {
    pub owner: String,
}

pub async fn require_token(mut request: Request, next: Next) -> Response {
    let header = request.headers().get(header::AUTHORIZATION).map(|value| value.to_str().unwrap_or_default());
    match authenticate(header) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(message) => (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": message}))).into_response(),
    }
}

fn authenticate(header: Option<&str>) -> Result<Caller, String> {
    let header = header.ok_or("You must be authenticated to view this.")?;
    let (scheme, token) = header.trim().split_once(' ').unwrap_or((header, ""));
    if !is_scheme(scheme) {
        return Err(format!("unsupported authorization scheme {scheme:?}; use Bearer or FlyV1"));
    }
    let token = strip_schemes(token);
    if token.is_empty() {
        return Err("You must be authenticated to view this.".to_string());
    }
    let digest = hex::encode(Sha256::digest(token));
    Ok(Caller { owner: format!("user-{}@tokens.fly-emulator.test", &digest[..12]) })
}

fn is_scheme(word: &str) -> bool {
    word.eq_ignore_ascii_case("Bearer") || word.eq_ignore_ascii_case("FlyV1")
}

/// `Bearer FlyV1 x` → `x` (fly-go `StripAuthorizationScheme`).
fn strip_schemes(mut token: &str) -> &str {
    loop {
        token = token.trim();
        match token.split_once(' ') {
            Some((word, rest)) if is_scheme(word) => token = rest,
            None if is_scheme(token) => return "",
            _ => return token,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_bearer_and_flyv1_with_any_token() {
        for header in ["Bearer plain-token", "FlyV1 fm2_abc,fm2_def", "FlyV1 plain-token", "Bearer fm2_abc", "Bearer FlyV1 fm2_abc", "bearer fm1r_abc,plain"] {
            assert!(authenticate(Some(header)).is_ok(), "{header}");
        }
    }

    #[test]
    fn refuses_missing_empty_and_unknown_schemes() {
        assert!(authenticate(None).is_err());
        assert!(authenticate(Some("Bearer ")).is_err());
        assert!(authenticate(Some("Bearer FlyV1")).is_err());
        assert!(authenticate(Some("Basic abc")).is_err());
    }

    #[test]
    fn owner_depends_on_the_token_only() {
        let a = authenticate(Some("Bearer one")).unwrap().owner;
        assert_eq!(a, authenticate(Some("FlyV1 one")).unwrap().owner);
        assert_eq!(a, authenticate(Some("Bearer FlyV1 one")).unwrap().owner);
        assert_ne!(a, authenticate(Some("Bearer two")).unwrap().owner);
    }
}
