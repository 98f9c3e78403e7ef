//! tonic refuses a message over `max_decoding_message_size` with `OutOfRange` before our
//! handler runs; spanlake promises `ResourceExhausted` for every size limit (as OTLP exporters
//! expect). This layer rewrites that one status on its way out.

use http::{HeaderValue, Response};
use tower::util::MapResponseLayer;

/// A response body of tonic's server.
type GrpcResponse = Response<tonic::body::Body>;

/// The layer, for `tonic::transport::Server::builder().layer(..)`.
pub(crate) fn too_large_is_resource_exhausted() -> MapResponseLayer<fn(GrpcResponse) -> GrpcResponse>
{
    MapResponseLayer::new(rewrite_out_of_range as fn(GrpcResponse) -> GrpcResponse)
}

/// `grpc-status: 11` (OutOfRange) becomes `8` (ResourceExhausted). Our own handlers never
/// return OutOfRange, so only tonic's size check is affected.
fn rewrite_out_of_range(mut response: GrpcResponse) -> GrpcResponse {
    let headers = response.headers_mut();
    if headers.get("grpc-status").is_some_and(|status| status == "11") {
        headers.insert("grpc-status", HeaderValue::from_static("8"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_becomes_resource_exhausted_and_others_pass() {
        let mut too_large = Response::new(tonic::body::Body::empty());
        too_large.headers_mut().insert("grpc-status", HeaderValue::from_static("11"));
        assert_eq!(rewrite_out_of_range(too_large).headers()["grpc-status"], "8");
        let mut invalid = Response::new(tonic::body::Body::empty());
        invalid.headers_mut().insert("grpc-status", HeaderValue::from_static("3"));
        assert_eq!(rewrite_out_of_range(invalid).headers()["grpc-status"], "3");
    }
}
