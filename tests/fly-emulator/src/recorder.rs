//! The request log: every API request with what the client sent, so tests
//! can assert on it ("no duplicate creates", "the lease nonce was sent",
//! "macaroons went out as FlyV1"). Also stamps `fly-request-id`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::emulator::Emulator;
use crate::faults::InjectedFault;
use crate::ids;

/// Oldest entries are dropped beyond this.
const MAX_ENTRIES: usize = 10_000;
/// Larger request bodies are refused.
const MAX_BODY_BYTES: usize = 16 << 20;

#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The status the client received (after fault injection).
    pub status: u16,
    /// `Bearer`, `FlyV1`, another word, or null without `Authorization`.
    pub auth_scheme: Option<String>,
    /// The `fly-machine-lease-nonce` header, if sent.
    pub lease_nonce: Option<String>,
    /// The JSON body; a string when it was not JSON; null when empty.
    pub body: Value,
    /// Whether a fault rule matched.
    pub fault: bool,
    pub request_id: String,
}

#[derive(Debug, Default)]
pub struct RequestLog {
    entries: Mutex<(u64, VecDeque<RecordedRequest>)>,
}

impl RequestLog {
    pub fn all(&self) -> Vec<RecordedRequest> {
        self.lock().1.iter().cloned().collect()
    }

    pub fn clear(&self) {
        self.lock().1.clear();
    }

    fn push(&self, mut entry: RecordedRequest) {
        let mut entries = self.lock();
        entries.0 += 1;
        entry.seq = entries.0;
        if entries.1.len() == MAX_ENTRIES {
            entries.1.pop_front();
        }
        entries.1.push_back(entry);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, VecDeque<RecordedRequest>)> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub async fn middleware(State(emulator): State<Arc<Emulator>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let request_id = format!("{}-iad", ids::ulid());
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let error = json!({"error": format!("unreadable request body: {e}")});
            return (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(error)).into_response();
        }
    };
    let header_text = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let auth_scheme = header_text(header::AUTHORIZATION.as_str()).and_then(|value| value.split_whitespace().next().map(str::to_string));
    let mut entry = RecordedRequest {
        seq: 0,
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        status: 0,
        auth_scheme,
        lease_nonce: header_text("fly-machine-lease-nonce"),
        body: body_json(&bytes),
        fault: false,
        request_id: request_id.clone(),
    };
    let mut response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    entry.status = response.status().as_u16();
    entry.fault = response.extensions().get::<InjectedFault>().is_some();
    emulator.requests.push(entry);
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("fly-request-id", value);
    }
    response
}

fn body_json(bytes: &[u8]) -> Value {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}
