//! What the engine keeps about media transfers: the token uploads authenticate with (the
//! connect token; the server takes it in a header) and a cancel switch per transfer in
//! flight, found by the caller's transfer id or by the local message id.

use std::collections::HashMap;
use std::sync::Mutex;

use super::transfer::Cancel;

/// One transfer in flight.
struct InFlight {
    message_id: i64,
    cancel: Cancel,
}

/// Transfers in flight and the upload token.
#[derive(Default)]
pub struct MediaState {
    token: Mutex<Option<String>>,
    in_flight: Mutex<HashMap<String, InFlight>>,
}

/// Removes its transfer from [`MediaState`] when the transfer ends, however it ends.
pub(crate) struct Registration<'a> {
    state: &'a MediaState,
    transfer_id: String,
    pub cancel: Cancel,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        self.state.lock().remove(&self.transfer_id);
    }
}

impl MediaState {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, InFlight>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn set_token(&self, token: &str) {
        *self.token.lock().unwrap_or_else(|e| e.into_inner()) = Some(token.to_owned());
    }

    pub(crate) fn token(&self) -> Option<String> {
        self.token.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Registers a transfer; `None` when `transfer_id` or `message_id` (when not 0) is
    /// already moving (two transfers of one message would race on its file and status).
    pub(crate) fn register(&self, transfer_id: &str, message_id: i64) -> Option<Registration<'_>> {
        let mut map = self.lock();
        let busy = map.contains_key(transfer_id)
            || (message_id != 0 && map.values().any(|t| t.message_id == message_id));
        if busy {
            return None;
        }
        let cancel = Cancel::default();
        map.insert(
            transfer_id.to_owned(),
            InFlight {
                message_id,
                cancel: cancel.clone(),
            },
        );
        Some(Registration {
            state: self,
            transfer_id: transfer_id.to_owned(),
            cancel,
        })
    }

    /// Ties a registered transfer to the message stored for it.
    pub(crate) fn set_message(&self, transfer_id: &str, message_id: i64) {
        if let Some(t) = self.lock().get_mut(transfer_id) {
            t.message_id = message_id;
        }
    }

    /// Cancels the transfers of `message_id` (when not 0) or with `transfer_id`; returns
    /// how many were cancelled.
    pub(crate) fn cancel(&self, transfer_id: Option<&str>, message_id: i64) -> usize {
        let map = self.lock();
        let mut n = 0;
        for (id, t) in map.iter() {
            if Some(id.as_str()) == transfer_id || (message_id != 0 && t.message_id == message_id) {
                t.cancel.cancel();
                n += 1;
            }
        }
        n
    }
}
