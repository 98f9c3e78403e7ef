//! TraceQL search checked against a naive reference evaluator written from the spec
//! (`harness/reference.rs`), over a generated shop whose content is known
//! (`harness/shop.rs`).
//!
//! - t10: the reference itself, on tiny hand-made traces where the answer is obvious.
//! - t20: the shop dataset, and every catalogued query answered by the reference.
//! - t30: a real node on real ports answers every catalogued query as the reference does.

#[path = "../harness/mod.rs"]
mod harness;

mod queries;
mod t10_reference_on_hand_made_traces;
mod t20_shop_dataset_and_query_catalogue;
mod t30_engine_matches_the_reference;
