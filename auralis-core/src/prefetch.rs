//! Prefetch: a fixed pool of worker threads that run queued jobs ahead of need.
//!
//! A job is a boxed closure with a [`Priority`]: [`Priority::Ahead`] (the next chunks of the
//! playing stream) before [`Priority::Alternative`] (the same chunk in other presets), first in
//! first out within a priority. The queue knows nothing of what a job does: the stream engine
//! queues closures that hold their stream weakly and report [`Outcome::Cancelled`] when it is
//! gone or its prefetch was cancelled. Requests a caller waits for never enter this queue: they
//! run on the caller's thread and, while any runs (`Prefetcher::foreground`), workers start
//! no new job, so a waited-for request shares the CPU only with jobs already running (at most
//! one job per worker).

use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// How urgent a prefetch job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Other settings of a chunk (a preset switch the listener may make).
    Alternative = 0,
    /// The next chunks of what is playing.
    Ahead = 1,
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It did its work (or found it done).
    Done,
    /// It failed (the error is the one a request for the same work would get).
    Failed,
    /// It was no longer wanted and did nothing.
    Cancelled,
}

/// Counters of the prefetcher.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrefetchStats {
    /// Jobs queued.
    pub queued: u64,
    /// Jobs run to the end (rendered, or found in the cache).
    pub completed: u64,
    /// Jobs dropped unrun (stream dropped or prefetch cancelled).
    pub cancelled: u64,
    /// Jobs that failed (the error is the one a request for the chunk would get).
    pub failed: u64,
    /// Jobs waiting now.
    pub pending: u64,
}

/// A queued job's work.
pub type Work = Box<dyn FnOnce() -> Outcome + Send>;

struct Queued {
    priority: Priority,
    seq: u64,
    work: Work,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Max-heap: higher priority first, then the older job (lower seq).
        self.priority
            .cmp(&other.priority)
            .then(other.seq.cmp(&self.seq))
    }
}

struct State {
    heap: BinaryHeap<Queued>,
    seq: u64,
    foreground: usize,
    shut_down: bool,
}

/// The queue and its workers.
pub(crate) struct Prefetcher {
    state: Mutex<State>,
    wake: Condvar,
    queued: AtomicU64,
    completed: AtomicU64,
    cancelled: AtomicU64,
    failed: AtomicU64,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Marks a waited-for request in progress; workers start no job while one exists.
pub(crate) struct ForegroundGuard {
    prefetcher: Arc<Prefetcher>,
}

impl Drop for ForegroundGuard {
    fn drop(&mut self) {
        lock(&self.prefetcher.state).foreground -= 1;
        self.prefetcher.wake.notify_all();
    }
}

impl Prefetcher {
    pub(crate) fn start(workers: usize) -> Arc<Self> {
        let p = Arc::new(Prefetcher {
            state: Mutex::new(State {
                heap: BinaryHeap::new(),
                seq: 0,
                foreground: 0,
                shut_down: workers == 0,
            }),
            wake: Condvar::new(),
            queued: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        });
        for n in 0..workers {
            let p = p.clone();
            std::thread::Builder::new()
                .name(format!("auralis-prefetch-{n}"))
                .spawn(move || p.work())
                .expect("spawning a prefetch worker");
        }
        p
    }

    pub(crate) fn foreground(self: &Arc<Self>) -> ForegroundGuard {
        lock(&self.state).foreground += 1;
        ForegroundGuard {
            prefetcher: self.clone(),
        }
    }

    /// Queues `work`; a stopped pool (or one without workers) drops it as cancelled.
    pub(crate) fn push(&self, priority: Priority, work: Work) {
        let mut state = lock(&self.state);
        if state.shut_down {
            self.cancelled.fetch_add(1, Ordering::Relaxed);
            return;
        }
        state.seq += 1;
        let seq = state.seq;
        state.heap.push(Queued {
            priority,
            seq,
            work,
        });
        self.queued.fetch_add(1, Ordering::Relaxed);
        drop(state);
        self.wake.notify_one();
    }

    pub(crate) fn shut_down(&self) {
        let mut state = lock(&self.state);
        state.shut_down = true;
        let dropped = state.heap.len() as u64;
        state.heap.clear();
        self.cancelled.fetch_add(dropped, Ordering::Relaxed);
        drop(state);
        self.wake.notify_all();
    }

    pub(crate) fn stats(&self) -> PrefetchStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        PrefetchStats {
            queued: get(&self.queued),
            completed: get(&self.completed),
            cancelled: get(&self.cancelled),
            failed: get(&self.failed),
            pending: lock(&self.state).heap.len() as u64,
        }
    }

    fn work(&self) {
        loop {
            let work = {
                let mut state = lock(&self.state);
                loop {
                    if state.shut_down {
                        return;
                    }
                    if state.foreground == 0 {
                        if let Some(q) = state.heap.pop() {
                            break q.work;
                        }
                    }
                    state = self
                        .wake
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            let counter = match work() {
                Outcome::Done => &self.completed,
                Outcome::Failed => &self.failed,
                Outcome::Cancelled => &self.cancelled,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ahead_jobs_run_before_alternatives_and_each_priority_in_order() {
        let mut heap = BinaryHeap::new();
        let order = [
            Priority::Alternative,
            Priority::Ahead,
            Priority::Alternative,
            Priority::Ahead,
        ];
        for (seq, priority) in order.into_iter().enumerate() {
            heap.push(Queued {
                priority,
                seq: seq as u64,
                work: Box::new(|| Outcome::Done),
            });
        }
        let popped: Vec<(Priority, u64)> = std::iter::from_fn(|| heap.pop())
            .map(|q| (q.priority, q.seq))
            .collect();
        assert_eq!(
            popped,
            [
                (Priority::Ahead, 1),
                (Priority::Ahead, 3),
                (Priority::Alternative, 0),
                (Priority::Alternative, 2)
            ]
        );
    }

    #[test]
    fn outcomes_are_counted_and_a_stopped_pool_takes_none() {
        let p = Prefetcher::start(0);
        p.push(Priority::Ahead, Box::new(|| Outcome::Done));
        assert_eq!(p.stats().cancelled, 1);
        assert_eq!(p.stats().pending, 0);
        let p = Prefetcher::start(1);
        for outcome in [Outcome::Cancelled, Outcome::Failed, Outcome::Done] {
            p.push(Priority::Ahead, Box::new(move || outcome));
        }
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while p.stats().completed == 0 && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let s = p.stats();
        assert_eq!((s.cancelled, s.failed, s.completed), (1, 1, 1));
        p.shut_down();
    }
}
