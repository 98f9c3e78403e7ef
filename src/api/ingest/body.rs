//! Request bodies of the HTTP receivers: read with a byte limit, then `Content-Encoding`
//! undone with the same limit on the decompressed size.
//!
//! ```text
//!  payload ──read_limited(limit)──► wire bytes ──decompress(encoding, limit)──► body
//!            past limit: TooLarge (413)          past limit: TooLarge (413, a bomb)
//!                                                unknown encoding / corrupt: Malformed (400)
//! ```

use std::io::Read;

use actix_web::http::header::CONTENT_ENCODING;
use actix_web::{HttpRequest, web};
use futures::StreamExt;

use crate::actors::distributor::IngestError;

/// Reads and decompresses a request's body, at most `limit` bytes on the wire and after
/// decompression; returns the body and its size on the wire.
pub(crate) async fn read_body(
    request: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<(Vec<u8>, usize), IngestError> {
    let content_encoding = request
        .headers()
        .get(CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let wire = read_limited(payload, limit).await?;
    let wire_bytes = wire.len();
    Ok((decompress(&content_encoding, wire, limit)?, wire_bytes))
}

/// Reads the body, refusing it as soon as it passes `limit` bytes.
async fn read_limited(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, IngestError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| IngestError::Malformed {
            message: format!("could not read the request body: {error}"),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(IngestError::TooLarge { size: body.len() + chunk.len(), limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Undoes `Content-Encoding`, refusing output past `limit` bytes.
fn decompress(content_encoding: &str, wire: Vec<u8>, limit: usize) -> Result<Vec<u8>, IngestError> {
    let reader: Box<dyn Read + '_> = match content_encoding {
        "" | "identity" => return Ok(wire),
        "gzip" | "x-gzip" => Box::new(flate2::read::GzDecoder::new(wire.as_slice())),
        "deflate" => Box::new(flate2::read::ZlibDecoder::new(wire.as_slice())),
        "zstd" => Box::new(zstd::stream::read::Decoder::new(wire.as_slice()).map_err(|error| {
            IngestError::Malformed { message: format!("invalid zstd body: {error}") }
        })?),
        other => {
            return Err(IngestError::Malformed {
                message: format!(
                    "unsupported content encoding {other:?}: use gzip, deflate, zstd or none"
                ),
            });
        }
    };
    let mut body = Vec::new();
    // One byte past the limit tells "too large" apart from "exactly at the limit".
    let read = reader.take(limit as u64 + 1).read_to_end(&mut body).map_err(|error| {
        IngestError::Malformed { message: format!("invalid {content_encoding} body: {error}") }
    })?;
    if read > limit {
        return Err(IngestError::TooLarge { size: read, limit });
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_bodies_are_decompressed_within_the_limit() {
        let body = decompress("gzip", gzip(b"hello"), 5).unwrap();
        assert_eq!(body, b"hello");
    }

    #[test]
    fn a_compressed_bomb_is_refused_as_too_large() {
        let bomb = gzip(&vec![0u8; 1 << 20]);
        assert!(bomb.len() < 10_000);
        let error = decompress("gzip", bomb, 1000).unwrap_err();
        assert!(matches!(error, IngestError::TooLarge { limit: 1000, .. }));
    }

    #[test]
    fn unknown_encodings_and_corrupt_gzip_are_malformed() {
        assert!(matches!(decompress("br", vec![1], 10), Err(IngestError::Malformed { .. })));
        assert!(matches!(
            decompress("gzip", vec![1, 2, 3], 10),
            Err(IngestError::Malformed { .. })
        ));
    }
}
