//! The router's own responses: small HTML pages that tell the visitor what is wrong.

use bytes::Bytes;
use http::{header, Response, StatusCode};
use http_body_util::Full;

pub fn page(status: StatusCode, title: &str, detail: &str, request_id: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;max-width:40em;margin:4em auto\">\
         <h1>{title}</h1><p>{detail}</p><p><small>Berth router &middot; request id {request_id}</small></p>\
         </body></html>\n",
        title = escape(title),
        detail = escape(detail),
        request_id = escape(request_id),
    );
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-request-id", request_id)
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
