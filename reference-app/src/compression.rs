//! Dimension `compression`: whether the service compresses what `GET /codec/users` answers.
//!
//! The encoding itself — gzip, brotli or zstd — is the client's choice (`Accept-Encoding`), as
//! on the web; tower-http's `CompressionLayer` negotiates it and compresses the body as it
//! streams out. This dimension is the server's policy, decided per response by
//! [`Policy::should_compress`]:
//!
//! | option | compresses |
//! |---|---|
//! | `off` | nothing (naive for a slow link; the right call on loopback) |
//! | `always` | every body the client accepts an encoding for, however small |
//! | `above-min-size` | only bodies of at least `compression.min_bytes` (1400: about one packet); smaller ones cost CPU to save nothing |
//!
//! The lesson is that compression trades the service's CPU for bytes on the wire, and which
//! side of that trade matters depends on the link and the size: on loopback bytes are almost
//! free, on 10 Mbit/s a 200 KB body takes 160 ms. Counters: `compression_compressed_total` and
//! `compression_skipped_total` (responses the policy compressed or let through), and
//! `compression_body_bytes_total` (bytes before compression; the load generator's bytes per
//! response are after).

use std::sync::Arc;

use axum::body::HttpBody as Body;
use axum::http::{HeaderMap, header};
use tower_http::compression::predicate::Predicate;

use crate::dimension;
use crate::metric_names as names;
use crate::settings::Knob;

dimension! {
    pub enum CompressionKind as "compression", default Off, knobs [MIN_BYTES] {
        Off = "never compress, whatever Accept-Encoding offers",
        Always = "compress every body the client accepts an encoding for (gzip, br or zstd), however small",
        AboveMinSize = "compress only bodies of at least compression.min_bytes; smaller ones go as they are",
    }
}

pub const MIN_BYTES: Knob = Knob {
    index: 0,
    name: "compression.min_bytes",
    about: "above-min-size: the smallest body worth compressing, in bytes (1400: about one TCP packet)",
    default: 1_400,
    max: 100_000_000,
};

/// The per-response decision, read at each response so that a lab can change it between rounds
/// (the layer itself is built once, with every encoding enabled). `current` reads the switch:
/// a closure, because the switch lives in the service's `Settings`, which this module does not
/// know about (it is one of the dimensions `Settings` is made of).
#[derive(Clone)]
pub struct Policy {
    current: Arc<dyn Fn() -> (CompressionKind, u64) + Send + Sync>,
}

impl Policy {
    pub fn new(current: impl Fn() -> (CompressionKind, u64) + Send + Sync + 'static) -> Policy {
        Policy {
            current: Arc::new(current),
        }
    }
}

/// The body's size, when the response says it: `Content-Length`, or an exact size hint.
fn body_size<B: Body>(headers: &HeaderMap, body: &B) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .or_else(|| body.size_hint().exact())
}

impl Predicate for Policy {
    fn should_compress<B: Body>(&self, response: &axum::http::Response<B>) -> bool {
        let size = body_size(response.headers(), response.body());
        let (kind, min_bytes) = (self.current)();
        let compress = match kind {
            CompressionKind::Off => false,
            CompressionKind::Always => true,
            // Unknown size (a stream): compress, as tower-http's own SizeAbove does.
            CompressionKind::AboveMinSize => size.is_none_or(|n| n >= min_bytes),
        };
        let counter = if compress {
            names::COMPRESSION_COMPRESSED
        } else {
            names::COMPRESSION_SKIPPED
        };
        metrics::counter!(counter).increment(1);
        metrics::counter!(names::COMPRESSION_BODY_BYTES).increment(size.unwrap_or(0));
        compress
    }
}
