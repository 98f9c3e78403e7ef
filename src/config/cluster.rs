//! `cluster`: how a node finds and joins its cluster, and the cluster-wide settings it uses
//! when it is the one that creates the cluster.

use serde::{Deserialize, Deserializer, Serialize};

use super::duration::HumanDuration;
use super::storage::REDACTED;

/// `cluster`: membership, replication, and the secrets guarding the internal port and the
/// admin API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// `host:port` of other nodes' cluster service (`server.grpc_listen_port`). Empty (the
    /// default): this node forms a one-node cluster of its own. When this node's own
    /// `advertise_address` is the first seed it creates the cluster, the others join it.
    /// A comma-separated string is accepted too (`--cluster.seeds=a:9095,b:9095`,
    /// `SPANLAKE_CLUSTER__SEEDS`).
    #[serde(deserialize_with = "seed_list")]
    pub seeds: Vec<String>,
    /// `host:port` other nodes use to reach this node's cluster service. Default `""`: the
    /// listen address when it names one interface, else `127.0.0.1` (enough for one host;
    /// set it when nodes run on several hosts).
    pub advertise_address: String,
    /// `host:port` other nodes and tools use to reach this node's query API. Default `""`:
    /// derived like `advertise_address` from `server.http_listen_port`.
    pub advertise_http_address: String,
    /// Failure zone of this node (rack, availability zone); replicas of a partition go to
    /// distinct zones when zones are given. Default `""` (no zones).
    pub zone: String,
    /// Shared secret every cluster request carries; printed as `<redacted>`. Required as soon
    /// as the node has seeds; a node without one refuses every cluster request. Default `""`.
    pub secret: String,
    /// Voters of the meta group: joiners become voters while there are fewer (odd: 1, 3 or
    /// 5). Default `3`.
    pub voters: u32,
    /// Replicas of each partition; a cluster with fewer nodes uses one per node. Default `3`.
    pub replication_factor: u32,
    /// Bearer token of the admin API (`/api/admin`); printed as `<redacted>`. Default `""`:
    /// the admin API refuses every request.
    pub admin_token: String,
    /// How often a Raft leader sends heartbeats. Default `250ms`.
    pub heartbeat_interval: HumanDuration,
    /// A follower that hears no leader for this long (up to twice as long, randomised)
    /// starts an election: about how long a write waits after its leader dies. Default `1s`.
    pub election_timeout: HumanDuration,
    /// Deadline of one call to another node. Default `5s`.
    pub rpc_timeout: HumanDuration,
    /// TLS between nodes (mutual: each node presents its certificate, signed by `ca_file`).
    /// Empty (the default): plaintext, guarded by the shared secret only.
    pub tls: ClusterTlsConfig,
}

/// `cluster.tls`: PEM files; either all three or none.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterTlsConfig {
    /// This node's certificate (its names must cover the host of `advertise_address`).
    pub cert_file: String,
    /// This node's private key.
    pub key_file: String,
    /// The certificate authority that signed every node's certificate.
    pub ca_file: String,
}

impl ClusterTlsConfig {
    /// Whether TLS is configured.
    pub fn enabled(&self) -> bool {
        !(self.cert_file.is_empty() && self.key_file.is_empty() && self.ca_file.is_empty())
    }
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            seeds: Vec::new(),
            advertise_address: String::new(),
            advertise_http_address: String::new(),
            zone: String::new(),
            secret: String::new(),
            voters: 3,
            replication_factor: 3,
            admin_token: String::new(),
            heartbeat_interval: HumanDuration::from_millis(250),
            election_timeout: HumanDuration::from_secs(1),
            rpc_timeout: HumanDuration::from_secs(5),
            tls: ClusterTlsConfig::default(),
        }
    }
}

impl ClusterConfig {
    /// Replaces the secrets that are set with [`REDACTED`].
    pub(super) fn redact_secrets(&mut self) {
        for secret in [&mut self.secret, &mut self.admin_token] {
            if !secret.is_empty() {
                REDACTED.clone_into(secret);
            }
        }
    }
}

/// Seeds as a YAML list or a comma-separated string (what environment variables and flags
/// give); blanks are dropped.
fn seed_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Seeds {
        List(Vec<String>),
        Text(String),
    }
    let seeds = match Seeds::deserialize(deserializer)? {
        Seeds::List(list) => list,
        Seeds::Text(text) => text.split(',').map(str::to_string).collect(),
    };
    Ok(seeds
        .into_iter()
        .map(|seed| seed.trim().to_string())
        .filter(|seed| !seed.is_empty())
        .collect())
}
