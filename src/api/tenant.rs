//! Which tenant a request belongs to: `X-Scope-OrgID` when multi-tenancy is on, otherwise
//! `single-tenant` (the header is then ignored), per tempo-api.md §0.5.

use thiserror::Error;

use crate::api::error_code::{ApiError, ErrorCode};
use crate::model::ids::TenantId;

/// The header (and, lower-cased, gRPC metadata key) carrying the tenant.
pub const ORG_ID_HEADER: &str = "x-scope-orgid";

/// Longest tenant id accepted.
const MAX_TENANT_LENGTH: usize = 150;

/// Why a request's tenant was refused.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum TenantError {
    /// Multi-tenancy is on and the header is missing.
    #[error("no org id")]
    Missing,
    /// The header holds an invalid id.
    #[error("invalid org id {id:?}: {reason}")]
    Invalid {
        /// The id as sent.
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Ingest names several tenants (`a|b` is for queries only).
    #[error("ingest requests take exactly one org id, got {id:?}")]
    Several {
        /// The header as sent.
        id: String,
    },
}

impl TenantError {
    /// 401 for a missing header, 400 for a malformed one.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            TenantError::Missing => ErrorCode::Unauthorized,
            TenantError::Invalid { .. } | TenantError::Several { .. } => ErrorCode::BadRequest,
        }
    }
}

impl From<TenantError> for ApiError {
    fn from(error: TenantError) -> ApiError {
        ApiError::new(error.error_code(), error.to_string())
    }
}

/// The tenant of an ingest request.
pub fn ingest_tenant(multitenancy: bool, header: Option<&str>) -> Result<TenantId, TenantError> {
    if !multitenancy {
        return Ok(TenantId::single_tenant());
    }
    let header =
        header.map(str::trim).filter(|value| !value.is_empty()).ok_or(TenantError::Missing)?;
    if header.contains('|') {
        return Err(TenantError::Several { id: header.to_string() });
    }
    validate_tenant(header)
}

/// The tenants of a query (`a|b` federates several).
pub fn query_tenants(
    multitenancy: bool,
    header: Option<&str>,
) -> Result<Vec<TenantId>, TenantError> {
    if !multitenancy {
        return Ok(vec![TenantId::single_tenant()]);
    }
    let header =
        header.map(str::trim).filter(|value| !value.is_empty()).ok_or(TenantError::Missing)?;
    let mut tenants = header.split('|').map(validate_tenant).collect::<Result<Vec<_>, _>>()?;
    tenants.sort();
    tenants.dedup();
    Ok(tenants)
}

fn validate_tenant(id: &str) -> Result<TenantId, TenantError> {
    let invalid = |reason| TenantError::Invalid { id: id.to_string(), reason };
    if id.is_empty() {
        return Err(invalid("it is empty"));
    }
    if id.len() > MAX_TENANT_LENGTH {
        return Err(invalid("it is longer than 150 characters"));
    }
    if id == "." || id == ".." {
        return Err(invalid("'.' and '..' are reserved"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "!-_.*'()".contains(c);
    if !id.chars().all(allowed) {
        return Err(invalid("only letters, digits and !-_.*'() are allowed"));
    }
    Ok(TenantId::new(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_tenant_ignores_the_header() {
        assert_eq!(ingest_tenant(false, Some("x")).unwrap().as_str(), "single-tenant");
        assert_eq!(query_tenants(false, None).unwrap(), vec![TenantId::single_tenant()]);
    }

    #[test]
    fn multitenancy_requires_a_valid_header() {
        assert_eq!(ingest_tenant(true, None), Err(TenantError::Missing));
        assert_eq!(ingest_tenant(true, Some("team-a")).unwrap().as_str(), "team-a");
        assert!(matches!(ingest_tenant(true, Some("a|b")), Err(TenantError::Several { .. })));
        assert!(matches!(ingest_tenant(true, Some("a/b")), Err(TenantError::Invalid { .. })));
        assert!(matches!(ingest_tenant(true, Some("..")), Err(TenantError::Invalid { .. })));
        assert_eq!(
            query_tenants(true, Some("b|a|b")).unwrap(),
            vec![TenantId::new("a"), TenantId::new("b")]
        );
        assert!(query_tenants(true, Some("a||b")).is_err());
    }
}
