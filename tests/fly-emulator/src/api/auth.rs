//! Authentication as the real API does it, strict about the scheme so a
//! client that sends a macaroon as `Bearer` fails here as it would at Fly.

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

const MACAROON_PREFIXES: [&str; 3] = ["fm1r_", "fm1a_", "fm2_"];

pub async fn require_token(mut request: Request, next: Next) -> Response {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|value| value.to_str().unwrap_or_default());
    match authenticate(header) {
        Ok(caller) => {
            request.extensions_mut().insert(caller);
            next.run(request).await
        }
        Err(message) => (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": message})),
        )
            .into_response(),
    }
}

fn authenticate(header: Option<&str>) -> Result<Caller, String> {
    let header = header.ok_or("You must be authenticated to view this.")?;
    let (scheme, token) = header.trim().split_once(' ').unwrap_or((header, ""));
    let token = token.trim();
    if token.is_empty() {
        return Err("You must be authenticated to view this.".to_string());
    }
    let macaroon = MACAROON_PREFIXES
        .iter()
        .any(|prefix| token.starts_with(prefix));
    if scheme.eq_ignore_ascii_case("Bearer") && macaroon {
        return Err("macaroon tokens (fm1r_, fm1a_, fm2_) must be sent as `Authorization: FlyV1 <token>`, not Bearer".to_string());
    }
    if !(scheme.eq_ignore_ascii_case("Bearer") || scheme.eq_ignore_ascii_case("FlyV1")) {
        return Err(format!(
            "unsupported authorization scheme {scheme:?}; use Bearer or FlyV1"
        ));
    }
    let digest = hex::encode(Sha256::digest(token));
    Ok(Caller {
        owner: format!("user-{}@tokens.fly-emulator.test", &digest[..12]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_bearer_and_flyv1() {
        assert!(authenticate(Some("Bearer plain-token")).is_ok());
        assert!(authenticate(Some("FlyV1 fm2_abc,fm2_def")).is_ok());
        assert!(authenticate(Some("FlyV1 plain-token")).is_ok());
    }

    #[test]
    fn refuses_missing_empty_unknown_and_macaroon_bearer() {
        assert!(authenticate(None).is_err());
        assert!(authenticate(Some("Bearer ")).is_err());
        assert!(authenticate(Some("Basic abc")).is_err());
        for token in ["fm1r_x", "fm1a_x", "fm2_x"] {
            let error = authenticate(Some(&format!("Bearer {token}"))).unwrap_err();
            assert!(error.contains("FlyV1"), "{error}");
        }
    }

    #[test]
    fn owner_depends_on_the_token_only() {
        let a = authenticate(Some("Bearer one")).unwrap().owner;
        assert_eq!(a, authenticate(Some("FlyV1 one")).unwrap().owner);
        assert_ne!(a, authenticate(Some("Bearer two")).unwrap().owner);
    }
}
