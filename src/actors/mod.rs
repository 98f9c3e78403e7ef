//! The actors of a node and their supervision tree.
//!
//! ```text
//!  node (NodeSupervisor, node.rs)
//!  ├── ingest      Distributor (distributor/)           receivers call DistributorHandle
//!  └── partitions  PartitionSupervisor × N (partition/)
//!                    ├── PartitionLog   durable WAL, group commit
//!                    └── LiveStore      recent traces, queryable by id
//! ```
//!
//! Every actor follows one pattern: a unit struct, a message enum `XMsg`, state `XState` built
//! in `pre_start`, a pure core holding the decisions, and a handle `XHandle` that alone touches
//! `ActorRef` through an `ActorSlot` (so handles survive restarts, and every call has a
//! timeout). Supervisors restart children with backoff ([`supervision`]) and escalate when
//! restarts come too fast. Named fault points ([`faults`]) let tests kill any actor at any step.
//! The cluster, query, backend and generator subtrees of DESIGN.md arrive with their issues.

pub(crate) mod call;
pub mod distributor;
pub mod faults;
pub mod metrics;
pub(crate) mod node;
pub(crate) mod partition;
pub mod query;
pub mod supervision;

pub use distributor::DistributorHandle;
