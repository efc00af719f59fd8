//! Writing a request: the head (and a small body) into one reused buffer, after checking what
//! the workload gave — a plugin's path or header could otherwise smuggle a second request onto
//! the connection.

use hyper::Method;
use hyper::header::HeaderValue;

use super::error::ClientError;
use crate::workload::RequestSpec;

/// Request bodies up to this size are copied behind the head and sent in one write.
pub(super) const COALESCE_BODY: usize = 64 * 1024;

/// Serialises the request head (and a body up to [`COALESCE_BODY`]) into `out`.
pub(super) fn encode(
    spec: &RequestSpec,
    host: &HeaderValue,
    out: &mut Vec<u8>,
) -> Result<(), ClientError> {
    let invalid = ClientError::InvalidRequest;
    if !spec.path.starts_with('/') || spec.path.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(invalid(format!(
            "path {:?} must start with / and contain no spaces or control characters",
            spec.path
        )));
    }
    out.clear();
    out.extend_from_slice(spec.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(spec.path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &spec.headers {
        if name.is_empty() || !name.bytes().all(is_token_char) {
            return Err(invalid(format!("header name {name:?}")));
        }
        if value.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f) {
            return Err(invalid(format!("value of header {name}")));
        }
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("host")
        {
            return Err(invalid(format!(
                "header {name} is set by the harness, not the workload"
            )));
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let body_expected = matches!(spec.method, Method::POST | Method::PUT | Method::PATCH);
    if !spec.body.is_empty() || body_expected {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(itoa::Buffer::new().format(spec.body.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if spec.body.len() <= COALESCE_BODY {
        out.extend_from_slice(&spec.body);
    }
    Ok(())
}

/// `tchar` of RFC 9110 §5.6.2.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn workload_cannot_smuggle_a_request() {
        let host = HeaderValue::from_static("127.0.0.1:1");
        let spec = |path: &str, headers: Vec<(String, String)>| RequestSpec {
            method: Method::GET,
            path: path.into(),
            headers,
            body: Bytes::new(),
            name: "x".into(),
        };
        let mut out = Vec::new();
        encode(
            &spec("/a?b=c", vec![("x-a".into(), "1".into())]),
            &host,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out,
            b"GET /a?b=c HTTP/1.1\r\nhost: 127.0.0.1:1\r\nx-a: 1\r\n\r\n"
        );
        for bad in [
            spec("/a HTTP/1.1\r\n\r\nGET /b", vec![]),
            spec("a", vec![]),
            spec("/", vec![("x\r\nevil".into(), "1".into())]),
            spec("/", vec![("x".into(), "1\r\n\r\nGET / HTTP/1.1".into())]),
            spec("/", vec![("content-length".into(), "9".into())]),
        ] {
            assert!(
                matches!(
                    encode(&bad, &host, &mut out),
                    Err(ClientError::InvalidRequest(_))
                ),
                "{:?}",
                bad.path
            );
        }
    }
}
