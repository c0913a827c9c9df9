//! The OpenAPI 3 document of `/api/v1`, kept as a JSON file beside the dashboard
//! assets and compiled in; an integration test calls every documented path and
//! checks the documented keys of each `200` answer against the running server.

use http::StatusCode;

use crate::http::response::{self, Body};

/// The document.
pub const DOCUMENT: &str = include_str!("../../assets/openapi.json");

/// `GET /api/v1/openapi.json`.
pub fn document() -> http::Response<Body> {
    response::json_body(StatusCode::OK, DOCUMENT.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_is_valid_json_with_paths() {
        let v: serde_json::Value = serde_json::from_str(super::DOCUMENT).unwrap();
        assert_eq!(v["openapi"].as_str().map(|s| &s[..2]), Some("3."));
        assert!(v["paths"]["/api/v1/breakdown"].is_object());
    }
}
