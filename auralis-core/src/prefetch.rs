//! Prefetch: a fixed pool of worker threads that render chunks into the cache ahead of need.
//!
//! Jobs wait in a priority queue: [`Priority::Ahead`] (the next chunks of the playing stream)
//! before [`Priority::Alternative`] (the same chunk in other presets), first in first out within
//! a priority. A job names its stream weakly: a dropped stream's jobs, or those queued before
//! [`Stream::cancel_prefetch`](crate::stream::Stream::cancel_prefetch), are dropped unrun.
//! Requests a caller waits for never enter this queue: they run on the caller's thread and,
//! while any runs, workers start no new job, so a waited-for request shares the CPU only with
//! jobs already running (at most one chunk's work per worker).

use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};

use crate::mastering::Preset;
use crate::stream::{Stream, StreamInner};

/// How urgent a prefetch job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Other settings of a chunk (a preset switch the listener may make).
    Alternative = 0,
    /// The next chunks of what is playing.
    Ahead = 1,
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

pub(crate) struct Job {
    pub(crate) priority: Priority,
    pub(crate) stream: Weak<StreamInner>,
    pub(crate) generation: u64,
    pub(crate) index: u64,
    pub(crate) mastering: Option<(Preset, f64)>,
}

struct Queued {
    job: Job,
    seq: u64,
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
        self.job
            .priority
            .cmp(&other.job.priority)
            .then(other.seq.cmp(&self.seq))
    }
}

struct State {
    heap: BinaryHeap<Queued>,
    seq: u64,
    foreground: usize,
    shut_down: bool,
}

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

    pub(crate) fn push(&self, job: Job) {
        let mut state = lock(&self.state);
        if state.shut_down {
            self.cancelled.fetch_add(1, Ordering::Relaxed);
            return;
        }
        state.seq += 1;
        let seq = state.seq;
        state.heap.push(Queued { job, seq });
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
            let job = {
                let mut state = lock(&self.state);
                loop {
                    if state.shut_down {
                        return;
                    }
                    if state.foreground == 0 {
                        if let Some(q) = state.heap.pop() {
                            break q.job;
                        }
                    }
                    state = self
                        .wake
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            };
            self.run(job);
        }
    }

    fn run(&self, job: Job) {
        let Some(inner) = job.stream.upgrade() else {
            self.cancelled.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let stream = Stream::from_inner(inner);
        if stream.generation() != job.generation {
            self.cancelled.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let result = match job.mastering {
            None => Ok(stream.clone()),
            Some((preset, intensity)) => stream.with_mastering(preset, intensity),
        }
        .and_then(|target| target.media_segment(job.index, None, false));
        let counter = if result.is_ok() {
            &self.completed
        } else {
            &self.failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(priority: Priority) -> Job {
        Job {
            priority,
            stream: Weak::new(),
            generation: 0,
            index: 0,
            mastering: None,
        }
    }

    #[test]
    fn ahead_jobs_run_before_alternatives_and_each_priority_in_order() {
        let mut heap = BinaryHeap::new();
        let order = [
            Priority::Alternative,
            Priority::Ahead,
            Priority::Alternative,
            Priority::Ahead,
        ];
        for (seq, p) in order.into_iter().enumerate() {
            heap.push(Queued {
                job: job(p),
                seq: seq as u64,
            });
        }
        let popped: Vec<(Priority, u64)> = std::iter::from_fn(|| heap.pop())
            .map(|q| (q.job.priority, q.seq))
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
    fn jobs_of_a_dropped_stream_are_cancelled_and_a_stopped_pool_takes_none() {
        let p = Prefetcher::start(0);
        p.push(job(Priority::Ahead));
        assert_eq!(p.stats().cancelled, 1);
        assert_eq!(p.stats().pending, 0);
        let p = Prefetcher::start(1);
        p.push(job(Priority::Ahead));
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while p.stats().cancelled == 0 && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(p.stats().cancelled, 1);
        p.shut_down();
    }
}
