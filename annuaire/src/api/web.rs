//! The analysts' web page and the operators' page (`/ops`: HTML, CSS and JavaScript compiled into the binary), and
//! the OpenAPI document.

use super::openapi;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub(crate) fn web_file(content_type: &'static str, body: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; \
             base-uri 'none'; form-action 'self'",
        ),
    );
    r
}

pub(crate) async fn web_page() -> Response {
    web_file("text/html; charset=utf-8", include_str!("../../web/index.html"))
}

pub(crate) async fn web_script() -> Response {
    web_file("text/javascript; charset=utf-8", include_str!("../../web/app.js"))
}

pub(crate) async fn ops_page() -> Response {
    web_file("text/html; charset=utf-8", include_str!("../../web/ops.html"))
}

pub(crate) async fn ops_script() -> Response {
    web_file("text/javascript; charset=utf-8", include_str!("../../web/ops.js"))
}

pub(crate) async fn web_style() -> Response {
    web_file("text/css; charset=utf-8", include_str!("../../web/app.css"))
}

pub(crate) async fn openapi_json() -> Response {
    let mut r = (StatusCode::OK, openapi::document().to_string()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}
