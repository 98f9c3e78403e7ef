//! Mutual TLS between nodes (`cluster.tls`): every node presents its certificate and accepts
//! only peers whose certificate the cluster's CA signed. Without it the port is plaintext,
//! guarded by the shared secret alone.

use std::path::Path;

use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

use super::TransportError;
use crate::config::ClusterTlsConfig;

/// The PEM material of a node, loaded once at start.
#[derive(Clone)]
pub struct ClusterTls {
    identity: Identity,
    ca: Certificate,
}

impl ClusterTls {
    /// Loads the files `config` names; `None` when TLS is off.
    pub fn load(config: &ClusterTlsConfig) -> Result<Option<ClusterTls>, TransportError> {
        if !config.enabled() {
            return Ok(None);
        }
        // rustls is built with two crypto back ends here (object_store brings aws-lc-rs), so it
        // cannot pick one itself: choose ring, tonic's. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let read = |key: &str, file: &str| {
            std::fs::read(Path::new(file)).map_err(|error| TransportError::Tls {
                reason: format!("cannot read {key} {file}: {error}"),
            })
        };
        let cert = read("cluster.tls.cert_file", &config.cert_file)?;
        let key = read("cluster.tls.key_file", &config.key_file)?;
        let ca = read("cluster.tls.ca_file", &config.ca_file)?;
        Ok(Some(ClusterTls {
            identity: Identity::from_pem(cert, key),
            ca: Certificate::from_pem(ca),
        }))
    }

    /// What the cluster service serves with: its identity, and client certificates required.
    pub fn server(&self) -> ServerTlsConfig {
        ServerTlsConfig::new().identity(self.identity.clone()).client_ca_root(self.ca.clone())
    }

    /// What a connection to `host` uses: the CA to check the peer, this node's identity.
    pub fn client(&self, host: &str) -> ClientTlsConfig {
        ClientTlsConfig::new()
            .ca_certificate(self.ca.clone())
            .identity(self.identity.clone())
            .domain_name(host.to_string())
    }
}
