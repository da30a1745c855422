//! One request at a time per upload, the newest winning.
//!
//! A client whose connection was cut resumes with HEAD then PATCH. Usually
//! the server has seen the cut too and the old PATCH is storing the last
//! bytes that arrived: the new request waits for it to end, so HEAD reports
//! every byte that reached the server and the PATCH from there is the only
//! writer. But a connection can die silently (a phone changing networks);
//! its PATCH would wait for bytes that never come, until the request
//! timeout. So a request still waiting after [`GRACE`] interrupts the one in
//! progress, which keeps the bytes it stored and ends. Of several waiting
//! requests only the newest proceeds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{watch, Mutex as AsyncMutex, OwnedMutexGuard};

/// Time the request in progress gets to finish before a newer one
/// interrupts it: far longer than storing what already arrived takes.
pub const GRACE: Duration = Duration::from_secs(2);

type Slots = Arc<Mutex<HashMap<String, Arc<Slot>>>>;

/// The turns of all uploads with a request in progress; cheap to clone.
#[derive(Clone, Default)]
pub struct Turns {
    slots: Slots,
}

struct Slot {
    lock: Arc<AsyncMutex<()>>,
    /// Bumped by every request that wants a turn: waiters older than the
    /// newest give up.
    wanted: watch::Sender<u64>,
    /// Bumped by a waiter whose grace ran out: the holder stops.
    stop: watch::Sender<u64>,
}

/// The turn on one upload: no other request touches it until this is
/// dropped. The holder should end soon after [`Turn::interrupted`].
pub struct Turn {
    slots: Slots,
    id: String,
    slot: Arc<Slot>,
    stop: watch::Receiver<u64>,
    _guard: Option<OwnedMutexGuard<()>>,
}

/// Removes `id`'s slot when `slot` is the last request holding it.
fn release(slots: &Slots, id: &str, slot: &Arc<Slot>) {
    let mut map = slots.lock().unwrap_or_else(|e| e.into_inner());
    // Clones are only made under this lock: the map's and the caller's left
    // means no request holds or awaits the slot.
    if Arc::strong_count(slot) == 2 {
        map.remove(id);
    }
}

impl Turns {
    /// Waits for the turn on upload `id`, interrupting the request in
    /// progress once [`GRACE`] has passed; None when a newer request came
    /// meanwhile (it will have the turn).
    pub async fn take(&self, id: &str) -> Option<Turn> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots
                .entry(id.to_owned())
                .or_insert_with(|| {
                    Arc::new(Slot {
                        lock: Arc::new(AsyncMutex::new(())),
                        wanted: watch::channel(0).0,
                        stop: watch::channel(0).0,
                    })
                })
                .clone()
        };
        slot.wanted.send_modify(|n| *n += 1);
        // Subscribed after our own bump: only newer requests change it.
        let mut newer = slot.wanted.subscribe();
        let guard = loop {
            let got = tokio::select! {
                guard = slot.lock.clone().lock_owned() => Some(guard),
                _ = newer.changed() => None,
                // Repeated: a holder that took the lock just as we bumped
                // missed it.
                () = tokio::time::sleep(GRACE) => {
                    slot.stop.send_modify(|n| *n += 1);
                    continue;
                }
            };
            // The lock and a newer request may have come together.
            break got.filter(|_| !newer.has_changed().unwrap_or(false));
        };
        let Some(guard) = guard else {
            release(&self.slots, id, &slot);
            return None;
        };
        Some(Turn {
            slots: self.slots.clone(),
            id: id.to_owned(),
            stop: slot.stop.subscribe(),
            slot,
            _guard: Some(guard),
        })
    }
}

impl Turn {
    /// Resolves when a newer request has waited [`GRACE`] for this turn.
    pub async fn interrupted(&mut self) {
        if self.stop.changed().await.is_err() {
            // The sender lives in the slot this turn holds: never.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self._guard = None;
        release(&self.slots, &self.id, &self.slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn is_empty(turns: &Turns) -> bool {
        turns.slots.lock().unwrap().is_empty()
    }

    #[tokio::test(start_paused = true)]
    async fn a_holder_that_ends_within_the_grace_is_not_interrupted() {
        let turns = Turns::default();
        let mut first = turns.take("u").await.unwrap();
        let waiting = tokio::spawn({
            let turns = turns.clone();
            async move { turns.take("u").await.is_some() }
        });
        let interrupted = tokio::select! {
            () = first.interrupted() => true,
            () = tokio::time::sleep(GRACE / 2) => false,
        };
        assert!(!interrupted);
        drop(first);
        assert!(waiting.await.unwrap());
        assert!(is_empty(&turns), "slots go with their last request");
    }

    #[tokio::test(start_paused = true)]
    async fn a_holder_still_busy_after_the_grace_is_interrupted() {
        let turns = Turns::default();
        let mut first = turns.take("u").await.unwrap();
        let got = Arc::new(AtomicBool::new(false));
        let waiting = tokio::spawn({
            let (turns, got) = (turns.clone(), got.clone());
            async move {
                let turn = turns.take("u").await;
                got.store(turn.is_some(), Ordering::SeqCst);
            }
        });
        let started = tokio::time::Instant::now();
        first.interrupted().await;
        assert!(started.elapsed() >= GRACE);
        assert!(
            !got.load(Ordering::SeqCst),
            "the turn waits for the holder to end"
        );
        drop(first);
        waiting.await.unwrap();
        assert!(got.load(Ordering::SeqCst));
        assert!(is_empty(&turns));
    }

    #[tokio::test(start_paused = true)]
    async fn of_two_waiting_requests_the_newest_wins() {
        let turns = Turns::default();
        let holder = turns.take("u").await.unwrap();
        let second = tokio::spawn({
            let turns = turns.clone();
            async move { turns.take("u").await.is_some() }
        });
        tokio::task::yield_now().await;
        let third = tokio::spawn({
            let turns = turns.clone();
            async move { turns.take("u").await.is_some() }
        });
        assert!(!second.await.unwrap(), "the second gave up for the third");
        drop(holder);
        assert!(third.await.unwrap());
        assert!(is_empty(&turns));
        // Other uploads are independent.
        let _a = turns.take("a").await.unwrap();
        let _b = turns.take("b").await.unwrap();
    }
}
