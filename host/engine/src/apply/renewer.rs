//! Keeps a lock alive while long work runs. An action may take many
//! minutes without a word (a Fly health wait, a volume copy, a database
//! verify), longer than the lock it runs under lives; a thread renews the
//! lock every third of its lifetime until the work returns or panics, so
//! the lock cannot expire and be taken over underneath. Both of ferry's
//! locks use it: the app's lock in the state store, and a VM deploy's
//! host lock.

use std::ops::ControlFlow;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ferry_state::StateStore;
use ferry_state::lock::{Lock, LockError};

use super::now_ms;

/// Where the renewer leaves why it stopped renewing (the lock was lost),
/// for the work to check between its own steps and stop.
#[derive(Debug)]
pub(crate) struct Fence<E>(Mutex<Option<E>>);

impl<E> Fence<E> {
    /// Why the lock was lost, once: the caller stops and reports it.
    pub(crate) fn take(&self) -> Option<E> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn set(&self, e: E) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
    }
}

/// Runs `work` while a thread calls `renew` every `every`. `renew` breaks
/// to stop renewing (the lock is lost, renewing further is pointless); what
/// it broke with goes to the [`Fence`] `work` is given, and is returned
/// beside `work`'s value if `work` did not take it. The thread stops when
/// `work` returns or panics.
pub(crate) fn while_renewing<T, E: Send>(
    every: Duration,
    mut renew: impl FnMut() -> ControlFlow<E> + Send,
    work: impl FnOnce(&Fence<E>) -> T,
) -> (T, Option<E>) {
    let fence = Fence(Mutex::new(None));
    let (stop, stopped) = mpsc::channel::<()>();
    let value = std::thread::scope(|scope| {
        let broken = &fence;
        scope.spawn(move || {
            while stopped.recv_timeout(every) == Err(RecvTimeoutError::Timeout) {
                if let ControlFlow::Break(e) = renew() {
                    broken.set(e);
                    return;
                }
            }
        });
        // Dropped when the work returns or unwinds: either way the renewer
        // wakes up and ends, and the scope can join it.
        let _stop = stop;
        work(&fence)
    });
    (value, fence.take())
}

/// Runs `work` while the app's lock is renewed every third of its TTL.
/// When a renewal finds the lock taken over, [`LockError::Lost`] goes to
/// the fence: `work` journals what it did and stops. A renewal that fails
/// for another reason (the store briefly unreachable) is logged and tried
/// again at the next period.
pub(super) fn renewing_app_lock<T>(store: &dyn StateStore, lock: &mut Lock, work: impl FnOnce(&Fence<LockError>) -> T) -> (T, Option<LockError>) {
    let every = Duration::from_millis((lock.ttl_ms() / 3).max(1));
    let renew = || match lock.refresh(store, now_ms()) {
        Ok(()) => ControlFlow::Continue(()),
        Err(lost @ LockError::Lost { .. }) => {
            tracing::warn!("renewing the lock on {}: it was taken over; stopping after the current action", lock.app());
            ControlFlow::Break(lost)
        }
        Err(e @ (LockError::Held { .. } | LockError::Unreadable { .. } | LockError::Store(_))) => {
            tracing::warn!("renewing the lock on {}: {e}; trying again in {} s", lock.app(), every.as_secs());
            ControlFlow::Continue(())
        }
    };
    while_renewing(every, renew, work)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[test]
    fn renews_every_period_until_the_work_returns() {
        let renewals = AtomicU32::new(0);
        let renew = || {
            renewals.fetch_add(1, Ordering::SeqCst);
            ControlFlow::<()>::Continue(())
        };
        let (value, broke) = while_renewing(Duration::from_millis(20), renew, |_| {
            std::thread::sleep(Duration::from_millis(210));
            7
        });
        assert_eq!((value, broke), (7, None));
        let n = renewals.load(Ordering::SeqCst);
        assert!((5..=11).contains(&n), "about ten renewals in 210 ms, got {n}");
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(renewals.load(Ordering::SeqCst), n, "no renewal after the work returned");
    }

    #[test]
    fn a_break_stops_renewing_and_is_handed_back() {
        let renewals = AtomicU32::new(0);
        let renew = || match renewals.fetch_add(1, Ordering::SeqCst) {
            0 => ControlFlow::Continue(()),
            _ => ControlFlow::Break("taken over"),
        };
        let ((), broke) = while_renewing(Duration::from_millis(10), renew, |_| std::thread::sleep(Duration::from_millis(150)));
        assert_eq!(broke, Some("taken over"));
        let (seen, left) = while_renewing(
            Duration::from_millis(10),
            || ControlFlow::Break("lost"),
            |fence| {
                std::thread::sleep(Duration::from_millis(100));
                fence.take()
            },
        );
        assert_eq!((seen, left), (Some("lost"), None), "the work sees the break on its fence, and took it");
        assert_eq!(renewals.load(Ordering::SeqCst), 2, "no renewal after the break");
    }

    #[test]
    fn the_renewer_stops_when_the_work_panics() {
        let renewals = std::sync::Arc::new(AtomicU32::new(0));
        let (done, finished) = mpsc::channel();
        let counter = renewals.clone();
        // Detached: a renewer that kept running would keep `while_renewing`
        // from ever returning, and this test must fail then, not hang.
        std::thread::spawn(move || {
            let renew = || {
                counter.fetch_add(1, Ordering::SeqCst);
                ControlFlow::<()>::Continue(())
            };
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                while_renewing(Duration::from_millis(10), renew, |_| {
                    std::thread::sleep(Duration::from_millis(50));
                    panic!("the action panicked")
                })
            }));
            done.send(panicked.is_err()).unwrap();
        });
        assert_eq!(finished.recv_timeout(Duration::from_secs(10)), Ok(true), "the panic came through, the renewer stopped");
        let n = renewals.load(Ordering::SeqCst);
        assert!(n >= 2, "it renewed while the work ran ({n})");
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(renewals.load(Ordering::SeqCst), n, "no renewal after the panic");
    }
}
