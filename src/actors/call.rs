//! Calls into actors: every request has a timeout, and a handle survives its actor's restarts.
//!
//! ```text
//!  handle ──► ActorSlot (watch: current ActorRef or none while restarting)
//!                 │ send; if the slot is empty, wait for the supervisor to fill it
//!                 ▼
//!             actor mailbox ──► reply port ──► Result<T, CallError>
//! ```
//!
//! A message is only retried while the slot is empty, never after it reached a mailbox: a
//! request that may have had an effect (an append that might be durable) is reported as
//! failed, not replayed, so the caller decides (the acknowledgement contract of ingest).

use std::time::Duration;

use ractor::{ActorRef, Message, RpcReplyPort};
use thiserror::Error;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::api::error_code::ErrorCode;

/// Why a call to an actor did not produce a reply.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum CallError {
    /// No reply within the deadline.
    #[error("{actor} did not answer within {timeout:?}")]
    Timeout {
        /// The actor's role, e.g. `partition log p2`.
        actor: String,
        /// The deadline that passed.
        timeout: Duration,
    },
    /// The actor stopped (or crashed) before replying, or is not running.
    #[error("{actor} is unavailable (stopped or restarting)")]
    ActorGone {
        /// The actor's role.
        actor: String,
    },
}

impl CallError {
    /// The API status for this failure: both are retryable server-side conditions.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            CallError::Timeout { .. } => ErrorCode::Timeout,
            CallError::ActorGone { .. } => ErrorCode::Unavailable,
        }
    }
}

/// The current incarnation of a supervised actor; supervisors fill it on every (re)start.
///
/// Cloning shares the slot, so handles keep working across restarts.
pub(crate) struct ActorSlot<M: Message> {
    role: String,
    sender: watch::Sender<Option<ActorRef<M>>>,
}

impl<M: Message> Clone for ActorSlot<M> {
    fn clone(&self) -> Self {
        ActorSlot { role: self.role.clone(), sender: self.sender.clone() }
    }
}

impl<M: Message> ActorSlot<M> {
    /// Creates an empty slot for an actor of the given role (used in error messages).
    pub fn new(role: impl Into<String>) -> ActorSlot<M> {
        let (sender, _receiver) = watch::channel(None);
        ActorSlot { role: role.into(), sender }
    }

    /// Publishes a freshly started actor.
    pub fn fill(&self, actor: ActorRef<M>) {
        self.sender.send_replace(Some(actor));
    }

    /// Empties the slot if it still holds `actor` (it died); a newer incarnation is kept.
    pub fn clear_if(&self, actor_id: ractor::ActorId) {
        self.sender.send_if_modified(|current| {
            if current.as_ref().is_some_and(|a| a.get_id() == actor_id) {
                *current = None;
                true
            } else {
                false
            }
        });
    }

    /// The current actor, if one is running.
    pub fn current(&self) -> Option<ActorRef<M>> {
        self.sender.borrow().clone()
    }

    /// Waits until an actor is in the slot, at most until `deadline`.
    async fn wait_for_actor(&self, deadline: Instant) -> Result<ActorRef<M>, CallError> {
        let mut receiver = self.sender.subscribe();
        loop {
            if let Some(actor) = receiver.borrow_and_update().clone() {
                return Ok(actor);
            }
            match tokio::time::timeout_at(deadline, receiver.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) | Err(_) => {
                    return Err(CallError::ActorGone { actor: self.role.clone() });
                }
            }
        }
    }

    /// Sends a request and waits for its reply, within `timeout` overall. While the actor is
    /// restarting, waits for the new incarnation; a message that was never delivered (the actor
    /// died between lookup and send) is sent once more to the next incarnation.
    pub async fn call<T, F>(&self, build: F, timeout: Duration) -> Result<T, CallError>
    where
        T: Send + 'static,
        F: FnOnce(RpcReplyPort<T>) -> M,
    {
        let deadline = Instant::now() + timeout;
        let (reply, receive) = ractor::concurrency::oneshot();
        let message = build(RpcReplyPort::from((reply, timeout)));
        let actor = self.wait_for_actor(deadline).await?;
        match actor.send_message(message) {
            Ok(()) => {}
            Err(ractor::MessagingErr::SendErr(undelivered)) => {
                self.clear_if(actor.get_id());
                let next_actor = self.wait_for_actor(deadline).await?;
                next_actor
                    .send_message(undelivered)
                    .map_err(|_| CallError::ActorGone { actor: self.role.clone() })?;
            }
            Err(_) => return Err(CallError::ActorGone { actor: self.role.clone() }),
        }
        match tokio::time::timeout_at(deadline, receive).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(CallError::ActorGone { actor: self.role.clone() }),
            Err(_) => Err(CallError::Timeout { actor: self.role.clone(), timeout }),
        }
    }

    /// Sends a message that needs no reply; fails only if no actor is running.
    pub fn cast(&self, message: M) -> Result<(), CallError> {
        match self.current() {
            Some(actor) => actor
                .send_message(message)
                .map_err(|_| CallError::ActorGone { actor: self.role.clone() }),
            None => Err(CallError::ActorGone { actor: self.role.clone() }),
        }
    }
}
